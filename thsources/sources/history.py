"""The ``history`` source: PostgreSQL SQL over the local history store (``thsources pull``).

It answers like the ``local`` source (the same PostgreSQL-to-DuckDB translation, worker
thread, deadline and Ctrl-C) but over the history file, and it differs in two ways that
keep it a kind of its own rather than a ``local`` profile with a ``path``: it opens the file
per query under the store's shared lock, so a pull (which takes the lock exclusively) is
never refused by a reader holding the file open, nor a reader by a pull; and ``now()`` is
the wall clock, not the sample's last push. The common machinery lives in
:mod:`thsources.local` (a source never imports another source).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, SourceUnavailable, ThsourcesError
from ..local import pgdialect
from ..local.attached import TABLES_COLUMNS, TABLES_SQL, attach_read_only, result_from
from ..local.execute import run_statement
from ..local.history_store import HISTORY_ENV, default_path, locked
from ..polling import ProgressCallback, check_timeout
from ..result import Result, ResultMeta
from ..sqlbind import bind
from .base import DEFAULT_TIMEOUT, CompletedJob, Job, Source, register

__all__ = ["HistorySource"]


@register("history")
class HistorySource(Source):
    """Run PostgreSQL SQL on the history store (``path``, default: ``$THSOURCES_HISTORY``
    or the user data directory)."""

    dialect = "postgresql"

    def __init__(self, name: str | None = None, *, path: str | Path | None = None) -> None:
        super().__init__(name)
        self.path = Path(path).expanduser() if path else default_path()

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("path",)

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        return CompletedJob(self.query(sql, params, timeout=timeout))

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Result:
        """Run one PostgreSQL SELECT on the store; waits while a pull is writing it."""
        limit = check_timeout(timeout, DEFAULT_TIMEOUT)
        if not isinstance(sql, str):
            raise ConfigError("the history source runs SQL text, not JX", source=self.name)
        bound = bind(sql, params, self.dialect)
        try:
            text = pgdialect.translate(bound)
        except ThsourcesError as exc:
            exc.source = exc.source or self.name
            exc.query = exc.query or bound
            raise
        return self._run(text, bound, limit, progress)

    def _run(
        self, text: str, shown: str, limit: float, progress: ProgressCallback | None = None
    ) -> Result:
        """Run DuckDB ``text`` (``shown`` is the caller's SQL) under the store's shared lock."""
        started = time.perf_counter()
        with locked(self.path, exclusive=False, timeout=limit):
            con = self._open()
            try:
                left = max(limit - (time.perf_counter() - started), 0.001)
                fetched = run_statement(
                    con, text, timeout=left, source=self.name, progress=progress, shown=shown
                )
            finally:
                con.close()
        meta = ResultMeta(
            source=self.name,
            query=shown,
            runtime_s=time.perf_counter() - started,
            retrieved_at=dt.datetime.now(dt.UTC),
        )
        return result_from(fetched, meta)

    def tables(self) -> Result:
        """Every column of every history table (and of ``pulls``), in table order."""
        result = self._run(TABLES_SQL, TABLES_SQL, DEFAULT_TIMEOUT)
        return Result.from_rows(TABLES_COLUMNS, result.rows(), result.meta)

    def cache_identity(self) -> dict[str, Any]:
        from .caching import file_identity

        return file_identity(self.path)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["path"] = str(self.path)
        return info

    def _open(self) -> Any:
        """A private in-memory DuckDB with the store attached read-only and locked down."""
        import duckdb

        if not self.path.is_file():
            raise ConfigError(
                f"the history store {str(self.path)!r} does not exist yet; fill it with "
                f"`thsources pull NAME --into TABLE` (or set {HISTORY_ENV} or the path option)",
                source=self.name,
            )
        try:
            return attach_read_only(self.path, "history")
        except duckdb.Error as exc:
            raise SourceUnavailable(
                f"cannot open the history store {str(self.path)!r}: {exc}", source=self.name
            ) from None
