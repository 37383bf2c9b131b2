"""A DuckDB file opened for PostgreSQL-dialect reading, and its rows as a Result.

Shared by the sources that read a DuckDB file of Treeherder's shape (``local``, ``history``):
a source never imports another source, so their common machinery lives here.

The file is attached to an in-memory instance of the caller's own rather than opened with
``duckdb.connect(path)``: DuckDB shares one instance per file in a process and refuses a second
connection with other settings, so a locked-down connection would otherwise clash with any
other reader of the same file (an emulator, a notebook's own ``duckdb.connect``), and its
``SET GLOBAL`` settings would leak into theirs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from ..errors import QueryError
from ..result import Column, Result, ResultMeta
from . import pgdialect
from .execute import Fetched

__all__ = ["TABLES_COLUMNS", "TABLES_SQL", "Attached", "attach_read_only", "result_from"]

TABLES_SQL: Final = """\
SELECT table_name, column_name, data_type
FROM information_schema.columns
WHERE table_catalog = current_database() AND table_schema = 'main'
ORDER BY table_name, ordinal_position"""
"""Every column of the attached file's tables, for ``Source.tables()``."""

TABLES_COLUMNS: Final = (
    Column("table_name", "string"),
    Column("column_name", "string"),
    Column("data_type", "string"),
)


class Attached:
    """A DuckDB connection whose cursors all start in the attached file's catalog.

    ``USE`` is per connection, and every statement runs on a fresh cursor (so that it alone
    can be interrupted); each cursor is pointed at the file before it is handed out.
    """

    def __init__(self, con: Any, catalog: str) -> None:
        self._con = con
        self._use = f"USE {catalog}"

    def cursor(self) -> Any:
        cursor = self._con.cursor()
        cursor.execute(self._use)
        return cursor

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def attach_read_only(path: Path, catalog: str | None = None) -> Attached:
    """``path`` attached read-only, with PostgreSQL's semantics set and the configuration
    locked, so user SQL has no file access and cannot undo them. DuckDB's errors propagate:
    each caller says what they mean for its users."""
    import duckdb

    name = '"' + (catalog or path.stem).replace('"', '""') + '"'
    con = duckdb.connect(":memory:")
    try:
        escaped = str(path).replace("'", "''")
        con.execute(f"ATTACH '{escaped}' AS {name} (READ_ONLY)")
        con.execute(f"USE {name}")
        pgdialect.configure(con)
        # No file access from user SQL (COPY, read_csv, ATTACH, INSTALL).
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return Attached(con, name)


def result_from(fetched: Fetched, meta: ResultMeta) -> Result:
    """The Result of one statement; a value no canonical type can hold is a QueryError."""
    import pyarrow as pa

    if fetched.table is None:
        return Result.from_columns([], [], meta)
    # DuckDB's JSON type reaches Arrow as a plain string: keep it json.
    types = dict.fromkeys(fetched.json_columns, "json")
    try:
        return Result.from_arrow(fetched.table, types=types, meta=meta)
    except (ValueError, TypeError, OverflowError, pa.ArrowException) as exc:
        # A value no canonical type can hold (a date past year 9999 inside a list, say).
        raise QueryError(
            f"the query ran but its result cannot be read: {type(exc).__name__}: {exc}; "
            "cast the column to text (::varchar) to get it",
            source=meta.source,
            query=meta.query,
        ) from exc
