"""The Redash emulator's BigQuery data source: its schema as Redash's BigQuery runner lists it.

The runner (``redash/query_runner/big_query.py``, ``get_schema``) reads each dataset's
``INFORMATION_SCHEMA.COLUMN_FIELD_PATHS``: one entry per table, named ``dataset.table``
(no project), with one column per field path (a RECORD column and each of its fields, as
``build``, ``build.target``, ``build.target.channel``), typed in BigQuery's names
(``STRING``, ``INT64``, ``STRUCT<channel STRING, ...>``), with the field's description.
Redash then sorts tables and columns by name. Here the datasets are the DuckDB schemas of
the served file (``main`` and DuckDB's own left out); the SQL is translated by
:mod:`thsources.local.bqdialect`.
"""

from __future__ import annotations

from typing import Any, Final

import duckdb

__all__ = ["bigquery_type", "schema"]

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
