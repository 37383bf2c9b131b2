"""The ``sql`` source: Treeherder's database replica (or a copy) queried directly, safely.

``connect("sql", url="postgresql://user:pw@host/treeherder")`` — PostgreSQL through psycopg,
``mysql://`` / ``mariadb://`` through PyMySQL, ``sqlite:///file`` and ``duckdb:///file``.
It is meant to be pointed at a production replica, so every statement is read-only, bounded
by the server's own time limit, cancelled on the server (not just abandoned) when the
deadline passes, on Ctrl-C or on ``job.cancel()``, and streamed from a server-side cursor
into typed Arrow columns batch by batch. ``:name`` parameters travel to the driver as
values; only the placeholders are rewritten into the driver's style. ``submit`` returns at
once: the statement runs on a thread of its own (sources/statement_job.py), so another
thread can cancel it.
"""

from __future__ import annotations

import math
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from ..errors import ConfigError, QueryCancelled, QueryError, QueryTimeout, ThsourcesError
from ..polling import Deadline, check_timeout
from ..result import Result, ResultMeta
from .base import DEFAULT_TIMEOUT, Source, register
from .sql_driver import DatabaseURL, Driver
from .sql_params import to_driver
from .statement_job import StatementJob, Stopper

__all__ = ["DEFAULT_BATCH_ROWS", "SqlSource"]

DEFAULT_BATCH_ROWS: Final = 5_000
"""Rows fetched per round trip: enough to amortise it, few enough to keep one batch small."""

# Seconds the client waits past the deadline before cancelling itself, so that the
# server's own limit (statement_timeout, max_statement_time) normally fires first.
_SERVER_FIRST: Final = 1.0
_POOL_SIZE: Final = 4

_SUPPORTED = (
    "postgresql:// (psycopg), mysql:// or mariadb:// (PyMySQL), sqlite:///FILE, duckdb:///FILE"
)


def driver_for(url: DatabaseURL, source: str) -> Driver:
    """The driver for ``url``; a ``+driver`` other than the shipped one is a ConfigError."""
    backend, driver = url.backend, url.driver
    if backend == "postgresql" and driver in (None, "psycopg"):
        from .sql_postgres import PostgresDriver

        return PostgresDriver(url, source)
    if backend in ("mysql", "mariadb") and driver in (None, "pymysql"):
        from .sql_mysql import MySQLDriver

        return MySQLDriver(url, source)
    if backend == "sqlite" and driver in (None, "pysqlite"):
        from .sql_files import SQLiteDriver

        return SQLiteDriver(url, source)
    if backend == "duckdb" and driver is None:
        from .sql_files import DuckDBDriver

        return DuckDBDriver(url, source)
    raise ConfigError(
        f"the sql source cannot open {url.masked}: it supports {_SUPPORTED}; "
        "drop the +driver part to use the driver it ships with"
    )


@register("sql")
class SqlSource(Source):
    """Run SQL on a database given by URL: read-only, deadline-bound, streamed."""

    def __init__(
        self,
        name: str | None = None,
        *,
        url: str | None = None,
        batch_rows: int | str | None = None,
    ) -> None:
        super().__init__(name)
        if not url:
            raise ConfigError(
                "the sql source needs a url, e.g. "
                "connect('sql', url='postgresql://user:password@host:5432/treeherder') "
                "or THSOURCES_SQL_URL"
            )
        self._url = DatabaseURL.parse(url)
        self._driver = driver_for(self._url, self.name)
        self.dialect = self._driver.dialect
        try:
            self._batch_rows = int(batch_rows) if batch_rows is not None else DEFAULT_BATCH_ROWS
        except ValueError:
            raise ConfigError(f"batch_rows must be a whole number, not {batch_rows!r}") from None
        if self._batch_rows < 1:
            raise ConfigError(f"batch_rows must be at least 1, not {self._batch_rows}")
        self._idle: list[Any] = []
        self._lock = threading.Lock()
        self._jobs: weakref.WeakSet[StatementJob] = weakref.WeakSet()

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("url", "batch_rows")

    @property
    def url(self) -> str:
        """The database URL with its password masked."""
        return self._url.masked

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["url"] = self._url.masked
        info["dialect"] = self.dialect
        return info

    def cache_identity(self) -> dict[str, Any]:
        """The database URL without its password (the user name stays: grants differ); for
        a database file, its size and modification time too, so a rewritten file is asked."""
        identity: dict[str, Any] = {"url": self._url.masked}
        database = self._url.database
        if self._url.backend in ("sqlite", "duckdb") and database and database != ":memory:":
            from .caching import file_identity

            identity["file"] = file_identity(Path(database).expanduser())
        return identity

    def __repr__(self) -> str:
        return f"<SqlSource {self.name!r} {self._url.masked}>"

    # -- connections --------------------------------------------------------------------------

    def _acquire(self, deadline: Deadline) -> Any:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        try:
            return self._driver.connect(min(deadline.remaining(), 30.0))
        except Exception as exc:
            err = self._driver.error(exc, connecting=True)
            if err is None:
                raise
            raise err from None

    def _release(self, con: Any) -> None:
        with self._lock:
            if len(self._idle) < _POOL_SIZE:
                self._idle.append(con)
                return
        self._driver.close(con)

    def close(self) -> None:
        """Cancel the statements still running, on the server, and close the connections."""
        for job in list(self._jobs):
            if not job.done():
                job.cancel()
        with self._lock:
            idle, self._idle = self._idle, []
        for con in idle:
            self._driver.close(con)

    # -- running ------------------------------------------------------------------------------

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> StatementJob:
        """Start the statement on a thread of its own and return its job at once.

        Parameters are bound here (a bad one raises now); connecting and running happen on
        the job's thread. ``job.cancel()`` cancels the statement on the server; ``timeout``
        (the job's deadline) is kept on the server and by the job, whether or not anyone
        waits on ``job.result()``.
        """
        # A database answers fresh every time; max_age is the local result cache's
        # (sources/caching.py wraps this method).
        return self._job(sql, params, timeout, start=True)

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Result:
        """Run the statement to the end (or ``timeout`` s) and return its rows; Ctrl-C
        cancels it on the server. The job is started inside ``result()``, so a Ctrl-C at
        any moment finds the statement stoppable."""
        return self._job(sql, params, timeout, start=False).result()

    def _job(
        self, sql: str, params: Mapping[str, Any] | None, timeout: float | None, *, start: bool
    ) -> StatementJob:
        deadline = Deadline(check_timeout(timeout, DEFAULT_TIMEOUT))
        driver = self._driver
        text, values = to_driver(
            sql, params, driver.dialect, driver.paramstyle, arrays=driver.arrays
        )
        job = StatementJob(
            lambda stopper: self._run(sql, text, values, deadline, stopper),
            source=self.name,
            deadline=deadline,
            start=start,
        )
        self._jobs.add(job)
        return job

    def _run(
        self,
        sql: str,
        text: str,
        values: Mapping[str, Any],
        deadline: Deadline,
        stopper: Stopper,
    ) -> Result:
        driver = self._driver
        limit = deadline.timeout if deadline.timeout is not None else DEFAULT_TIMEOUT
        started = time.perf_counter()
        con = self._acquire(deadline)
        if not stopper.arm(lambda: driver.cancel(con)):
            self._release(con)  # nothing ran on it
            raise QueryCancelled("the query was cancelled before it started", source=self.name)
        fired = threading.Event()

        def on_deadline() -> None:
            fired.set()
            driver.cancel(con)

        remaining = deadline.remaining()
        timer = None
        if not math.isinf(remaining):
            timer = threading.Timer(remaining + _SERVER_FIRST, on_deadline)
            timer.daemon = True
            timer.start()
        meta = ResultMeta(source=self.name, query=sql, cached=False)

        def stop() -> bool:
            return fired.is_set() or stopper.requested

        try:
            try:
                result = driver.fetch(con, text, values, remaining, self._batch_rows, meta, stop)
            finally:
                cancel_sent = stopper.disarm()
        except KeyboardInterrupt:
            _stop(timer)
            driver.cancel(con)
            driver.close(con)
            raise
        except Exception as exc:
            _stop(timer)
            driver.close(con)
            err = exc if isinstance(exc, ThsourcesError) else driver.error(exc, connecting=False)
            if err is None and isinstance(exc, ValueError | TypeError | OverflowError):
                # A value the column's type cannot hold (pyarrow's errors are ValueErrors).
                err = QueryError(f"cannot convert the result: {exc}", source=self.name)
            if err is None:
                raise
            if stopper.requested and not fired.is_set():
                raise QueryCancelled(
                    f"the query was cancelled on the server ({err.message})", source=self.name
                ) from None
            if fired.is_set() or isinstance(err, QueryTimeout):
                raise QueryTimeout(
                    f"the query did not finish within {round(limit, 3):g} s and was cancelled "
                    f"on the server ({err.message}); pass a larger timeout",
                    source=self.name,
                ) from None
            raise err from None
        _stop(timer)
        if fired.is_set() or cancel_sent:
            driver.close(con)  # a late cancel could hit its next statement: start afresh
        else:
            try:
                driver.finish(con)
            except Exception:
                driver.close(con)
            else:
                self._release(con)
        return result.with_meta(runtime_s=time.perf_counter() - started)


def _stop(timer: threading.Timer | None) -> None:
    """Stop the deadline timer and wait for a cancel it may be sending right now."""
    if timer is None:
        return
    timer.cancel()
    if timer.is_alive() and threading.current_thread() is not timer:
        timer.join()
