"""DuckDB result sets shaped and serialised the way Redash's PostgreSQL runner stores them.

Column types follow the runner's ``types_map`` (anything it does not know is ``null``) and values
follow Redash's ``JSONEncoder``: datetimes truncated to milliseconds (``Z`` for UTC, no offset for
naive ones), decimals as floats, intervals as ``str(timedelta)``, bytes as hex, NaN as null.
Rows are serialised once with orjson when the job finishes, so large results cost one pass.
"""

from __future__ import annotations

import binascii
import csv
import datetime as dt
import decimal
import io
import json
import math
import uuid
from collections.abc import Sequence
from typing import Any, Final

import orjson

__all__ = [
    "Column",
    "columns_from_description",
    "data_to_dsv",
    "encode_rows",
    "fetch_columns",
    "redash_type",
]

Column = dict[str, Any]

_INTEGER_TYPES: Final = frozenset(
    {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT"}
    | {"UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT", "UHUGEINT"}
)
_FLOAT_TYPES: Final = frozenset(("FLOAT", "DOUBLE", "REAL"))
_DATETIME_TYPES: Final = frozenset(
    ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP WITH TIME ZONE")
)
# psycopg2 hands text arrays over as lists, and the runner maps text[]/varchar[] to "string".
_STRING_TYPES: Final = frozenset(("VARCHAR", "VARCHAR[]"))


def redash_type(duckdb_type: str) -> str | None:
    """The Redash column type the PostgreSQL runner would report for a DuckDB result type."""
    name = duckdb_type.upper()
    if name in _INTEGER_TYPES:
        return "integer"
    if name in _FLOAT_TYPES or name.startswith("DECIMAL"):
        return "float"
    if name == "BOOLEAN":
        return "boolean"
    if name in _STRING_TYPES:
        return "string"
    if name == "DATE":
        return "date"
    if name in _DATETIME_TYPES:
        return "datetime"
    return None


def columns_from_description(description: Sequence[Sequence[Any]]) -> list[Column]:
    """Redash columns from a DuckDB cursor's description (see :func:`fetch_columns`)."""
    return fetch_columns([(str(item[0]), redash_type(str(item[1]))) for item in description])


def fetch_columns(columns: Sequence[tuple[str, str | None]]) -> list[Column]:
    """``BaseQueryRunner.fetch_columns``: (name, type) pairs as Redash columns.

    A repeated name gets the next number of its own counter (``a``, ``a1``, ``a2``), skipping
    numbered names already taken, as Redash has done since 23.09.
    """
    taken: set[str] = set()
    counters: dict[str, int] = {}
    out: list[Column] = []
    for name, ctype in columns:
        unique = name
        while unique in taken:
            counters[name] = counters.get(name, 0) + 1
            unique = f"{name}{counters[name]}"
        taken.add(unique)
        out.append({"name": unique, "friendly_name": unique, "type": ctype})
    return out


def _iso_datetime(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    text = value.isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    return text


def _default(value: Any) -> Any:
    """Redash's JSONEncoder for what orjson does not (or, for datetimes, must not) encode."""
    if isinstance(value, dt.datetime):
        return _iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        text = value.isoformat()
        return text[:12] if value.microsecond else text
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.timedelta | uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return binascii.hexlify(value).decode()
    if isinstance(value, set | frozenset):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


_OPTIONS: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS


def _stdlib_default(value: Any) -> Any:
    if isinstance(value, orjson.Fragment):
        return json.loads(value.contents)
    return _default(value)


def _sanitize(value: Any) -> Any:
    """NaN and infinities become None (Redash's ``_sanitize_data``), for the stdlib path."""
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, dict):
        return {k: _sanitize(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sanitize(v) for v in value]
    return value


def encode_rows(
    columns: list[Column], rows: Sequence[Sequence[Any]], json_columns: set[int]
) -> bytes:
    """The ``data`` object (``{"columns": [...], "rows": [{...}]}``) as JSON bytes.

    ``json_columns`` are indexes of JSON-typed columns whose values arrive as JSON text and are
    embedded as parsed objects, as psycopg2 would return them.
    """
    names = [c["name"] for c in columns]
    if json_columns:
        fixed: list[Sequence[Any]] = []
        for row in rows:
            values = list(row)
            for i in json_columns:
                if isinstance(values[i], str):
                    values[i] = orjson.Fragment(values[i])
            fixed.append(values)
        rows = fixed
    data = {"columns": columns, "rows": [dict(zip(names, row, strict=False)) for row in rows]}
    try:
        return orjson.dumps(data, default=_default, option=_OPTIONS)
    except TypeError:
        # Integers past 64 bits (DuckDB HUGEINT) are beyond orjson; the stdlib copes.
        text = json.dumps(_sanitize(data), default=_stdlib_default, ensure_ascii=False)
        return text.encode()


def _convert_datetime(value: Any, fmt: str) -> Any:
    if not value:
        return value
    try:
        return dt.datetime.fromisoformat(str(value)).strftime(fmt)
    except ValueError:
        return value


def data_to_dsv(data: dict[str, Any], delimiter: str) -> str:
    """CSV/TSV as Redash writes it: lossy (dates in the org's DD/MM/YY format, booleans lower)."""
    columns = data.get("columns") or []
    fieldnames = [c["name"] for c in columns]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=fieldnames, extrasaction="ignore", delimiter=delimiter)
    writer.writeheader()
    for row in data.get("rows", []):
        row = dict(row)
        for column in columns:
            name, ctype = column["name"], column["type"]
            if name not in row:
                continue
            if ctype == "boolean" and isinstance(row[name], bool):
                row[name] = "true" if row[name] else "false"
            elif ctype == "date":
                row[name] = _convert_datetime(row[name], "%d/%m/%y")
            elif ctype == "datetime":
                row[name] = _convert_datetime(row[name], "%d/%m/%y %H:%M")
        writer.writerow(row)
    return out.getvalue()
