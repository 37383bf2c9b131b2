"""Where the Redash emulator's workers run a job's SQL: DuckDB, or a real database.

By default every data source runs on DuckDB over the sample (PostgreSQL SQL translated first).
A data source with a ``url`` runs on that PostgreSQL or MySQL/MariaDB database instead, the way
Redash's ``pg`` and ``mysql`` query runners do on Treeherder's replica: a connection per job,
column types from the driver's type codes (the runners' ``types_map``), values encoded by
Redash's JSON rules, the driver's error text, and a cancel sent to the server (the pg runner's
``connection.cancel()``, the mysql runner's ``KILL <thread id>`` from a second connection).

Unlike the runners, nothing can write: a PostgreSQL job runs in a ``READ ONLY`` transaction
that is always rolled back, a MySQL job in a read-only session, and both send one statement
per job (the server refuses a second one), since a ``COMMIT`` in a script could otherwise end
the read-only transaction. The replica they stand in for refuses every write anyway.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import duckdb

from thsources.errors import ConfigError, ThsourcesError
from thsources.local import bqdialect, pgdialect
from thsources.sources.sql_driver import DatabaseURL
from thsources.sources.sql_mysql import connect_kwargs as mysql_kwargs
from thsources.sources.sql_postgres import connect_kwargs
from thsources.testing import redash_bigquery
from thsources.testing.redash_results import (
    columns_from_description,
    encode_rows,
    fetch_columns,
)
from thsources.testing.redash_sql import annotate, database_error

__all__ = [
    "DuckDBExecutor",
    "DuckDBInstance",
    "Executor",
    "MySQLExecutor",
    "Outcome",
    "PostgresExecutor",
    "duckdb_sql",
    "open_url_executor",
    "url_type",
]

_STEP: Final = 0.01  # how often pg_sleep looks at the cancel flag
_CANCEL_EVERY: Final = 0.2  # a cancel is sent again until the statement has ended

NO_DATA_PG: Final = "Query completed but it returned no data."
NO_DATA_MYSQL: Final = "No data was returned."

#: ``types_map`` of ``redash/query_runner/pg.py``: type OID -> Redash column type.
PG_TYPES: Final[dict[int, str]] = {
    20: "integer",
    21: "integer",
    23: "integer",
    700: "float",
    1700: "float",
    701: "float",
    16: "boolean",
    1082: "date",
    1182: "date",
    1114: "datetime",
    1184: "datetime",
    1115: "datetime",
    1185: "datetime",
    1014: "string",
    1015: "string",
    1008: "string",
    1009: "string",
    2951: "string",
    1043: "string",
    1002: "string",
    1003: "string",
}

#: ``types_map`` of ``redash/query_runner/mysql.py``: field type code -> Redash column type.
MYSQL_TYPES: Final[dict[int, str]] = {
    0: "float",
    1: "integer",
    2: "integer",
    3: "integer",
    4: "float",
    5: "float",
    7: "datetime",
    8: "integer",
    9: "integer",
    10: "date",
    12: "datetime",
    15: "string",
    16: "integer",
    246: "float",
    253: "string",
    254: "string",
}

#: Backends a data source's ``url`` may name, and the Redash type each one runs as.
URL_TYPES: Final[dict[str, str]] = {"postgresql": "pg", "mysql": "mysql", "mariadb": "mysql"}


@dataclass
class Outcome:
    """What a job's statement produced: the stored ``data`` JSON, or the runner's error."""

    data_json: bytes | None = None
    error: str | None = None
    #: The text the runner handed to the database (annotated when the runner annotates), as
    #: the database's own logs would show it; None when nothing was sent.
    sent: str | None = None


class Executor(ABC):
    """Runs one data source's jobs for one worker, one at a time; holds nothing between
    jobs (a DuckDB executor's cursor belongs to the worker's :class:`DuckDBInstance`)."""

    @abstractmethod
    def run(self, sql: str, metadata: dict[str, object], stop: Callable[[], bool]) -> Outcome:
        """Run ``sql`` annotated with ``metadata``; ``stop()`` is true once it is cancelled."""

    @abstractmethod
    def interrupt(self) -> None:
        """Stop the statement running now, from any thread (nothing happens if none runs)."""


# ---------------------------------------------------------------------------------- DuckDB


def duckdb_sql(ds_type: str, sql: str) -> str:
    """The SQL DuckDB runs for a job of a data source of ``ds_type``.

    A ``pg`` source's text goes through the local source's PostgreSQL-to-DuckDB step (a live
    server's ``now()`` is the wall clock, so no sample clock); a ``bigquery`` source's through
    the BigQuery-to-DuckDB step; other types run as written.
    """
    if ds_type == "pg":
        return pgdialect.translate(sql, None, True, frozenset({"pg_sleep"}))
    if ds_type == "bigquery":
        return bqdialect.translate(sql)
    return sql


class DuckDBInstance:
    """A worker's own DuckDB: every served file attached read-only, then locked down.

    One instance per worker because a Python UDF is registered instance-wide and runs on
    DuckDB's threads: ``pg_sleep`` can only tell which job to watch for a cancel this way.
    ``stopping()`` says whether the job this worker runs now was cancelled.
    """

    def __init__(self, aliases: dict[str, str], stopping: Callable[[], bool]) -> None:
        self._stopping = stopping
        self._cursors: dict[str, duckdb.DuckDBPyConnection] = {}
        connection = duckdb.connect(":memory:")
        try:
            for path, alias in aliases.items():
                escaped = path.replace("'", "''")
                connection.execute(f"ATTACH '{escaped}' AS {alias} (READ_ONLY)")
            connection.create_function(
                "pg_sleep", self.pg_sleep, ["DOUBLE"], "BLOB", side_effects=True
            )
            # Queries may read the attached files and nothing else on this machine; the engine
            # answers as PostgreSQL does (integer division, NULL order), like the local source.
            pgdialect.configure(connection)
            connection.execute("SET enable_external_access = false")
            connection.execute("SET lock_configuration = true")
        except BaseException:
            connection.close()
            raise
        self.connection = connection

    def pg_sleep(self, seconds: float | None) -> bytes:
        """PostgreSQL's ``pg_sleep`` (returns void, which the runner shows as "")."""
        deadline = time.monotonic() + float(seconds or 0)
        while time.monotonic() < deadline:
            if self._stopping():
                break
            time.sleep(min(_STEP, max(0.0, deadline - time.monotonic())))
        return b""

    def cursor(self, alias: str) -> duckdb.DuckDBPyConnection:
        """The cursor reading ``alias`` by default (one per attached file)."""
        cursor = self._cursors.get(alias)
        if cursor is None:
            cursor = self.connection.cursor()
            cursor.execute(f"USE {alias}")
            self._cursors[alias] = cursor
        return cursor

    def close(self) -> None:
        for cursor in self._cursors.values():
            cursor.close()
        self._cursors.clear()
        self.connection.close()


class DuckDBExecutor(Executor):
    """A data source served from a DuckDB file, with the errors of its type's runner."""

    def __init__(
        self, instance: DuckDBInstance, alias: str, ds_type: str, annotates: bool = True
    ) -> None:
        self._cursor = instance.cursor(alias)
        self._type = ds_type
        self._annotates = annotates

    def _annotate(self, sql: str, metadata: dict[str, object]) -> str:
        """The runner's ``annotate_query``: nothing unless it annotates; the BigQuery runner
        leaves the job id out (so the text, BigQuery's cache key, stays the same)."""
        if not self._annotates:
            return sql
        if self._type == "bigquery":
            metadata = {k: v for k, v in metadata.items() if k != "Job ID"}
        return annotate(sql, metadata)

    def interrupt(self) -> None:
        self._cursor.interrupt()

    def run(self, sql: str, metadata: dict[str, object], stop: Callable[[], bool]) -> Outcome:
        if not sql.strip():
            return Outcome(error="can't execute an empty query")
        shown = self._annotate(sql, metadata)  # what the server's error excerpts quote
        outcome = self._statement(sql, shown, metadata, stop)
        outcome.sent = shown
        return outcome

    def _statement(
        self, sql: str, shown: str, metadata: dict[str, object], stop: Callable[[], bool]
    ) -> Outcome:
        ran: str | None = None
        try:
            translated = duckdb_sql(self._type, sql)
            ran = self._annotate(translated, metadata) if translated != sql else None
            executed = self._cursor.execute(ran or shown)
            description = executed.description if executed is not None else None
            if not description:
                return Outcome(error=NO_DATA_PG)
            rows = self._cursor.fetchall()
            if self._type == "bigquery":
                return Outcome(data_json=redash_bigquery.result_data(description, rows))
            columns = columns_from_description(description)
            json_columns = {i for i, d in enumerate(description) if str(d[1]).upper() == "JSON"}
            return Outcome(data_json=encode_rows(columns, rows, json_columns))
        except duckdb.InterruptException:
            return Outcome(error=None if stop() else "Query interrupted. Please retry.")
        except duckdb.Error as e:
            return Outcome(error=database_error(str(e), shown, self._type, ran))
        except (ThsourcesError, redash_bigquery.UnanswerableResult) as e:
            return Outcome(error=str(e))  # refused by the translation, or its result's type


# ---------------------------------------------------------------------------- real databases


def url_type(url: str) -> str:
    """The Redash data source type (``pg``/``mysql``) a database URL runs as."""
    backend = DatabaseURL.parse(url).backend
    ds_type = URL_TYPES.get(backend)
    if ds_type is None:
        raise ConfigError(
            f"the Redash emulator runs jobs on PostgreSQL or MySQL/MariaDB, not {backend!r}; "
            "give a url like postgresql://user@host/treeherder or mysql://user@host/treeherder"
        )
    return ds_type


class _RemoteExecutor(Executor):
    """A connection per job, as the runners open one; a cancel repeated until it lands.

    A cancel that reaches the server before the statement does would be lost, so
    :meth:`interrupt` keeps sending it, on a thread of its own, while that job's
    connection is still running.
    """

    def __init__(self, url: str) -> None:
        self.url = DatabaseURL.parse(url)
        self._lock = threading.Lock()
        self._active: Any = None

    @abstractmethod
    def _connect(self) -> Any: ...

    @abstractmethod
    def _cancel(self, connection: Any) -> None: ...

    @abstractmethod
    def _execute(self, connection: Any, sql: str) -> Outcome: ...

    @abstractmethod
    def _close(self, connection: Any) -> None: ...

    def run(self, sql: str, metadata: dict[str, object], stop: Callable[[], bool]) -> Outcome:
        try:
            connection = self._connect()
        except Exception as e:  # the runner's job fails with the driver's text
            raise RuntimeError(self.url.redact(str(e)).strip()) from None
        with self._lock:
            self._active = connection
        try:
            if stop():  # cancelled before the statement could be stopped on the server
                return Outcome()
            text = annotate(sql, metadata)
            outcome = self._execute(connection, text)
            outcome.sent = text
            return outcome
        finally:
            with self._lock:
                self._active = None
            self._close(connection)

    def interrupt(self) -> None:
        with self._lock:
            connection = self._active
        if connection is not None:
            threading.Thread(
                target=self._keep_cancelling,
                args=(connection,),
                name="redash-cancel",
                daemon=True,
            ).start()

    def _keep_cancelling(self, connection: Any) -> None:
        while True:
            self._cancel(connection)
            time.sleep(_CANCEL_EVERY)
            with self._lock:
                if self._active is not connection:
                    return

    def check(self) -> None:
        """Connect once and hang up: the url, credentials and database are right."""
        self._close(self._connect())

    def schema(self) -> list[dict[str, Any]]:
        """The runner's ``get_schema``, sorted as ``DataSource.get_schema`` stores it."""
        connection = self._connect()
        try:
            tables = self._tables(connection)
        finally:
            self._close(connection)
        return [
            {
                **t,
                "columns": sorted(
                    t["columns"], key=lambda c: c["name"] if isinstance(c, dict) else c
                ),
            }
            for t in sorted(tables, key=lambda t: t["name"])
        ]

    @abstractmethod
    def _tables(self, connection: Any) -> list[dict[str, Any]]: ...


# The pg runner's _get_tables: materialized views (no data types) and information_schema.
_PG_TABLES: Final = """
SELECT s.nspname AS table_schema, c.relname AS table_name, a.attname AS column_name,
       NULL AS data_type
FROM pg_class c
JOIN pg_namespace s ON c.relnamespace = s.oid
  AND s.nspname NOT IN ('pg_catalog', 'information_schema')
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
WHERE c.relkind = 'm'
  AND has_table_privilege(quote_ident(s.nspname) || '.' || quote_ident(c.relname), 'select')
  AND has_schema_privilege(s.nspname, 'usage')
UNION
SELECT table_schema, table_name, column_name, data_type
FROM information_schema.columns
WHERE table_schema NOT IN ('pg_catalog', 'information_schema')
  AND has_table_privilege(quote_ident(table_schema) || '.' || quote_ident(table_name), 'select')
  AND has_schema_privilege(table_schema, 'usage')
"""

_PG_RANGES: Final = frozenset({3904, 3906, 3908, 3910, 3912, 3926})
_PG_AS_TEXT: Final = ("inet", "cidr")  # psycopg2 hands them over as text


def _range_text(value: Any) -> Any:
    """A range as the pg runner's ``custom_json_encoder`` writes psycopg2's ``Range``."""
    if value is None:
        return None
    if value.isempty:
        return ""
    bounds = value.bounds
    return "".join([bounds[0], str(value.lower), ", ", str(value.upper), bounds[1]])


def _pg_loaders(connection: Any) -> None:
    """Values as psycopg2 gives them to the runner where psycopg 3 differs: ``inet`` as
    text, and ``infinity`` dates and timestamps as the ``max``/``min`` of their type."""
    import datetime as dt

    from psycopg.types.datetime import DateLoader, TimestampLoader, TimestamptzLoader
    from psycopg.types.string import TextLoader

    def infinite(base: type, low: Any, high: Any) -> type:
        class Loader(base):
            def load(self, data: Any) -> Any:
                if bytes(data) == b"infinity":
                    return high
                if bytes(data) == b"-infinity":
                    return low
                return super().load(data)

        return Loader

    adapters = connection.adapters
    adapters.register_loader("date", infinite(DateLoader, dt.date.min, dt.date.max))
    adapters.register_loader(
        "timestamp", infinite(TimestampLoader, dt.datetime.min, dt.datetime.max)
    )
    adapters.register_loader(
        "timestamptz",
        infinite(
            TimestamptzLoader,
            dt.datetime.min.replace(tzinfo=dt.UTC),
            dt.datetime.max.replace(tzinfo=dt.UTC),
        ),
    )
    for name in _PG_AS_TEXT:
        adapters.register_loader(name, TextLoader)


def _pg_error(error: Any) -> str:
    """``str(e)`` of psycopg2, which keeps libpq's closing newline (psycopg 3 strips it)."""
    text = str(error)
    if getattr(error, "sqlstate", None) and not text.endswith("\n"):
        text += "\n"
    return text


class PostgresExecutor(_RemoteExecutor):
    """Redash's ``pg`` runner on a real server, through psycopg 3 instead of psycopg2."""

    def _connect(self) -> Any:
        import psycopg

        kwargs = connect_kwargs(self.url, "redash")  # the runner's default dsn
        kwargs.setdefault("connect_timeout", 10)
        options = kwargs.pop("options", "")
        kwargs["options"] = f"{options} -c default_transaction_read_only=on".strip()
        connection = psycopg.connect(**kwargs)
        connection.read_only = True
        _pg_loaders(connection)
        return connection

    def _cancel(self, connection: Any) -> None:
        import psycopg

        with contextlib.suppress(psycopg.Error):
            connection.cancel_safe(timeout=5)

    def _close(self, connection: Any) -> None:
        import psycopg

        with contextlib.suppress(psycopg.Error):
            connection.close()

    def _execute(self, connection: Any, sql: str) -> Outcome:
        import psycopg
        from psycopg import pq

        cursor = connection.cursor()
        try:
            # Prepared: one statement at a time, sent as the text the runner would send.
            cursor.execute(sql, prepare=True)
            if cursor.pgresult is not None and cursor.pgresult.status == pq.ExecStatus.EMPTY_QUERY:
                return Outcome(error="can't execute an empty query")  # psycopg2's words
            description = cursor.description
            if description is None:
                return Outcome(error=NO_DATA_PG)
            columns = fetch_columns([(d.name, PG_TYPES.get(d.type_code)) for d in description])
            rows: Sequence[Sequence[Any]] = cursor.fetchall()
            ranges = [i for i, d in enumerate(description) if d.type_code in _PG_RANGES]
            if ranges:
                rows = [_with(row, ranges, _range_text) for row in rows]
            return Outcome(data_json=encode_rows(columns, rows, set()))
        except psycopg.Error as e:
            return Outcome(error=self.url.redact(_pg_error(e)))
        finally:
            with contextlib.suppress(psycopg.Error):
                connection.rollback()

    def _tables(self, connection: Any) -> list[dict[str, Any]]:
        """``build_schema``: ``schema.table`` outside ``public`` (or when a public table's
        name would clash), columns with their ``data_type`` or a bare name without one."""
        rows = connection.execute(_PG_TABLES).fetchall()
        connection.rollback()

        def full(schema: str, name: str) -> str:
            return f'{schema}."{name}"' if "." in name else f"{schema}.{name}"

        names = {full(r[0], r[1]) for r in rows}
        tables: dict[str, dict[str, Any]] = {}
        for schema, table, column, data_type in rows:
            name = full(schema, table) if schema != "public" or table in names else table
            entry = tables.setdefault(name, {"name": name, "columns": []})
            entry["columns"].append(
                column if data_type is None else {"name": column, "type": data_type}
            )
        return list(tables.values())


def _with(row: Sequence[Any], indexes: list[int], convert: Callable[[Any], Any]) -> list[Any]:
    values = list(row)
    for i in indexes:
        values[i] = convert(values[i])
    return values


_MYSQL_SYSTEM: Final = "('information_schema', 'performance_schema', 'mysql', 'sys')"


class MySQLExecutor(_RemoteExecutor):
    """Redash's ``mysql`` runner on a real server, through PyMySQL instead of mysqlclient."""

    def _connect(self) -> Any:
        import pymysql

        u = self.url
        connection = pymysql.connect(
            **mysql_kwargs(u),
            connect_timeout=60,
            autocommit=True,  # the runner's default
        )
        try:
            with connection.cursor() as cursor:
                cursor.execute("SET SESSION TRANSACTION READ ONLY")
        except BaseException:
            connection.close()
            raise
        return connection

    def _cancel(self, connection: Any) -> None:
        """The runner's ``_cancel``: ``KILL <thread id>`` on a second connection."""
        import pymysql

        with contextlib.suppress(pymysql.Error):
            side = self._connect()
            try:
                with side.cursor() as cursor:
                    cursor.execute(f"KILL {int(connection.thread_id())}")
            finally:
                side.close()

    def _close(self, connection: Any) -> None:
        import pymysql

        with contextlib.suppress(pymysql.Error):
            connection.close()

    def _execute(self, connection: Any, sql: str) -> Outcome:
        import pymysql

        try:
            with connection.cursor() as cursor:
                cursor.execute(sql)
                data = cursor.fetchall()
                description = cursor.description
                while cursor.nextset():  # the last result set wins, as in the runner
                    if cursor.description is not None:
                        data = cursor.fetchall()
                        description = cursor.description
        except pymysql.Error as e:
            text = e.args[1] if len(e.args) > 1 else str(e)  # the runner's e.args[1]
            return Outcome(error=self.url.redact(str(text)))
        if description is None:
            return Outcome(error=NO_DATA_MYSQL)
        columns = fetch_columns([(d[0], MYSQL_TYPES.get(d[1])) for d in description])
        return Outcome(data_json=encode_rows(columns, data, set()))

    def _tables(self, connection: Any) -> list[dict[str, Any]]:
        """The runner's ``_get_tables``: ``db.table`` outside the configured database,
        columns with type and comment, tables with their comment when there is one."""
        database = self.url.database
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT col.table_schema, col.table_name, col.column_name, col.data_type, "
                "col.column_comment FROM `information_schema`.`columns` col "
                f"WHERE LOWER(col.table_schema) NOT IN {_MYSQL_SYSTEM}"
            )
            columns = cursor.fetchall()
            cursor.execute(
                "SELECT col.table_schema, col.table_name, col.table_comment "
                "FROM `information_schema`.`tables` col "
                f"WHERE LOWER(col.table_schema) NOT IN {_MYSQL_SYSTEM}"
            )
            comments = cursor.fetchall()

        def name(schema: str, table: str) -> str:
            return table if schema == database else f"{schema}.{table}"

        tables: dict[str, dict[str, Any]] = {}
        for schema, table, column, data_type, comment in columns:
            entry = tables.setdefault(name(schema, table), {"name": name(schema, table)})
            entry.setdefault("columns", []).append(
                {"name": column, "type": data_type, "description": comment}
            )
        for schema, table, comment in comments:
            entry = tables.setdefault(name(schema, table), {"name": name(schema, table)})
            entry.setdefault("columns", [])
            if comment:
                entry["description"] = comment
        return list(tables.values())


def open_url_executor(url: str, ds_type: str) -> PostgresExecutor | MySQLExecutor:
    """The executor for a data source of ``ds_type`` whose jobs run on ``url``."""
    wanted = url_type(url)
    if wanted != ds_type:
        raise ConfigError(
            f"a {ds_type!r} data source cannot run on this url, which is a {wanted!r} "
            f"database; make the data source's type {wanted!r}"
        )
    # Both drivers are the ``db`` extra's; say so rather than fail on the first job.
    for module in ("psycopg",) if ds_type == "pg" else ("pymysql",):
        try:
            importlib.import_module(module)
        except ImportError:
            raise ConfigError(
                f"running the emulator on a database needs {module}: pip install 'thsources[db]'"
            ) from None
    return PostgresExecutor(url) if ds_type == "pg" else MySQLExecutor(url)
