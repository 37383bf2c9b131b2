"""The Redash emulator's BigQuery data source: its schema and results as Redash's BigQuery
runner gives them.

The runner (``redash/query_runner/big_query.py``, ``get_schema``) reads each dataset's
``INFORMATION_SCHEMA.COLUMN_FIELD_PATHS``: one entry per table, named ``dataset.table``
(no project), with one column per field path (a RECORD column and each of its fields, as
``build``, ``build.target``, ``build.target.channel``), typed in BigQuery's names
(``STRING``, ``INT64``, ``STRUCT<channel STRING, ...>``), with the field's description.
Redash then sorts tables and columns by name. Here the datasets are the DuckDB schemas of
the served file (``main`` and DuckDB's own left out); the SQL is translated by
:mod:`thsources.local.bqdialect`.

Results (``_get_query_result``): the runner reads BigQuery's REST rows, where every value is
text (a TIMESTAMP is epoch seconds, ``"1.7930496E9"``), a RECORD is ``{"f": [{"v": ...}]}``
and an ARRAY ``[{"v": ...}]``; ``transform_row`` turns only INTEGER, FLOAT, BOOLEAN and
TIMESTAMP (to a naive datetime, the server's local time: UTC) into values, each element of a
REPEATED field too, and leaves the rest as the API wrote it (a DATE its text, a NUMERIC its
digits, a RECORD its raw ``f``/``v`` object). Column types come from ``types_map`` on the
field's REST type ("string" for the rest, and for every REPEATED field).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from collections.abc import Callable, Sequence
from typing import Any, Final

import duckdb

from thsources.testing.redash_results import encode_rows

__all__ = [
    "TYPES_MAP",
    "UnanswerableResult",
    "bigquery_type",
    "rest_field",
    "rest_value",
    "result_data",
    "schema",
    "transform_cell",
]

_SCALARS: Final = {
    "VARCHAR": "STRING",
    "BIGINT": "INT64",
    "INTEGER": "INT64",
    "SMALLINT": "INT64",
    "TINYINT": "INT64",
    "HUGEINT": "INT64",
    "DOUBLE": "FLOAT64",
    "FLOAT": "FLOAT64",
    "BOOLEAN": "BOOL",
    "DATE": "DATE",
    "TIMESTAMP": "TIMESTAMP",
    "TIMESTAMP WITH TIME ZONE": "TIMESTAMP",
    "BLOB": "BYTES",
    "JSON": "JSON",
}


def bigquery_type(dtype: Any) -> str:
    """BigQuery's name for a DuckDB type (a ``DuckDBPyType``)."""
    if dtype.id == "struct":
        return "STRUCT<" + ", ".join(f"{n} {bigquery_type(t)}" for n, t in dtype.children) + ">"
    if dtype.id == "list":
        return f"ARRAY<{bigquery_type(dtype.child)}>"
    text = str(dtype).upper()
    if text.startswith("DECIMAL"):
        return "NUMERIC"
    return _SCALARS.get(text, text)


def _paths(prefix: str, dtype: Any) -> list[tuple[str, str]]:
    out = [(prefix, bigquery_type(dtype))]
    inner = dtype.child if dtype.id == "list" else dtype
    if inner.id == "struct":
        for name, child in inner.children:
            out += _paths(f"{prefix}.{name}", child)
    return out


def schema(path: str) -> list[dict[str, Any]]:
    """``DataSource.get_schema`` of a BigQuery data source served from the DuckDB ``path``."""
    connection = duckdb.connect(":memory:")
    try:
        escaped = path.replace("'", "''")
        connection.execute(f"ATTACH '{escaped}' AS db (READ_ONLY)")
        tables = connection.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = 'db' "
            "AND schema_name <> 'main' UNION ALL "
            "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = 'db' "
            "AND schema_name <> 'main' AND NOT internal"
        ).fetchall()
        out: list[dict[str, Any]] = []
        for dataset, table in tables:
            relation = connection.table(f'db."{dataset}"."{table}"')
            columns: list[dict[str, Any]] = []
            for name, dtype in zip(relation.columns, relation.dtypes, strict=True):
                columns += [
                    {"name": field, "type": kind, "description": None}
                    for field, kind in _paths(name, dtype)
                ]
            out.append({"name": f"{dataset}.{table}", "columns": columns})
    finally:
        connection.close()
    return [
        {**t, "columns": sorted(t["columns"], key=lambda c: c["name"])}
        for t in sorted(out, key=lambda t: str(t["name"]))
    ]


# --------------------------------------------------------------------------------- results

#: ``types_map`` of the BigQuery runner: the REST API's field type -> Redash column type.
#: Any other type (NUMERIC, RECORD, TIME, BYTES, JSON...) and every REPEATED field is "string".
TYPES_MAP: Final[dict[str, str]] = {
    "INTEGER": "integer",
    "FLOAT": "float",
    "BOOLEAN": "boolean",
    "STRING": "string",
    "TIMESTAMP": "datetime",
    "DATETIME": "datetime",
    "DATE": "date",
}

# DuckDB type id -> the field type BigQuery's REST API gives a column of that BigQuery type
# (the API keeps legacy names: INTEGER, FLOAT, BOOLEAN, RECORD). A DuckDB TIMESTAMP stands for
# BigQuery's TIMESTAMP: the served tables have no DATETIME, and bqdialect refuses that type.
_REST_TYPES: Final = {
    "tinyint": "INTEGER",
    "smallint": "INTEGER",
    "integer": "INTEGER",
    "bigint": "INTEGER",
    "hugeint": "INTEGER",
    "utinyint": "INTEGER",
    "usmallint": "INTEGER",
    "uinteger": "INTEGER",
    "null": "INTEGER",  # BigQuery types a bare NULL as INT64
    "double": "FLOAT",
    "float": "FLOAT",
    "boolean": "BOOLEAN",
    "varchar": "STRING",
    "date": "DATE",
    "timestamp": "TIMESTAMP",
    "timestamp with time zone": "TIMESTAMP",
    "decimal": "NUMERIC",
    "time": "TIME",
    "blob": "BYTES",
    "struct": "RECORD",
}


class UnanswerableResult(Exception):
    """A result column of a DuckDB type BigQuery has no counterpart for here."""


def rest_field(name: str, dtype: Any) -> dict[str, Any]:
    """The REST API's schema field for a result column of DuckDB type ``dtype``."""
    mode = "NULLABLE"
    if dtype.id == "list":
        mode, dtype = "REPEATED", dtype.child
        if dtype.id == "list":
            raise UnanswerableResult(
                f"Cannot return an array of arrays (column {name}): BigQuery has no such type"
            )
    kind = _REST_TYPES.get(dtype.id)
    if kind is None:
        raise UnanswerableResult(
            f"the column {name} has the DuckDB type {dtype}, which the emulator cannot "
            "report as BigQuery would"
        )
    field: dict[str, Any] = {"name": name, "type": kind, "mode": mode}
    if kind == "RECORD":
        field["fields"] = [rest_field(n, t) for n, t in dtype.children]
    return field


def _java_double(value: float) -> str:
    """A FLOAT64 as the REST API writes it (Java's ``Double.toString``: ``3.5``, ``1.7E9``)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)  # the shortest digits, in plain notation in this range
        return text if "." in text else text + ".0"
    sign, digits, exponent = decimal.Decimal(repr(value)).as_tuple()
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    power = len(digits) - 1 + int(exponent)
    return f"{'-' if sign else ''}{shown[0]}.{shown[1:] or '0'}E{power}"


def _numeric(value: decimal.Decimal) -> str:
    """A NUMERIC as the REST API writes it: no exponent, no trailing zeros."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _rest_scalar(kind: str, value: Any) -> Any:
    if kind == "INTEGER":
        return str(int(value))
    if kind == "FLOAT":
        return _java_double(float(value))
    if kind == "BOOLEAN":
        return "true" if value else "false"
    if kind == "TIMESTAMP":
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        micros = (value - _EPOCH) // dt.timedelta(microseconds=1)
        return _java_double(micros / 1_000_000)
    if kind == "NUMERIC":
        return _numeric(value)
    if kind == "BYTES":
        return base64.b64encode(bytes(value)).decode()
    if kind in ("DATE", "TIME"):
        return value.isoformat()
    return str(value)


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def rest_value(field: dict[str, Any], value: Any) -> Any:
    """A cell's ``v`` in the REST API's rows: text leaves, ``{"f": [...]}`` records,
    ``[{"v": ...}]`` arrays (NULL arrays come back empty)."""
    if field["mode"] == "REPEATED":
        item = {**field, "mode": "NULLABLE"}
        return [{"v": rest_value(item, v)} for v in value or ()]
    if value is None:
        return None
    if field["type"] == "RECORD":
        return {"f": [{"v": rest_value(f, value[f["name"]])} for f in field["fields"]]}
    return _rest_scalar(field["type"], value)


def transform_cell(field_type: str, cell_value: Any) -> Any:
    """The runner's ``transform_cell``: only these four types are converted."""
    if cell_value is None:
        return None
    if field_type == "INTEGER":
        return int(cell_value)
    if field_type == "FLOAT":
        return float(cell_value)
    if field_type == "BOOLEAN":
        return cell_value.lower() == "true"
    if field_type == "TIMESTAMP":
        # datetime.fromtimestamp: the Redash server's local time, UTC in its container.
        return dt.datetime.fromtimestamp(float(cell_value), dt.UTC).replace(tzinfo=None)
    return cell_value


def _through_rest(field: dict[str, Any]) -> Callable[[Any], Any]:
    """A column's values as the runner gets them: written by the REST API, read back."""
    if field["mode"] == "REPEATED":
        return lambda v: [transform_cell(field["type"], i["v"]) for i in rest_value(field, v)]
    return lambda v: transform_cell(field["type"], rest_value(field, v))


def _same(value: Any) -> Any:
    return value


#: Top-level types whose round trip through the REST text gives the value back as it is (a
#: DATE's text is what the JSON encoder writes for the date): skipped, for speed.
_UNCHANGED: Final = frozenset({"BOOLEAN", "STRING", "DATE"})


def _converter(field: dict[str, Any], exact: bool) -> Callable[[Any], Any]:
    if exact or field["mode"] == "REPEATED":
        return _through_rest(field)
    if field["type"] in _UNCHANGED:
        return _same
    if field["type"] == "INTEGER":
        return lambda v: None if v is None else int(v)
    if field["type"] == "FLOAT":
        return lambda v: None if v is None else float(v)
    return _through_rest(field)


def result_data(
    description: Sequence[Sequence[Any]], rows: Sequence[Sequence[Any]], exact: bool = False
) -> bytes:
    """The ``data`` JSON the BigQuery runner stores for a DuckDB result.

    Each value goes the way the runner gets it: written as the REST API writes it, then read
    back by ``transform_row`` (``exact=False`` skips the trip for the types it leaves as they
    are); columns are named as BigQuery names them (no renaming of duplicates: a repeated
    name keeps the last value in each row, as the runner's dict does).
    """
    fields = [rest_field(str(d[0]), d[1]) for d in description]
    converters = [_converter(f, exact) for f in fields]
    out_rows = [[c(v) for c, v in zip(converters, row, strict=True)] for row in rows]
    columns = [
        {
            "name": f["name"],
            "friendly_name": f["name"],
            "type": "string" if f["mode"] == "REPEATED" else TYPES_MAP.get(f["type"], "string"),
        }
        for f in fields
    ]
    return encode_rows(columns, out_rows, set())
