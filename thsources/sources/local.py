"""The embedded ``local`` source: Treeherder's schema with a seeded sample, on DuckDB.

It needs no credentials and no network, so every example and test has somewhere to run.
The database file is built on first use into the user cache dir and opened read-only;
each query gets its own cursor, so one source can be shared between threads. ``submit``
returns at once with a job whose statement runs on a thread of its own (DuckDB's on one more:
see local/execute.py), so ``job.cancel()`` interrupts DuckDB wherever it is.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SourceUnavailable, ThsourcesError
from ..local import pgdialect
from ..local.attached import TABLES_COLUMNS, TABLES_SQL, attach_read_only, result_from
from ..local.execute import run_statement
from ..polling import Deadline, ProgressCallback, check_timeout
from ..result import Result, ResultMeta
from ..sqlbind import bind
from .base import DEFAULT_TIMEOUT, Source, register
from .statement_job import StatementJob

__all__ = ["LocalSource"]


@register("local")
class LocalSource(Source):
    """Run PostgreSQL SQL on the embedded sample (or any DuckDB file given as ``path``).

    The SQL is PostgreSQL's, translated to DuckDB by :mod:`thsources.local.pgdialect`, so the
    dialect parameters are bound in is PostgreSQL's too.
    """

    dialect = "postgresql"

    def __init__(
        self,
        name: str | None = None,
        *,
        path: str | Path | None = None,
        seed: int | None = None,
        scale: float | None = None,
    ) -> None:
        super().__init__(name)
        self._path_option = Path(path).expanduser() if path else None
        self._seed = seed
        self._scale = scale
        self._con: Any = None
        self._clock: dt.datetime | None = None  # what now() answers: the sample's end
        self._lock = threading.Lock()
        self._jobs: weakref.WeakSet[StatementJob] = weakref.WeakSet()

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("path", "seed", "scale")

    @property
    def path(self) -> Path:
        """The DuckDB file queried (building the sample first if needed)."""
        return self._connection_and_path()[1]

    def _connection_and_path(self) -> tuple[Any, Path]:
        with self._lock:
            if self._con is None:
                if self._path_option is not None:
                    path = self._path_option
                else:
                    from ..local.loader import ensure_sample_db

                    path = ensure_sample_db(**self._sample_options())
                con = _open(path, self.name)
                self._clock = pgdialect.sample_clock(con)
                self._con = con
                self._resolved_path = path
            return self._con, self._resolved_path

    def _sample_options(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {}
        for key, value, kind in (("seed", self._seed, int), ("scale", self._scale, float)):
            if value is None:
                continue
            try:
                kwargs[key] = kind(value)
            except (TypeError, ValueError):
                raise ConfigError(
                    f"option {key} of the local source must be a number, not {value!r}",
                    source=self.name,
                ) from None
        return kwargs

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> StatementJob:
        """Start the statement on a thread of its own and return its job at once.

        ``job.cancel()`` interrupts DuckDB; ``timeout`` (the job's deadline) interrupts it
        too, whether or not anyone waits on ``job.result()``. Opening the database (building
        the sample on first use) happens on that thread as well.
        """
        # max_age is the local result cache's (sources/caching.py wraps this method).
        return self._job(sql, params, timeout, start=True)

    def _job(
        self, sql: str, params: Mapping[str, Any] | None, timeout: float | None, *, start: bool
    ) -> StatementJob:
        limit = check_timeout(timeout, DEFAULT_TIMEOUT)
        job = StatementJob(
            lambda stopper: self._run(sql, params, limit, stop=lambda: stopper.requested),
            source=self.name,
            deadline=Deadline(limit),
            start=start,
        )
        self._jobs.add(job)
        return job

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Result:
        """Run a query to the end (or ``timeout`` s; ``inf`` for no limit) and return its rows.

        Ctrl-C interrupts the running statement and raises ``KeyboardInterrupt``.
        ``progress`` is told ``running`` and the elapsed time every 0.1 s while the
        statement runs, as a remote source reports its job; an exception it raises stops
        the statement too. The statement runs as ``submit``'s job, so ``run_many`` and a
        DB-API cursor can ``cancel()`` it from another thread.
        """
        # Started inside result(): a Ctrl-C at any moment finds the statement stoppable.
        return self._job(sql, params, timeout, start=False).result(progress=progress)

    def _run(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        timeout: float,
        *,
        stop: Callable[[], bool] | None = None,
    ) -> Result:
        if isinstance(sql, Mapping):  # JX, ActiveData's language: see thsources.jx.local
            from ..jx.local import run_jx

            con, _ = self._connection_and_path()
            limit = None if math.isinf(timeout) else timeout
            res = run_jx(con, sql, params, source=self.name, timeout=limit, stop=stop)
            res.meta = replace(res.meta, retrieved_at=dt.datetime.now(dt.UTC))
            return res
        con, _ = self._connection_and_path()
        bound = bind(sql, params, self.dialect)
        try:
            text = pgdialect.translate(bound, self._clock)
        except ThsourcesError as exc:  # refused before running: say which source refused
            exc.source = exc.source or self.name
            exc.query = exc.query or bound
            raise
        started = time.perf_counter()
        fetched = run_statement(
            con, text, timeout=timeout, source=self.name, shown=bound, stop=stop
        )
        meta = ResultMeta(
            source=self.name,
            query=bound,  # what the caller asked, in PostgreSQL; not the DuckDB it became
            runtime_s=time.perf_counter() - started,
            retrieved_at=dt.datetime.now(dt.UTC),
            cached=False,
        )
        return result_from(fetched, meta)

    def cache_identity(self) -> dict[str, Any]:
        from .caching import file_identity

        return file_identity(self.path)

    def tables(self) -> Result:
        """Every column of every table in the database's main schema, in table order.

        ``data_type`` is DuckDB's name for the type (``VARCHAR``, ``BIGINT``, ``TIMESTAMP``).
        """
        con, _ = self._connection_and_path()
        fetched = run_statement(con, TABLES_SQL, timeout=DEFAULT_TIMEOUT, source=self.name)
        rows = fetched.table.to_pylist()
        meta = ResultMeta(source=self.name, query=TABLES_SQL, retrieved_at=dt.datetime.now(dt.UTC))
        return Result.from_rows(
            TABLES_COLUMNS,
            [(r["table_name"], r["column_name"], r["data_type"]) for r in rows],
            meta,
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["path"] = str(self._path_option) if self._path_option else "(embedded sample)"
        return info

    def close(self) -> None:
        """Cancel the statements still running (their connection is this one) and close."""
        for job in list(self._jobs):
            if not job.done():
                job.cancel()
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None


def _open(path: Path, name: str) -> Any:
    """A read-only DuckDB connection to ``path``, or a thsources error saying what is wrong."""
    import duckdb

    if not path.exists():
        raise ConfigError(
            f"the local source's path {str(path)!r} does not exist; give the path of a "
            "DuckDB database file, or no path for the embedded sample",
            source=name,
        )
    if path.is_dir():
        raise ConfigError(
            f"the local source's path {str(path)!r} is a directory; give the path of a "
            "DuckDB database file inside it",
            source=name,
        )
    try:
        return attach_read_only(path)
    except duckdb.Error as exc:
        message = str(exc)
        if "lock" in message.lower():
            raise SourceUnavailable(
                f"the DuckDB database {str(path)!r} is locked by another process that "
                f"writes to it; try again when it is done ({message})",
                source=name,
            ) from None
        raise ConfigError(
            f"cannot open {str(path)!r} as a DuckDB database: {message}", source=name
        ) from None
