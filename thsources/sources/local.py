"""The embedded ``local`` source: Treeherder's schema with a seeded sample, on DuckDB.

It needs no credentials and no network, so every example and test has somewhere to run.
The database file is built on first use into the user cache dir and opened read-only;
each query gets its own cursor, so one source can be shared between threads.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import PermissionDenied, QueryError, QueryTimeout, ThsourcesError
from ..local import pgdialect
from ..result import Result, ResultMeta
from ..sqlbind import bind
from .base import DEFAULT_TIMEOUT, CompletedJob, Job, Source, register

__all__ = ["LocalSource"]


def _fetch_arrow(rel: Any) -> Any:
    # duckdb 2 names it to_arrow_table; 1.x fetch_arrow_table.
    fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
    return fetch()


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
                import duckdb

                if self._path_option is not None:
                    path = self._path_option
                else:
                    from ..local.loader import ensure_sample_db

                    kwargs: dict[str, Any] = {}
                    if self._seed is not None:
                        kwargs["seed"] = int(self._seed)
                    if self._scale is not None:
                        kwargs["scale"] = float(self._scale)
                    path = ensure_sample_db(**kwargs)
                # No file access from user SQL (COPY, read_csv, ATTACH, INSTALL), and
                # PostgreSQL's semantics where the SQL text does not carry them.
                con = duckdb.connect(
                    str(path), read_only=True, config={"enable_external_access": False}
                )
                pgdialect.configure(con)
                con.execute("SET lock_configuration = true")
                self._clock = pgdialect.sample_clock(con)
                self._con = con
                self._resolved_path = path
            return self._con, self._resolved_path

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        # A local query is fresh and fast: max_age has nothing to reuse, so it is ignored.
        return CompletedJob(self._run(sql, params, timeout))

    def _run(self, sql: str, params: Mapping[str, Any] | None, timeout: float | None) -> Result:
        import duckdb

        con, _ = self._connection_and_path()
        try:
            text = pgdialect.translate(bind(sql, params, self.dialect), self._clock)
        except ThsourcesError as exc:  # refused before running: say which source refused
            exc.source = exc.source or self.name
            raise
        cursor = con.cursor()
        deadline = DEFAULT_TIMEOUT if timeout is None else timeout
        timed_out = threading.Event()

        def interrupt() -> None:
            timed_out.set()
            cursor.interrupt()

        timer = threading.Timer(deadline, interrupt)
        timer.daemon = True
        started = time.perf_counter()
        timer.start()
        try:
            rel = cursor.sql(text)
            if rel is None:
                table, types = None, {}
            else:
                # DuckDB's JSON type reaches Arrow as a plain string: keep it json.
                types = {
                    name: "json"
                    for name, t in zip(rel.columns, rel.types, strict=True)
                    if str(t) == "JSON"
                }
                table = _fetch_arrow(rel)
        except duckdb.InterruptException:
            if timed_out.is_set():
                raise QueryTimeout(
                    f"the query did not finish within {deadline:g} s and was interrupted; "
                    "pass a larger timeout",
                    source=self.name,
                ) from None
            raise KeyboardInterrupt from None
        except duckdb.Error as exc:
            message = str(exc)
            if "read-only" in message:
                raise PermissionDenied(
                    f"the local source is read-only: {message}", source=self.name
                ) from None
            raise QueryError(message, source=self.name) from None
        finally:
            timer.cancel()
            cursor.close()
        runtime = time.perf_counter() - started
        meta = ResultMeta(source=self.name, query=text, runtime_s=runtime, cached=False)
        if table is None:
            return Result.from_columns([], [], meta)
        return Result.from_arrow(table, types=types, meta=meta)

    def tables(self) -> list[str]:
        """The tables in the database, for discovery."""
        return [
            r["table_name"]
            for r in self.query(
                "SELECT table_name FROM information_schema.tables ORDER BY table_name"
            ).records()
        ]

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["path"] = str(self._path_option) if self._path_option else "(embedded sample)"
        return info

    def close(self) -> None:
        with self._lock:
            if self._con is not None:
                self._con.close()
                self._con = None
