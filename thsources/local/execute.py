"""Running one DuckDB statement so that a deadline and Ctrl-C stop it at once.

DuckDB runs a statement inside C++ code where Python cannot deliver ``KeyboardInterrupt``:
run on the caller's thread, Ctrl-C waits for the query to end. So the statement runs on a
worker thread and the caller's thread only waits, in short slices, where a signal (or
``_thread.interrupt_main``) reaches it. When the deadline passes, Ctrl-C arrives or ``stop()``
says so (``job.cancel()`` on the local source's job), the waiting thread calls
``cursor.interrupt()``, waits for the worker to stop, and raises
:class:`~thsources.errors.QueryTimeout`, re-raises ``KeyboardInterrupt`` or raises
:class:`~thsources.errors.QueryCancelled`.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from ..errors import PermissionDenied, QueryCancelled, QueryError, QueryTimeout, ThsourcesError
from ..polling import JobState, Progress, ProgressCallback

__all__ = ["Fetched", "run_on_worker", "run_statement"]

log = logging.getLogger("thsources.local")

_SLICE: Final = 0.1
"""Seconds between checks while waiting: bounds how late ``interrupt_main`` is seen.
A real SIGINT wakes the wait at once."""


@dataclass(frozen=True, slots=True)
class Fetched:
    """What one statement returned: its rows as Arrow (None for a statement without rows)
    and the columns DuckDB typed JSON (Arrow sees them as plain strings)."""

    table: Any
    json_columns: tuple[str, ...]


def _fetch_arrow(rel: Any) -> Any:
    # duckdb 2 names it to_arrow_table; 1.x fetch_arrow_table.
    fetch = getattr(rel, "to_arrow_table", None) or rel.fetch_arrow_table
    return fetch()


def _fetch(cursor: Any, text: str) -> Fetched:
    rel = cursor.sql(text)
    if rel is None:
        return Fetched(None, ())
    json_columns = tuple(
        name for name, t in zip(rel.columns, rel.types, strict=True) if str(t) == "JSON"
    )
    return Fetched(_fetch_arrow(rel), json_columns)


class _Worker(threading.Thread):
    """Runs the statement; keeps its outcome for the waiting thread and sets ``done``.

    The waiting thread waits on ``done``, never with ``join``: on Python 3.11 a
    ``KeyboardInterrupt`` inside ``join`` marks a thread that is still running as stopped.
    """

    def __init__(self, cursor: Any, work: Callable[[Any], Any]) -> None:
        super().__init__(name="thsources-local-query", daemon=True)
        self.cursor = cursor
        self.work = work
        self.outcome: Any = None
        self.finished = False
        self.error: BaseException | None = None
        self.done = threading.Event()

    def run(self) -> None:
        try:
            self.outcome = self.work(self.cursor)
            self.finished = True
        except BaseException as exc:  # handed to the waiting thread, which raises it
            self.error = exc
        finally:
            self.done.set()

    @property
    def running(self) -> bool:
        return self.is_alive() and not self.done.is_set()


def run_statement(
    con: Any,
    text: str,
    *,
    timeout: float,
    source: str,
    progress: ProgressCallback | None = None,
    shown: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> Fetched:
    """Run ``text`` on a fresh cursor of ``con``; stop it after ``timeout`` s, on Ctrl-C or
    once ``stop()`` is true.

    See :func:`run_on_worker`, which this calls with the one statement as the work.
    """
    shown = text if shown is None else shown
    fetched: Fetched = run_on_worker(
        con,
        lambda cursor: _fetch(cursor, text),
        timeout=timeout,
        source=source,
        progress=progress,
        shown=shown,
        stop=stop,
    )
    return fetched


def run_on_worker(
    con: Any,
    work: Callable[[Any], Any],
    *,
    timeout: float,
    source: str,
    progress: ProgressCallback | None = None,
    shown: str | None = None,
    stop: Callable[[], bool] | None = None,
) -> Any:
    """Run ``work(cursor)`` on a fresh cursor of ``con`` on a worker thread; stop it after
    ``timeout`` s, on Ctrl-C or once ``stop()`` is true (asked every 0.1 s; then
    ``QueryCancelled``) — any number of statements: the JX evaluator runs several.

    ``timeout`` is positive seconds, ``math.inf`` for no limit (already checked by the caller).
    ``progress`` hears ``running`` every slice the statement is still going, then ``done``;
    an exception it raises (``KeyboardInterrupt``) stops the statement too. DuckDB's errors
    come back as thsources errors carrying ``shown`` (the SQL the caller wrote, when ``text``
    is what it was translated to) as ``.query``.
    """
    cursor = con.cursor()
    worker = _Worker(cursor, work)
    started = time.monotonic()
    end = started + timeout
    timed_out = cancelled = False
    waits = 0
    log.debug("%s: running a statement (timeout %g s)", source, timeout)
    try:
        worker.start()
        while worker.running:
            left = end - time.monotonic()
            if left <= 0:
                timed_out = True
                _stop(worker)
                break
            if stop is not None and stop():
                cancelled = True
                _stop(worker)
                break
            worker.done.wait(min(left, _SLICE))
            waits += 1
            if progress is not None:
                state = JobState.RUNNING if worker.running else JobState.DONE
                progress(Progress(state, time.monotonic() - started, None, waits, source))
    except BaseException:
        # Ctrl-C (or anything else raised while waiting): stop the statement before leaving.
        _stop(worker)
        raise
    finally:
        if not worker.running:
            cursor.close()
    if worker.error is None and worker.finished:
        return worker.outcome
    if cancelled:
        raise QueryCancelled(
            "the query was cancelled and DuckDB was interrupted", source=source, query=shown
        )
    if timed_out:
        limit = "the deadline" if math.isinf(timeout) else f"{timeout:g} s"
        raise QueryTimeout(
            f"the query did not finish within {limit} and was interrupted; "
            "pass a larger timeout (or inf for no limit)",
            source=source,
            query=shown,
        )
    assert worker.error is not None
    raise _translate(worker.error, source, shown)


def _stop(worker: _Worker) -> None:
    """Interrupt the statement and wait until the worker has let go of it.

    The interrupt is repeated: one sent before DuckDB has started the statement is lost.
    A second Ctrl-C while waiting here propagates (the worker thread is a daemon).
    """
    while worker.running:
        worker.cursor.interrupt()
        worker.done.wait(_SLICE)


def _translate(exc: BaseException, source: str, text: str | None) -> BaseException:
    """The thsources error for what the worker raised (DuckDB's own types stay inside)."""
    import duckdb

    if isinstance(exc, ThsourcesError):
        return exc
    if isinstance(exc, duckdb.InterruptException):
        # Interrupted from outside this call (another thread called cursor.interrupt()).
        return KeyboardInterrupt()
    if isinstance(exc, duckdb.Error):
        message = str(exc)
        if "read-only" in message or isinstance(exc, duckdb.PermissionException):
            return PermissionDenied(
                f"the local source is read-only: {message}", source=source, query=text
            )
        return QueryError(message, source=source, query=text)
    if isinstance(exc, Exception):
        error = QueryError(
            f"the local source could not return the result: {type(exc).__name__}: {exc}",
            source=source,
            query=text,
        )
        error.__cause__ = exc
        return error
    return exc
