"""A job whose statement runs on a thread of this process: the ``sql`` and ``local`` sources.

Run inside ``submit()``, a statement could be stopped only by its deadline or Ctrl-C: the
caller got its job back once it was over. Here the statement runs on a thread of its own and
``submit()`` returns at once, so ``job.cancel()`` — from ``run_many``, a DB-API cursor or any
other thread — reaches it where it runs: the work *arms* a :class:`Stopper` with the way to
stop it (a cancel request on the server, an interrupt of the embedded engine) for as long as
it holds the connection. The statement's own deadline is kept on its thread (and on the
server), so a job nobody waits on still ends by it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Final

from ..errors import QueryCancelled, QueryTimeout
from ..polling import Deadline, JobState, Progress, ProgressCallback, check_timeout
from ..result import Result
from .base import DEFAULT_TIMEOUT, Job, job_started

__all__ = ["StatementJob", "Stopper"]

log = logging.getLogger("thsources.sources")

_SLICE: Final = 0.1
"""Seconds between checks while waiting: bounds how late ``interrupt_main`` is seen (a real
SIGINT wakes the wait at once) and spaces the progress reports."""

_STOP_BOUND: Final = 60.0
"""Seconds ``cancel()`` waits for the statement to stop before giving up on it (its
deadline still ends it)."""

_OWN_DEADLINE: Final = 0.5
"""A ``result(timeout)`` ending within this many seconds of the job's own deadline waits for
that deadline instead: it stops the statement on the server first, with the server's word."""


class Stopper:
    """How to stop one running statement from another thread, while (and only while) it runs.

    The work ``arm``s it with an action once it holds a connection and ``disarm``s it before
    the connection serves anything else, so a late cancel never reaches the next statement.
    ``stop()`` records the request and runs the action; ``poke()`` runs it again, for an
    engine that drops a cancel sent before the statement reached it (PostgreSQL, MySQL and
    DuckDB all do). The action runs under the lock, so ``disarm`` waits for a cancel in flight.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._action: Callable[[], None] | None = None
        self._requested = threading.Event()
        self._sent = False

    @property
    def requested(self) -> bool:
        """Whether the statement was asked to stop."""
        return self._requested.is_set()

    def arm(self, action: Callable[[], None]) -> bool:
        """Make ``action`` the way to stop the statement; False if a stop came already."""
        with self._lock:
            if self._requested.is_set():
                return False
            self._action, self._sent = action, False
            return True

    def disarm(self) -> bool:
        """No more stopping through the action; True if it was sent (a connection that was
        sent a cancel is closed rather than reused: it could reach its next statement)."""
        with self._lock:
            self._action = None
            return self._sent

    def stop(self) -> None:
        self._requested.set()
        self.poke()

    def poke(self) -> None:
        with self._lock:
            action = self._action
            if action is None:
                return
            self._sent = True
            try:
                action()
            except Exception as exc:  # a cancel that fails must not hide why we stopped
                log.debug("stopping a statement failed: %s", type(exc).__name__)


class StatementJob(Job):
    """``work(stopper)`` running on a thread of its own; ``cancel()`` stops it where it runs.

    ``deadline`` is the one given to ``submit``: ``work`` keeps to it by itself.
    ``result(timeout)`` waits (cancelling the statement when ``timeout`` passes first) and
    returns its result or raises its error; after ``cancel()``, Ctrl-C in ``result()`` or a
    passed ``timeout`` it raises ``QueryCancelled`` / ``QueryTimeout``. Thread-safe.
    """

    def __init__(
        self,
        work: Callable[[Stopper], Result],
        *,
        source: str,
        deadline: Deadline,
        start: bool = True,
    ) -> None:
        self.id = None
        self._source = source
        self._deadline = deadline
        self._stopper = Stopper()
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._result: Result | None = None
        self._error: BaseException | None = None
        self._stopped: QueryCancelled | QueryTimeout | None = None  # why we stopped it
        self._started = False
        self._thread = threading.Thread(
            target=self._run, args=(work,), name="thsources-statement", daemon=True
        )
        if start:
            self._begin()

    def __repr__(self) -> str:
        return f"<StatementJob {self._source!r} {self.state.value}>"

    def _begin(self) -> None:
        """Start the statement's thread (once). ``query`` creates the job unstarted and
        starts it inside ``result()``, so that a Ctrl-C at any moment finds it stoppable."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._thread.start()
        job_started(self)

    def _run(self, work: Callable[[Stopper], Result]) -> None:
        try:
            self._result = work(self._stopper)
        except BaseException as exc:  # handed to whoever waits, who raises it
            self._error = exc
        finally:
            self._done.set()

    # -- the Job interface --------------------------------------------------------------------

    @property
    def state(self) -> JobState:
        """``running`` until the statement has ended, even after ``cancel()``: a statement
        that could not be stopped is still running."""
        if not self._done.is_set():
            return JobState.RUNNING
        with self._lock:
            if self._stopped is not None:
                return JobState.CANCELLED
        if self._error is None:
            return JobState.DONE
        if isinstance(self._error, QueryCancelled | QueryTimeout):
            return JobState.CANCELLED
        return JobState.FAILED

    def result(
        self, timeout: float | None = None, *, progress: ProgressCallback | None = None
    ) -> Result:
        """Wait for the statement and return its result (or raise its error).

        Without ``timeout`` the deadline given to ``submit`` applies. A ``timeout`` that
        passes first stops the statement and raises ``QueryTimeout``. Ctrl-C (or an exception
        ``progress`` raises) stops the statement before it propagates. ``progress`` hears
        ``running`` every 0.1 s while the statement runs, then ``done``.
        """
        limit = None if timeout is None else check_timeout(timeout, DEFAULT_TIMEOUT)
        end = math.inf if limit is None else time.monotonic() + limit
        if end + _OWN_DEADLINE >= time.monotonic() + self._deadline.remaining():
            end = math.inf  # the job's own deadline comes first (or about as soon)
        waits = 0
        try:
            self._begin()
            while not self._done.is_set():
                if time.monotonic() >= end:
                    assert limit is not None
                    stopped = QueryTimeout(
                        f"no result within {limit:g} s; the statement was stopped",
                        source=self._source,
                    )
                    self._stop(stopped)
                    raise stopped
                self._done.wait(min(_SLICE, max(0.0, end - time.monotonic())))
                waits += 1
                if progress is not None:
                    state = JobState.DONE if self._done.is_set() else JobState.RUNNING
                    elapsed = self._deadline.elapsed()
                    progress(Progress(state, elapsed, None, waits, self._source))
        except BaseException as exc:
            # Ctrl-C, or a progress callback that wants the statement stopped.
            if not isinstance(exc, QueryTimeout):
                why = "Ctrl-C" if isinstance(exc, KeyboardInterrupt) else type(exc).__name__
                halted = QueryCancelled(f"the statement was stopped ({why})", source=self._source)
                self._stop(halted)
            raise
        return self._outcome()

    def cancel(self) -> None:
        """Stop the statement where it runs (a cancel request on the server, an interrupt of
        DuckDB) and wait until it has stopped; a later ``result()`` raises
        ``QueryCancelled``. A job that failed already keeps its error."""
        if self._done.is_set() and self._error is not None:
            return
        self._stop(QueryCancelled("the job was cancelled", source=self._source))

    # -- internals ----------------------------------------------------------------------------

    def _stop(self, why: QueryCancelled | QueryTimeout) -> None:
        """Record ``why`` (the first reason wins), stop the statement and wait for its thread:
        the cancel is repeated, with growing pauses, until the statement is seen to end."""
        with self._lock:
            if self._stopped is None:
                self._stopped = why
            if not self._started:  # stopped before it started: it never will
                self._started = True
                self._done.set()
                return
        self._stopper.stop()
        give_up = time.monotonic() + _STOP_BOUND
        pause = _SLICE
        while not self._done.wait(pause):
            if time.monotonic() >= give_up:
                log.warning("%s: the statement did not stop within %g s", self._source, _STOP_BOUND)
                return
            self._stopper.poke()
            pause = min(1.0, pause * 2)

    def _outcome(self) -> Result:
        with self._lock:
            stopped = self._stopped
        if stopped is not None:
            raise stopped
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result
