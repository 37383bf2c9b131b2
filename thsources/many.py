"""Several queries at once, any mix of sources: answers as they finish, one deadline for all.

Each query runs on a thread of its own (sources whose ``submit`` answers synchronously
overlap too), every one is given the time left on the batch's single deadline, and stopping
the batch reaches each running query in one of two ways:

- a source whose statement runs as a background job (``sql``, ``local``: see
  sources/statement_job.py) tells the batch of the job as it starts (``watch_jobs``), even
  inside a named query, and the batch calls ``job.cancel()``: the statement is cancelled on
  the server (PostgreSQL's cancel request, MySQL's ``KILL QUERY``) or DuckDB is interrupted;
- a source whose ``query`` takes a progress callback (Redash) is reached through it: the
  callback raises, and the source does what it does on Ctrl-C (Redash cancels its job with
  ``DELETE /api/jobs/<id>``).

Sources with neither (``treeherder``, ``activedata``) cannot be reached while a request
runs: they end at the batch's deadline, which they were given.
"""

from __future__ import annotations

import functools
import inspect
import logging
import math
import queue
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .errors import ParameterError, QueryCancelled, QueryError, QueryTimeout, ThsourcesError
from .polling import Deadline, Progress, check_timeout
from .result import Result
from .sources.base import DEFAULT_TIMEOUT, Job, Source, watch_jobs

__all__ = ["Answer", "Batch", "Query", "run_many"]

log = logging.getLogger("thsources.many")

GRACE: Final = 10.0
"""Seconds past the deadline to wait for a query that does not end by itself at the deadline
(a source that cannot stop a request in flight); after that it is reported as timed out."""


@dataclass(frozen=True)
class Query:
    """One query of a batch: a named query (``name``) or SQL (``sql``), on ``source``.

    ``source`` is a connected source, a profile or kind name, or None for ``connect()``.
    ``tag`` says which answer is which; it defaults to ``name`` and must be given for SQL.
    """

    name: str | None = None
    params: Mapping[str, Any] | None = None
    sql: str | None = None
    source: Source | str | None = None
    tag: str | None = None

    @property
    def label(self) -> str:
        """The tag its answer carries."""
        tag = self.tag if self.tag is not None else self.name
        assert tag is not None  # checked by run_many
        return tag


@dataclass(frozen=True)
class Answer:
    """One query's outcome: ``tag``, the ``query``, its ``Result`` or the error it raised."""

    tag: str
    query: Query
    error: ThsourcesError | None = None
    elapsed_s: float = 0.0
    _result: Result | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    def result(self) -> Result:
        """The query's result; raises the query's error if it failed."""
        if self.error is not None:
            raise self.error
        assert self._result is not None
        return self._result


class _Stop(Exception):
    """Raised inside a running query's progress callback to make its source stop it."""


class Batch:
    """Queries running together. Iterate for :class:`Answer` objects in completion order.

    Started by :func:`run_many`. Leaving a ``with`` block, breaking out of the loop and
    ``cancel()`` stop the queries still running (their remote jobs are cancelled) and wait
    for them to end; connections opened for profile names are closed then. After the
    iteration ended early, ``dropped`` holds the answers it did not hand out.
    """

    def __init__(
        self,
        queries: list[Query],
        *,
        deadline: Deadline,
        cancel_on_error: bool,
        max_age: float,
        max_workers: int,
    ) -> None:
        self.queries = queries
        self.deadline = deadline
        self.cancel_on_error = cancel_on_error
        self._max_age = max_age
        self._hard_end = time.monotonic() + deadline.remaining() + GRACE
        self._stop = threading.Event()
        self._jobs_lock = threading.Lock()
        self._jobs: set[Job] = set()  # the background jobs of the queries running now
        self._why = "the batch was cancelled"
        self._done: queue.Queue[tuple[int, Answer]] = queue.Queue()
        self._todo: queue.Queue[int] = queue.Queue()
        self._owned: list[Source] = []
        self._sources = self._connect_all()
        self._pending = set(range(len(queries)))
        self.dropped: list[Answer] = []
        """Answers not handed out because the iteration ended first (raised or left): the
        queries the batch stopped, with the ``QueryCancelled`` saying why."""
        for i in range(len(queries)):
            self._todo.put(i)
        self._threads = [
            threading.Thread(target=self._work, name=f"thsources-many-{n}", daemon=True)
            for n in range(min(max_workers, len(queries)))
        ]
        for t in self._threads:
            t.start()

    # -- the caller's side --------------------------------------------------------------------

    def __iter__(self) -> Iterator[Answer]:
        try:
            while self._pending:
                i, answer = self._next()
                if i not in self._pending:
                    continue  # the late answer of a query already reported as timed out
                self._pending.discard(i)
                if answer.error is not None and self.cancel_on_error:
                    self._halt(f"{answer.tag!r} failed")
                    raise answer.error
                yield answer
        finally:
            self._halt("the caller stopped reading the answers")
            self._drain()

    def results(self) -> dict[str, Result]:
        """Every result by tag, once all have finished; the first failure raises."""
        out: dict[str, Result] = {}
        for answer in self:
            out[answer.tag] = answer.result()
        return out

    def cancel(self) -> None:
        """Stop every query still running and wait for them to end."""
        self._halt("the batch was cancelled")

    def __enter__(self) -> Batch:
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt("the batch was left")

    # -- internals ----------------------------------------------------------------------------

    def _connect_all(self) -> list[Source]:
        from . import connect

        by_name: dict[str | None, Source] = {}
        out: list[Source] = []
        try:
            for q in self.queries:
                if isinstance(q.source, Source):
                    out.append(q.source)
                    continue
                if q.source not in by_name:
                    by_name[q.source] = connect(q.source)
                    self._owned.append(by_name[q.source])
                out.append(by_name[q.source])
        except BaseException:
            self._close_owned()
            raise
        return out

    def _next(self) -> tuple[int, Answer]:
        """The next answer to arrive; past the deadline and its grace, a timeout for one
        query still running (its thread is left to end by itself)."""
        wait = max(0.0, self._hard_end - time.monotonic())
        try:
            return self._done.get(timeout=wait) if wait < 1e9 else self._done.get()
        except queue.Empty:
            self._stop.set()
            i = min(self._pending)
            q = self.queries[i]
            return i, Answer(
                q.label,
                q,
                QueryTimeout(
                    f"{q.label!r} did not end within {self.deadline.timeout:g} s "
                    f"(nor {GRACE:g} s later)",
                    source=self._sources[i].name,
                ),
                self.deadline.elapsed(),
            )

    def _drain(self) -> None:
        """Keep the answers that arrived but were not handed out, in ``dropped``."""
        while True:
            try:
                i, answer = self._done.get_nowait()
            except queue.Empty:
                return
            if i in self._pending:
                self._pending.discard(i)
                self.dropped.append(answer)

    def _halt(self, why: str) -> None:
        """Stop what still runs, wait for it (bounded by the deadline) and close connections."""
        with self._jobs_lock:
            if not self._stop.is_set():
                self._why = why
                self._stop.set()
            jobs = list(self._jobs)
        for job in jobs:
            _cancel(job)
        end = self._hard_end
        for t in self._threads:
            t.join(None if end == math.inf else max(0.0, end - time.monotonic()))
        self._close_owned()

    def _close_owned(self) -> None:
        owned, self._owned = self._owned, []
        for src in owned:
            src.close()

    def _work(self) -> None:
        while True:
            try:
                i = self._todo.get_nowait()
            except queue.Empty:
                return
            started = time.monotonic()
            q, src = self.queries[i], self._sources[i]
            error: ThsourcesError | None = None
            result: Result | None = None
            started_jobs: list[Job] = []
            try:
                with watch_jobs(functools.partial(self._watch, started=started_jobs)):
                    result = self._run(q, src)
            except _Stop:
                error = QueryCancelled(f"{q.label!r} was cancelled: {self._why}", source=src.name)
            except ThsourcesError as exc:
                error = exc
                if isinstance(exc, QueryCancelled) and self._stop.is_set():
                    error = QueryCancelled(
                        f"{q.label!r} was cancelled: {self._why}", source=src.name
                    )
                    error.__cause__ = exc
            except Exception as exc:  # a bug or a source outside the tree: still an answer
                error = QueryError(f"{q.label!r} failed: {type(exc).__name__}: {exc}")
                error.__cause__ = exc
            with self._jobs_lock:  # ended: nothing left to cancel (and no result kept here)
                self._jobs.difference_update(started_jobs)
            self._done.put((i, Answer(q.label, q, error, time.monotonic() - started, result)))

    def _watch(self, job: Job, started: list[Job]) -> None:
        """A query's source started a background job: keep it while the query runs, and
        cancel it at once if the batch is stopping already."""
        started.append(job)
        with self._jobs_lock:
            self._jobs.add(job)
            stopping = self._stop.is_set()
        if stopping:
            _cancel(job)

    def _run(self, q: Query, src: Source) -> Result:
        if self._stop.is_set():
            raise _Stop
        left = self.deadline.remaining()
        if left <= 0:
            raise QueryTimeout(
                f"{q.label!r} did not start within {self.deadline.timeout:g} s",
                source=src.name,
            )

        def stop_if_asked(event: Progress) -> None:
            if self._stop.is_set():
                raise _Stop

        if q.sql is not None:
            options: dict[str, Any] = {"max_age": self._max_age, "timeout": left}
            if _accepts_progress(src):
                options["progress"] = stop_if_asked
            return src.query(q.sql, q.params, **options)
        from .catalog import run_named

        assert q.name is not None
        return run_named(
            q.name, src, q.params, max_age=self._max_age, timeout=left, progress=stop_if_asked
        )


def _cancel(job: Job) -> None:
    """Cancel a running job; one that cannot be cancelled ends at the batch's deadline."""
    if job.done():
        return
    try:
        job.cancel()
    except ThsourcesError as exc:
        log.debug("cancelling %r failed: %s", job, exc.message)


def _accepts_progress(source: Source) -> bool:
    try:
        return "progress" in inspect.signature(source.query).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _checked(queries: Iterable[Query]) -> list[Query]:
    out = list(queries)
    if not out:
        raise ParameterError("no queries given: pass at least one Query")
    seen: set[str] = set()
    for n, q in enumerate(out, 1):
        if not isinstance(q, Query):
            raise ParameterError(
                f"query {n} is a {type(q).__name__}, not a thsources.Query; "
                "write Query('name', params) or Query(sql='...', tag='...')"
            )
        if (q.name is None) == (q.sql is None):
            raise ParameterError(
                f"query {n} needs either a named query (name=...) or SQL (sql=...), "
                "not both and not neither"
            )
        if q.tag is None and q.name is None:
            raise ParameterError(f"query {n} is SQL without a tag: give it tag='...'")
        if q.label in seen:
            raise ParameterError(
                f"two queries are tagged {q.label!r}: give each a distinct tag='...'"
            )
        seen.add(q.label)
    return out


def run_many(
    queries: Iterable[Query],
    *,
    timeout: float | None = None,
    cancel_on_error: bool = False,
    max_age: float = 0,
    max_workers: int = 32,
) -> Batch:
    """Start ``queries`` together and return the :class:`Batch`; iterate it for answers.

    ``timeout`` (seconds, ``inf`` for none) is one deadline for the lot: each query gets the
    time left, and a query still running when it passes is stopped (its remote job cancelled)
    and answers :class:`~thsources.errors.QueryTimeout`. With ``cancel_on_error`` the first
    failure stops the others and the iteration raises it; otherwise failures are answers
    whose ``result()`` raises. At most ``max_workers`` queries run at a time.
    """
    checked = _checked(queries)
    if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
        raise ParameterError(f"max_workers must be a positive integer, not {max_workers!r}")
    deadline = Deadline(check_timeout(timeout, DEFAULT_TIMEOUT))
    return Batch(
        checked,
        deadline=deadline,
        cancel_on_error=cancel_on_error,
        max_age=max_age,
        max_workers=max_workers,
    )
