"""Decode JSON bodies holding an array of row objects straight into typed Arrow columns.

A Redash result is one JSON object whose ``data.rows`` is a list of ``{name: value}`` dicts.
Parsing it into Python objects and then building columns costs two to three times the bare
parse. The fast path instead cuts the rows array out of the bytes and hands it to
``pyarrow.json`` as newline-delimited JSON: a file-like stream copies it chunk by chunk,
overwriting each row-separating comma with a newline (same length), while Arrow's threads
parse earlier chunks straight into typed columns. See docs/performance.md for the figures.

The fast path is only a shortcut. Whenever it cannot vouch for reading exactly what
``orjson.loads`` would (a parse error, a value of another JSON type than the column's, a key
not among the columns, a row count that differs from the separators found, a json column,
which Arrow cannot keep as text, a list or object in a ``string`` column, which makes it
json) it gives up, and the safe path (``orjson.loads``, then each column coerced by
:func:`thsources.coltypes.to_arrow_array`) answers. :data:`STATS` tells
which path ran and why. Both accept NaN and Infinity, as Arrow's parser does.

A separator is a comma after ``}`` and before ``{`` followed by ``"`` or ``}``, whitespace
allowed. Inside a string a raw ``"`` cannot follow ``{``, so string contents rarely match
(only ``}, {}`` inside a string, or ``}, {`` at its end); a wrong match, there or between the
objects of a nested array, turns a comma into a raw newline inside a string or takes a comma
out of an array, so the parse fails: it never silently changes the data.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import orjson

from .coltypes import CANONICAL_TYPES, ColumnType, arrow_type, to_arrow_array
from .errors import ProtocolError
from .result import Column, Result, ResultMeta, dedupe_names

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

__all__ = [
    "STATS",
    "DecodeStats",
    "decode_query_result",
    "decode_rows",
    "infer_type",
    "locate_array",
    "rows_to_table",
]

ColumnSpec = tuple[str, str | None]
"""A column to read: its name and canonical type, or ``None`` to infer it from the values."""

REDASH_ROWS_PATH: Final = ("query_result", "data", "rows")

_WS: Final = b" \t\n\r"
_MIN_FAST_BYTES: Final = 64 << 10  # below this, thread start-up costs more than it saves
_MIN_CHUNK: Final = 256 << 10
_MAX_CHUNK: Final = 4 << 20
_SAMPLE_WINDOW: Final = 64 << 10
_MAX_END_TRIES: Final = 64
_MAX_WS_RUN: Final = 32  # longer whitespace between rows is not looked for (safe path)


@dataclass
class DecodeStats:
    """How many decodes took each path, and why the last fallback happened."""

    fast: int = 0
    fallback: int = 0
    last_path: str = ""
    last_reason: str = ""
    reasons: dict[str, int] = field(default_factory=dict)

    def _record(self, path: str, reason: str = "") -> None:
        if path == "fast":
            self.fast += 1
        else:
            self.fallback += 1
            key = reason.split(":", 1)[0]
            self.reasons[key] = self.reasons.get(key, 0) + 1
        self.last_path = path
        self.last_reason = reason

    def reset(self) -> None:
        self.fast = self.fallback = 0
        self.last_path = self.last_reason = ""
        self.reasons.clear()


STATS: Final = DecodeStats()
"""Process-wide counters (tests and benchmarks read them to see which path ran)."""


class _Fallback(Exception):
    """The fast path cannot vouch for this input; the message says why."""


# -- public API -------------------------------------------------------------------------------


def decode_query_result(body: bytes, *, fast: bool = True) -> tuple[dict[str, Any], Result]:
    """Decode a Redash ``{"query_result": ...}`` body into its envelope and a typed Result.

    The envelope is the ``query_result`` object without ``data.rows`` (``data.columns`` stays).
    Column types come from Redash's ``type``; ``null`` (or unknown) types are inferred from
    the values (see :func:`infer_type`). Naive datetimes are UTC, offsets are converted.
    ``fast=False`` forces the safe path (same answer; for comparisons and benchmarks).
    """
    attempt = _try_fast(
        body,
        REDASH_ROWS_PATH,
        fast,
        lambda envelope: _redash_columns(envelope["query_result"]["data"]["columns"]),
        check=_has_redash_columns,
    )
    if attempt is not None:
        envelope, columns, table = attempt
        qr = envelope["query_result"]
        del qr["data"]["rows"]
        return qr, _result(table, columns, qr)
    doc = _loads(body)
    qr = doc.get("query_result") if isinstance(doc, dict) else None
    if not isinstance(qr, dict) or not isinstance(qr.get("data"), dict):
        keys = sorted(doc) if isinstance(doc, dict) else type(doc).__name__
        raise ProtocolError(f"expected a Redash query_result body, got {keys}")
    data = qr["data"]
    columns = _redash_columns(data.get("columns"))
    rows = data.get("rows")
    qr["data"] = {k: v for k, v in data.items() if k != "rows"}
    table = _table_from_rows(rows, columns)
    return qr, _result(table, columns, qr)


def decode_rows(
    body: bytes,
    path: Sequence[str],
    columns: Sequence[ColumnSpec],
    *,
    fast: bool = True,
) -> tuple[Any, pa.Table]:
    """Decode the array of row objects at ``path`` (keys from the top) into a typed table.

    For other sources' list formats, e.g. ActiveData's ``{"data": [{...}, ...]}`` with
    ``path=("data",)``. Returns the document without the rows (``None`` in their place) and
    the table; ``fast=False`` forces the safe path.
    """
    attempt = _try_fast(body, path, fast, lambda _: list(columns))
    if attempt is not None:
        return attempt[0], attempt[2]
    doc = _loads(body)
    node = doc
    for key in path[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or path[-1] not in node:
        raise ProtocolError(f"no {'.'.join(path)} in the JSON body")
    rows = node[path[-1]]
    node[path[-1]] = None
    return doc, _table_from_rows(rows, columns)


def _try_fast(
    body: bytes,
    path: Sequence[str],
    fast: bool,
    columns_of: Callable[[Any], list[ColumnSpec]],
    check: Callable[[Any], bool] | None = None,
) -> tuple[Any, list[ColumnSpec], pa.Table] | None:
    """The fast path over the rows array at ``path``: (envelope, columns, table), or None
    (with the reason recorded in ``STATS``) when the safe path must decide."""
    if not fast:
        STATS._record("fallback", "forced: fast=False")
        return None
    located = locate_array(body, path, check=check)
    if located is None:
        STATS._record("fallback", f"locate: no {'.'.join(path)} array found in the bytes")
        return None
    envelope, span = located
    columns = columns_of(envelope)
    try:
        table = _fast_table(body, span, columns)
    except _Fallback as exc:
        STATS._record("fallback", str(exc))
        return None
    STATS._record("fast")
    return envelope, columns, table


def rows_to_table(
    body: bytes,
    span: tuple[int, int],
    columns: Sequence[ColumnSpec],
) -> pa.Table:
    """Read ``body[span[0]:span[1]]``, a JSON array of row objects, into a typed table.

    Each output column has exactly ``coltypes.arrow_type`` of its canonical type (inferred
    ones resolved). Takes the fast path when it can, else parses the span with orjson.
    """
    try:
        table = _fast_table(body, span, columns)
    except _Fallback as exc:
        STATS._record("fallback", str(exc))
    else:
        STATS._record("fast")
        return table
    return _table_from_rows(_loads(memoryview(body)[span[0] : span[1]]), columns)


def locate_array(
    body: bytes,
    path: Sequence[str],
    check: Callable[[Any], bool] | None = None,
) -> tuple[Any, tuple[int, int]] | None:
    """Find the array of objects at ``path`` in ``body`` without parsing it: ``(document, span)``.

    The document is ``body`` parsed with the array replaced by ``null``; ``span`` is the
    ``[``...``]`` byte range. The closing ``]`` is searched from the end: a cut is accepted
    when the rest parses with ``null`` at ``path`` and ``check(document)`` holds. The rows in
    between are confirmed only when parsed: a later array of objects in the same object
    (``{"rows": [...], "x": [{...}]}``) can be taken for the end, which the row parse then
    rejects. ``None`` when no cut could be confirmed (then parse the whole body).
    """
    key = orjson.dumps(path[-1])
    match = re.search(re.escape(key) + rb"[ \t\n\r]*:[ \t\n\r]*\[", body)
    if match is None:
        return None
    start = match.end() - 1
    head = body[:start] + b"null"
    pos = len(body)
    for _ in range(_MAX_END_TRIES):
        end = body.rfind(b"]", start, pos)
        if end < 0:
            return None
        pos = end
        k = end - 1
        while k > start and body[k] in _WS:
            k -= 1
        if k != start and body[k] != 0x7D:  # an array of objects ends with "}"
            continue
        try:
            doc = orjson.loads(head + body[end + 1 :])
        except orjson.JSONDecodeError:
            continue
        node = doc
        for name in path[:-1]:
            node = node.get(name) if isinstance(node, dict) else None
        if not isinstance(node, dict) or path[-1] not in node or node[path[-1]] is not None:
            continue
        if check is not None and not check(doc):
            continue
        return doc, (start, end + 1)
    return None


def infer_type(values: Sequence[Any]) -> ColumnType:
    """The canonical type of a column Redash left untyped (``type: null``).

    All strings (MySQL TEXT, intervals such as ``"0:30:00"``) or all null give string; any
    list or dict gives json; ints give integer (json past int64), ints and floats float,
    bools boolean; a mix of kinds gives json, which keeps every value as it was.
    """
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("boolean")
        elif isinstance(v, int):
            kinds.add("integer" if -(2**63) <= v < 2**63 else "json")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, str):
            kinds.add("string")
        else:
            kinds.add("json")
    if not kinds:
        return "string"
    if len(kinds) == 1:
        return kinds.pop()  # type: ignore[return-value]
    if kinds == {"integer", "float"}:
        return "float"
    return "json"


# -- shared helpers ---------------------------------------------------------------------------


def _loads(data: bytes | memoryview) -> Any:
    """orjson, or Python's json for what only it accepts (NaN, Infinity), as the fast path does."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        try:
            return json.loads(bytes(data))
        except ValueError:
            raise ProtocolError(f"the body is not valid JSON: {exc}") from None


def _has_redash_columns(doc: Any) -> bool:
    data = doc.get("query_result", {}).get("data", {}) if isinstance(doc, dict) else {}
    return isinstance(data, dict) and isinstance(data.get("columns"), list)


def _redash_columns(raw: Any) -> list[ColumnSpec]:
    if not isinstance(raw, list):
        raise ProtocolError(f"data.columns should be a list, got {type(raw).__name__}")
    out: list[ColumnSpec] = []
    for col in raw:
        if not isinstance(col, dict) or not isinstance(col.get("name"), str):
            raise ProtocolError(f"a column should be {{'name': ..., 'type': ...}}, got {col!r}")
        ctype = col.get("type")
        out.append((col["name"], ctype if ctype in CANONICAL_TYPES else None))
    return out


def _result(table: pa.Table, columns: Sequence[ColumnSpec], qr: Mapping[str, Any]) -> Result:
    from .coltypes import canonical_from_arrow

    names = dedupe_names([n for n, _ in columns])
    if names != table.column_names:
        table = table.rename_columns(names)
    cols = [
        Column(n, canonical_from_arrow(t)) for n, t in zip(names, table.schema.types, strict=True)
    ]
    return Result(cols, table, _meta(qr))


def _meta(qr: Mapping[str, Any]) -> ResultMeta:
    retrieved: dt.datetime | None = None
    raw = qr.get("retrieved_at")
    if isinstance(raw, str):
        try:
            parsed = dt.datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            naive = parsed.tzinfo is None
            retrieved = parsed.replace(tzinfo=dt.UTC) if naive else parsed.astimezone(dt.UTC)
    runtime = qr.get("runtime")
    extra = {k: qr[k] for k in ("query_hash", "data_source_id") if k in qr}
    return ResultMeta(
        source="redash",
        query=qr.get("query") if isinstance(qr.get("query"), str) else None,
        result_id=qr.get("id"),
        runtime_s=float(runtime) if isinstance(runtime, int | float) else None,
        retrieved_at=retrieved,
        extra=extra,
    )


# -- safe path --------------------------------------------------------------------------------


def _table_from_rows(rows: Any, columns: Sequence[ColumnSpec]) -> pa.Table:
    """The reference semantics: pick each column out of the row dicts, coerce it.

    Typed columns are first picked out all at once by Arrow's converter (``pa.array`` of the
    dicts as structs, in C++), which means the same as the per-column path where it succeeds
    and refuses otherwise; untyped and integer columns, and everything after a refusal, go
    per column.
    """
    import pyarrow as pa

    if not isinstance(rows, list):
        raise ProtocolError(f"rows should be a list, got {type(rows).__name__}")
    for row in rows:
        if not isinstance(row, dict):
            raise ProtocolError(f"rows should be objects, got {type(row).__name__}")
    names = [n for n, _ in columns]
    picked: dict[str, Any] = {}
    # Integer columns are left out: Arrow's struct converter truncates 1.5 to 1 silently,
    # where the per-column conversion refuses it.
    typed = [(n, t) for n, t in columns if t not in (None, "json", "integer")]
    if typed and len(set(names)) == len(names):
        try:
            struct_type = pa.struct([pa.field(n, _parse_type(t)) for n, t in typed])
            structs = pa.array(rows, type=struct_type)
        except (ValueError, TypeError, OverflowError, pa.ArrowException):
            pass  # decided per column below
        else:
            picked = {n: structs.field(k) for k, (n, _) in enumerate(typed)}
    arrays = []
    for name, ctype in columns:
        target: str
        if name in picked and ctype is not None:
            values: Any = picked[name]
            target = ctype
        else:
            values = [row.get(name) for row in rows]
            target = ctype or infer_type(values)
            if target == "string" and any(isinstance(v, list | dict) for v in values):
                values, target = _as_json_texts(values), "json"
        try:
            arrays.append(_coerce(values, target))
        except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
            raise ProtocolError(
                f"column {name!r}: cannot read the values as {target}: {exc}"
            ) from None
    try:
        return pa.Table.from_arrays(arrays, names=names)
    except ValueError as exc:  # a column name Arrow cannot hold (a lone surrogate)
        raise ProtocolError(f"bad column names: {exc}") from None


def _as_json_texts(values: list[Any]) -> list[str | None]:
    """A ``string`` column holding lists or objects, as JSON texts for a json column.

    Redash's PostgreSQL runner types ``text[]``, ``varchar[]``, ``uuid[]`` and friends as
    ``string`` while sending JSON lists; ``str()`` would turn them into Python reprs
    (``"['a', 'b']"``). Such a column is json, each value kept as JSON: a list stays a list,
    a string stays that string (quoted, so that ``"1"`` never becomes the number 1).
    """
    return [None if v is None else _json_text(v) for v in values]


def _json_text(value: Any) -> str:
    try:
        return orjson.dumps(value).decode()
    except orjson.JSONEncodeError:
        # An integer past 64 bits, kept whole by Python's json (the safe path after a NaN);
        # orjson cannot write it.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _coerce(values: Any, ctype: str) -> Any:
    """``to_arrow_array``, after trying Arrow's own conversion where it means the same.

    For float, boolean and string columns ``pa.array`` either converts exactly as
    ``to_arrow_array`` would or refuses (a str among floats, an int among bools), and it is
    several times faster than the per-value Python coercion.
    """
    import pyarrow as pa

    if isinstance(values, list) and ctype in ("float", "boolean", "string"):
        try:
            return pa.array(values, type=arrow_type(ctype))
        except (ValueError, TypeError, OverflowError, pa.ArrowException):
            pass  # to_arrow_array coerces, or raises the error worth showing
    return to_arrow_array(values, ctype)


# -- fast path --------------------------------------------------------------------------------


def _fast_table(body: bytes, span: tuple[int, int], columns: Sequence[ColumnSpec]) -> pa.Table:
    import numpy as np
    import pyarrow as pa

    names = [n for n, _ in columns]
    if len(set(names)) != len(names):
        raise _Fallback("columns: duplicate names")
    start, end = span
    if not (0 <= start < end <= len(body)) or body[start] != 0x5B or body[end - 1] != 0x5D:
        raise _Fallback("span: not a [...] range")
    i, j = start + 1, end - 1
    while i < j and body[i] in _WS:
        i += 1
    while j > i and body[j - 1] in _WS:
        j -= 1
    if i == j:
        return pa.Table.from_arrays(
            [pa.array([], type=arrow_type(t or "string")) for _, t in columns], names=names
        )
    if body[i] != 0x7B or body[j - 1] != 0x7D:
        raise _Fallback("rows: not an array of objects")
    if j - i < _MIN_FAST_BYTES:
        raise _Fallback(f"small: {j - i} bytes of rows")

    view = np.frombuffer(body, dtype=np.uint8)
    guesses = _guess_untyped(body, view, i, j, columns)
    schema = pa.schema([pa.field(n, _parse_type(t or guesses[n])) for n, t in columns])
    chunk = min(_MAX_CHUNK, max(_MIN_CHUNK, (j - i) // (4 * pa.cpu_count()) + 1))
    stream = _NDJSONStream(body, view, i, j, chunk)
    table = _read_ndjson(stream, schema, chunk)
    return _checked_table(table, stream.separators, stream.ascii, columns, names)


def _read_ndjson(stream: Any, schema: pa.Schema, chunk: int) -> pa.Table:
    """Arrow's threaded JSON reader over ``stream`` (newline-delimited rows), strictly typed."""
    import pyarrow as pa
    import pyarrow.json as pj

    try:
        return pj.read_json(
            stream,
            read_options=pj.ReadOptions(use_threads=True, block_size=chunk),
            parse_options=pj.ParseOptions(
                explicit_schema=schema,
                newlines_in_values=False,
                unexpected_field_behavior="error",
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise _Fallback(f"parse: {exc}") from None


def _checked_table(
    table: pa.Table,
    separators: int,
    ascii_only: bool,
    columns: Sequence[ColumnSpec],
    names: list[str],
) -> pa.Table:
    """The parsed table, checked (row count, UTF-8) and coerced to the canonical types."""
    import pyarrow as pa

    nrows = separators + 1
    if table.num_rows != nrows:
        raise _Fallback(f"count: parsed {table.num_rows} rows but found {nrows}")

    arrays = []
    for (name, ctype), col in zip(columns, table.columns, strict=True):
        if not ascii_only and pa.types.is_string(col.type):
            try:
                col.validate(full=True)  # Arrow's JSON reader does not check UTF-8; orjson does
            except pa.ArrowInvalid as exc:
                raise _Fallback(f"utf8: column {name!r}: {exc}") from None
        target = ctype
        if target is None:
            target = "string" if col.null_count == len(col) else _canonical(col.type)
        try:
            arrays.append(_coerce(col, target))
        except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
            raise _Fallback(f"coerce: column {name!r} as {target}: {exc}") from None
    return pa.Table.from_arrays(arrays, names=names)


def _parse_type(ctype: str) -> pa.DataType:
    """What pyarrow.json should read a column as: JSON's own type, strictly."""
    import pyarrow as pa

    if ctype == "json":
        raise _Fallback("json column: Arrow cannot keep raw JSON text")
    if ctype in ("string", "datetime", "date"):
        return pa.string()
    return arrow_type(ctype)


def _canonical(t: pa.DataType) -> ColumnType:
    import pyarrow as pa

    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        return "integer"
    if pa.types.is_floating(t):
        return "float"
    return "string"


class _NDJSONStream:
    """A read-only file over ``body[i:j]`` in which row-separating commas read as newlines.

    pyarrow.json pulls chunks from an I/O thread while its CPU threads parse earlier ones, so
    finding separators and copying overlap with parsing. Each chunk is a fresh copy of at
    most a few MB (cache-warm, no page faults for a body-sized buffer) and ends on a row
    boundary, so no row straddles two blocks whatever its length.
    """

    closed = False

    def __init__(
        self, body: bytes, view: npt.NDArray[np.uint8], i: int, j: int, chunk: int
    ) -> None:
        self._body = memoryview(body)
        self._view = view
        self._pos = i
        self._end = j
        self._chunk = chunk
        self.separators = 0
        self.ascii = True  # then no string can hold invalid UTF-8

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    def read(self, size: int = -1) -> bytearray:
        import numpy as np

        pos, end = self._pos, self._end
        if pos >= end:
            return bytearray()
        hi = min(pos + self._chunk, end)
        while True:
            commas = _row_separators(self._view, pos, hi, end)
            if hi >= end or len(commas):
                break
            hi = min(hi + self._chunk, end)  # a row longer than a chunk: extend
        stop = end if hi >= end else int(commas[-1]) + 1
        out = bytearray(self._body[pos:stop])
        np.frombuffer(out, dtype=np.uint8)[commas - pos] = 0x0A
        self.separators += len(commas)
        if self.ascii and not out.isascii():
            self.ascii = False
        self._pos = stop
        return out


def _row_separators(
    view: npt.NDArray[np.uint8], lo: int, hi: int, limit: int
) -> npt.NDArray[np.intp]:
    """Positions in ``[lo, hi)`` of the commas between top-level row objects.

    A comma counts when it follows ``}`` and is followed by ws* ``{`` ws* (``"`` or ``}``);
    ``limit`` bounds the look-ahead. Whitespace runs are followed a bounded number of steps
    (a pretty-printed body may then fall back).
    """
    import numpy as np

    first = max(lo - 1, 0)
    braces = np.flatnonzero(view[first : hi - 1] == 0x7D)
    braces += first
    braces = braces[braces + 3 < limit]
    commas = braces[view[braces + 1] == 0x2C]
    commas += 1
    pos = _skip_ws(view, commas + 1, limit)
    ok = view[pos] == 0x7B
    commas, pos = commas[ok], pos[ok]
    pos = _skip_ws(view, pos + 1, limit)
    after = view[pos]
    return commas[(after == 0x22) | (after == 0x7D)]


def _skip_ws(
    view: npt.NDArray[np.uint8], pos: npt.NDArray[np.int64], limit: int
) -> npt.NDArray[np.int64]:
    import numpy as np

    pos = np.minimum(pos, limit - 1)
    for _ in range(_MAX_WS_RUN):
        ch = view[pos]
        moving = (ch == 0x20) | (ch == 0x0A) | (ch == 0x0D) | (ch == 0x09)
        if not moving.any():
            break
        pos = np.minimum(pos + moving, limit - 1)
    return pos


def _guess_untyped(
    body: bytes,
    view: npt.NDArray[np.uint8],
    i: int,
    j: int,
    columns: Sequence[ColumnSpec],
) -> dict[str, str]:
    """Guess the JSON type of untyped columns from the first and last rows.

    Only a guess: a later value of another type makes the parse fail and the safe path infers.
    """
    untyped = [n for n, t in columns if t is None]
    if not untyped:
        return {}
    window = _SAMPLE_WINDOW
    while True:
        head = _row_separators(view, i, min(i + window, j), j)
        tail = _row_separators(view, max(i, j - window), j, j)
        if (len(head) and len(tail)) or window >= j - i:
            break
        window *= 4
    first_end = int(head[0]) if len(head) else j
    last_start = int(tail[-1]) + 1 if len(tail) else i
    samples = []
    for a, b in ((i, first_end), (last_start, j)):
        try:
            row = orjson.loads(memoryview(body)[a:b])
        except orjson.JSONDecodeError:
            raise _Fallback("sample: first or last row is not valid JSON") from None
        if not isinstance(row, dict):
            raise _Fallback("sample: rows are not objects")
        samples.append(row)
    guesses: dict[str, str] = {}
    for name in untyped:
        guess = infer_type([row.get(name) for row in samples])
        if guess == "json":
            raise _Fallback(f"json column: {name!r} holds lists, objects or mixed values")
        guesses[name] = guess
    return guesses
