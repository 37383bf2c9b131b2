"""Writing a Result as a table, CSV, JSON, JSON lines or Parquet, atomically where it can.

A regular file (or a new path) is written to a temporary file beside it and renamed into
place only when complete, so a failed query or an interrupted write never leaves a partial
file; the new file gets the mode the umask gives, a replaced one keeps its mode. A symlink is
followed, so the link stays and its target is replaced. Devices, FIFOs and sockets are not
files to replace: they are written to directly, as a shell's ``>`` would.
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import socket
import stat
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any, Final

import orjson

from .errors import ConfigError
from .result import Result

__all__ = [
    "FORMATS",
    "STDOUT",
    "TABLE_MAX_ROWS_TTY",
    "check_writable",
    "format_for_path",
    "render",
    "write_result",
    "write_tagged_jsonl",
]

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
"""Rows a table shows on a terminal; the rest are counted in a footer line."""
STDOUT: Final = "-"
"""The ``-o`` path that means standard output."""
TABLE_FLOAT_DIGITS: Final = 6
"""Significant digits of floats in the table view (other formats keep full precision)."""


def format_for_path(path: Path | None, explicit: str | None) -> str:
    """The output format: the one asked for, else the file's suffix, else a table.

    A path without a suffix (``/dev/stdout``, a FIFO) gets a table, as standard output does;
    a suffix naming no format we write is refused rather than guessed.
    """
    if explicit:
        return explicit
    if path is None or str(path) == STDOUT or not path.suffix:
        return "table"
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(_SUFFIXES))
        raise ConfigError(
            f"cannot tell what to write to {path}: {path.suffix!r} is not a suffix thsources "
            f"writes ({known}); pass --format {'|'.join(FORMATS)}"
        )
    return fmt


def _stream_target(path: Path) -> bool:
    """Whether ``path`` is a device, FIFO or socket (or a /proc/self/fd link): written to in
    place, never replaced."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return False
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode) or stat.S_ISBLK(mode):
        return True
    return _through_proc_fd(path)


def _through_proc_fd(path: Path) -> bool:
    """Whether a symlink chain from ``path`` passes through /proc (``/dev/stdout``,
    ``/dev/fd/1``): what it ends at is a descriptor someone opened, perhaps to append to a
    log, so it is written through, never replaced."""
    hop = path
    for _ in range(40):  # the kernel's own limit on symlink hops
        if os.path.realpath(hop.parent).startswith("/proc/"):
            return True
        if not hop.is_symlink():
            return False
        hop = hop.parent / os.readlink(hop)
    return False


def _replace_target(path: Path) -> Path:
    """The regular file a write to ``path`` replaces: a symlink's final target."""
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def check_writable(path: Path) -> None:
    """Fail before running a query if its output could not be written."""
    path = path.expanduser()
    if str(path) == STDOUT:
        return
    if path.is_dir():
        raise ConfigError(f"cannot write output to {path}: it is a directory; name a file")
    try:
        stream = _stream_target(path)
    except OSError as exc:  # a symlink loop, a path through a regular file
        raise ConfigError(f"cannot write output to {path}: {exc.strerror or exc}") from None
    if stream:
        if not os.access(path, os.W_OK):
            raise ConfigError(
                f"cannot write output to {path}: permission denied; choose a writable path"
            )
        return
    target = _replace_target(path)
    parent = target.parent
    if not parent.is_dir():
        raise ConfigError(
            f"cannot write output to {path}: the directory {parent} does not exist; create it first"
        )
    if not os.access(parent, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
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


def _dumps(record: Any) -> bytes:
    """JSON with times as ISO 8601 in UTC written with ``Z`` (orjson writes dates natively)."""
    return orjson.dumps(record, option=orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC)


def _cell(value: Any) -> str:
    """A value as a person reads it in a table: floats to six significant digits."""
    if isinstance(value, float):
        return f"{value:.{TABLE_FLOAT_DIGITS}g}"
    return _text(value)


def render_table(result: Result, max_rows: int | None = None) -> str:
    """A plain aligned text table; ``max_rows`` cuts long results with a footer line."""
    names = result.column_names
    rows = result.rows()
    shown = rows if max_rows is None else rows[:max_rows]
    cells = [[_cell(v) for v in row] for row in shown]
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
        stream.write(_dumps(result.records()))
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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _atomic(path: Path) -> Iterator[IO[bytes]]:
    """A stream whose bytes replace ``path`` only once it is closed without error."""
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as stream:
            yield stream
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _direct(path: Path) -> Iterator[IO[bytes]]:
    """A stream on a device, FIFO or socket, which has nothing to replace."""
    if stat.S_ISSOCK(os.stat(path).st_mode):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.connect(str(path))
            with sock.makefile("wb") as stream:
                yield stream
        return
    # Append, never truncate: through /dev/stdout a regular file may be someone's `>> log`.
    with open(path, "ab") as stream:
        yield stream


def _opened(path: Path) -> contextlib.AbstractContextManager[IO[bytes]]:
    path = path.expanduser()
    if _stream_target(path):
        return _direct(path)
    return _atomic(_replace_target(path))


def write_result(
    result: Result,
    fmt: str,
    path: Path | None = None,
    stream: IO[bytes] | None = None,
    table_max_rows: int | None = None,
) -> None:
    """Write ``result`` in ``fmt`` to ``path`` (atomically if it is a file) or to ``stream``."""
    if path is not None and str(path) != STDOUT:
        try:
            with _opened(path) as out:
                _write(result, fmt, out, None)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise ConfigError(f"cannot write output to {path}: {exc.strerror or exc}") from None
        return
    assert stream is not None
    _write(result, fmt, stream, table_max_rows)
    stream.flush()


def render(result: Result, fmt: str = "table", table_max_rows: int | None = None) -> str:
    """``result`` as text in one of the text formats."""
    buf = io.BytesIO()
    _write(result, fmt, buf, table_max_rows)
    return buf.getvalue().decode()


def write_tagged_jsonl(
    answers: Iterable[tuple[str, Result]],
    path: Path | None = None,
    stream: IO[bytes] | None = None,
) -> None:
    """Results as JSON lines ``{"query": tag, "record": {...}}``, so that several results can
    share one file or stream and still be told apart (``thsources run A B --format jsonl``).
    A file is replaced atomically, as :func:`write_result` does."""

    def write(out: IO[bytes]) -> None:
        for tag, result in answers:
            for record in result.records():
                out.write(_dumps({"query": tag, "record": record}))
                out.write(b"\n")

    if path is not None and str(path) != STDOUT:
        try:
            with _opened(path) as out:
                write(out)
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise ConfigError(f"cannot write output to {path}: {exc.strerror or exc}") from None
        return
    assert stream is not None
    write(stream)
    stream.flush()
