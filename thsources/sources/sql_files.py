"""SQLite and DuckDB database files behind the ``sql`` source, opened read-only.

Both are embedded: "the server" is this process, so the deadline and Ctrl-C interrupt the
engine itself (``sqlite3.Connection.interrupt``, DuckDB's ``interrupt``) and a write fails
because the file is opened read-only. DuckDB hands its result over as Arrow record batches;
SQLite's columns have no declared result types, so each is typed from its values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

from ..coltypes import ColumnType
from ..errors import (
    ConfigError,
    NotFound,
    PermissionDenied,
    QueryCancelled,
    QueryError,
    ThsourcesError,
)
from ..result import Result, ResultMeta
from .sql_driver import Driver, RowStream
from .sql_types import ColumnSpec

__all__ = ["DuckDBDriver", "SQLiteDriver"]


def _file(driver: Driver) -> Path:
    path = driver.url.database
    if not path or path == ":memory:":
        raise ConfigError(
            f"the sql source needs a database file in {driver.url.masked}; write "
            f"{driver.url.backend}:///relative/path or {driver.url.backend}:////absolute/path"
        )
    file = Path(path).expanduser()
    if not file.is_file():
        raise NotFound(f"no database file {file}; check the path in the url", source=driver.source)
    return file


def _infer(values: Sequence[Any]) -> ColumnType:
    """A SQLite column's type from its values: the widest of what it holds."""
    kinds = {type(v) for v in values if v is not None}
    if not kinds:
        return "string"
    if kinds <= {int}:
        return "integer"
    if kinds <= {int, float}:
        return "float"
    return "string"


class SQLiteDriver(Driver):
    dialect = "duckdb"  # the placeholder lexer's rules for a standard-quoting engine
    paramstyle = "named"

    def connect(self, timeout: float) -> Any:
        import sqlite3

        uri = f"file:{quote(str(_file(self)))}?mode=ro"
        return sqlite3.connect(uri, uri=True, timeout=min(timeout, 30), check_same_thread=False)

    def open(
        self, con: Any, sql: str, values: Mapping[str, Any], timeout: float, batch_rows: int
    ) -> RowStream:
        cur = con.execute(sql, dict(values))
        if cur.description is None:
            return RowStream([], iter(()))
        rows = cur.fetchall()  # types come from the values, so all of them are needed first
        names = self.unique_names([d[0] for d in cur.description])
        columns = list(zip(*rows, strict=True)) if rows else [() for _ in names]
        specs = [ColumnSpec(n, _infer(c)) for n, c in zip(names, columns, strict=True)]
        return RowStream(specs, iter([rows]))

    def cancel(self, con: Any) -> None:
        con.interrupt()

    def finish(self, con: Any) -> None:
        con.rollback()

    def close(self, con: Any) -> None:
        con.close()

    def error(self, exc: BaseException, *, connecting: bool) -> ThsourcesError | None:
        import sqlite3

        if not isinstance(exc, sqlite3.Error):
            return None
        message = str(exc)
        if connecting:
            return NotFound(f"cannot open {self.url.masked}: {message}", source=self.source)
        if "readonly" in message or "read-only" in message:
            return PermissionDenied(
                f"the sql source opens SQLite files read-only: {message}", source=self.source
            )
        if message == "interrupted":
            return QueryCancelled(message, source=self.source)
        return QueryError(message, source=self.source)


class DuckDBDriver(Driver):
    dialect = "duckdb"
    paramstyle = "dollar"

    def connect(self, timeout: float) -> Any:
        import duckdb

        return duckdb.connect(str(_file(self)), read_only=True)

    def open(
        self, con: Any, sql: str, values: Mapping[str, Any], timeout: float, batch_rows: int
    ) -> RowStream:  # pragma: no cover - fetch() is overridden: DuckDB speaks Arrow
        raise NotImplementedError

    def fetch(
        self,
        con: Any,
        sql: str,
        values: Mapping[str, Any],
        timeout: float,
        batch_rows: int,
        meta: ResultMeta,
        stop: Callable[[], bool],
    ) -> Result:
        # The engine is in this process: interrupt() stops it wherever it is, so no stop().
        rel = con.sql(sql, params=dict(values) if values else None)
        if rel is None:  # a statement without rows
            return Result.from_columns([], [], meta)
        # DuckDB's JSON type reaches Arrow as plain text: keep it json.
        types = {
            name: "json" for name, t in zip(rel.columns, rel.types, strict=True) if str(t) == "JSON"
        }
        # duckdb 2 names it to_arrow_reader; 1.x fetch_arrow_reader.
        read = getattr(rel, "to_arrow_reader", None) or rel.fetch_arrow_reader
        return Result.from_arrow(read(batch_rows).read_all(), types=types, meta=meta)

    def cancel(self, con: Any) -> None:
        con.interrupt()

    def finish(self, con: Any) -> None:
        """Nothing to end: each statement on a read-only DuckDB file is its own transaction."""

    def close(self, con: Any) -> None:
        con.close()

    def error(self, exc: BaseException, *, connecting: bool) -> ThsourcesError | None:
        import duckdb

        if not isinstance(exc, duckdb.Error):
            return None
        message = str(exc)
        if connecting:
            return NotFound(f"cannot open {self.url.masked}: {message}", source=self.source)
        if isinstance(exc, duckdb.InterruptException):
            return QueryCancelled(message, source=self.source)
        if "read-only" in message:
            return PermissionDenied(
                f"the sql source opens DuckDB files read-only: {message}", source=self.source
            )
        return QueryError(message, source=self.source)
