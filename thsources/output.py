"""Writing a Result as a table, CSV, JSON, JSON lines or Parquet, atomically.

Output files are written to a temporary file beside the target and renamed into place only
when complete, so a failed query or an interrupted write never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, Final

import orjson

from .errors import ConfigError
from .result import Result

__all__ = ["FORMATS", "check_writable", "format_for_path", "render", "write_result"]

FORMATS: Final = ("table", "csv", "json", "jsonl", "parquet")
_SUFFIXES: Final = {
    ".csv": "csv",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".parquet": "parquet",
    ".txt": "table",
}
TABLE_MAX_ROWS_TTY: Final = 100


def format_for_path(path: Path | None, explicit: str | None) -> str:
    """The output format: the one asked for, else the file's suffix, else a table."""
    if explicit:
        return explicit
    if path is not None:
        return _SUFFIXES.get(path.suffix.lower(), "csv")
    return "table"


def check_writable(path: Path) -> None:
    """Fail before running a query if its output could not be written."""
    parent = path.expanduser().resolve().parent
    if path.is_dir():
        raise ConfigError(f"cannot write output to {path}: it is a directory; name a file")
    if not parent.is_dir():
        raise ConfigError(
            f"cannot write output to {path}: the directory {parent} does not exist; create it first"
        )
    if not os.access(parent, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ConfigError(
            f"cannot write output to {path}: permission denied; choose a writable path"
        )


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _dumps(record: dict[str, Any]) -> bytes:
    return orjson.dumps(
        record, default=_json_default, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
    )


def render_table(result: Result, max_rows: int | None = None) -> str:
    """A plain aligned text table; ``max_rows`` cuts long results with a footer line."""
    names = result.column_names
    rows = result.rows()
    shown = rows if max_rows is None else rows[:max_rows]
    cells = [[_text(v) for v in row] for row in shown]
    widths = [len(n) for n in names]
    for row in cells:
        for i, cell in enumerate(row):
            widths[i] = max(widths[i], len(cell))
    numeric = [c.type in ("integer", "float") for c in result.columns]

    def line(values: list[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    out = [line(names), "  ".join("-" * w for w in widths)]
    out.extend(line(row) for row in cells)
    if len(shown) < len(rows):
        out.append(
            f"... {len(rows) - len(shown)} more rows ({len(rows)} in all; "
            "use --format csv or -o FILE for every row)"
        )
    else:
        out.append(f"({len(rows)} row{'s' if len(rows) != 1 else ''})")
    return "\n".join(out) + "\n"


def _write(result: Result, fmt: str, stream: IO[bytes], table_max_rows: int | None) -> None:
    if fmt == "table":
        stream.write(render_table(result, table_max_rows).encode())
    elif fmt == "csv":
        text = io.StringIO(newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(result.column_names)
        for row in result.rows():
            writer.writerow([_text(v) for v in row])
        stream.write(text.getvalue().encode())
    elif fmt == "json":
        stream.write(
            orjson.dumps(
                result.records(),
                default=_json_default,
                option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC,
            )
        )
        stream.write(b"\n")
    elif fmt == "jsonl":
        for record in result.records():
            stream.write(_dumps(record))
            stream.write(b"\n")
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = result.to_arrow()
        # Store json columns as their text: every Parquet reader can read a string.
        arrays = [
            a.cast(pa.string()) if c.type == "json" else a
            for c, a in zip(result.columns, table.columns, strict=True)
        ]
        pq.write_table(pa.Table.from_arrays(arrays, names=result.column_names), stream)
    else:
        raise ConfigError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}")


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    path = path.expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_result(
    result: Result,
    fmt: str,
    path: Path | None = None,
    stream: IO[bytes] | None = None,
    table_max_rows: int | None = None,
) -> None:
    """Write ``result`` in ``fmt`` to ``path`` (atomically) or to ``stream``."""
    if path is not None:
        with _atomic(path) as out:
            _write(result, fmt, out, None)
        return
    assert stream is not None
    _write(result, fmt, stream, table_max_rows)
    stream.flush()


def render(result: Result, fmt: str = "table") -> str:
    """``result`` as text in one of the text formats."""
    buf = io.BytesIO()
    _write(result, fmt, buf, None)
    return buf.getvalue().decode()
