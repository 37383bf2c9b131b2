"""Waiting on remote jobs: one deadline, an adaptive poll schedule, progress events, cancel.

Every asynchronous source (Redash today, others later) waits the same way, so the rules live
here once: poll often at first (most queries finish in well under a second), back off as the
wait grows, tell an optional callback what is happening, and never abandon a remote job
without trying to cancel it, whether the deadline passed, something failed, or the user
pressed Ctrl-C.
"""

from __future__ import annotations

import enum
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Final, TypeVar

from .errors import QueryError, QueryTimeout, ThsourcesError

__all__ = [
    "DEFAULT_POLL",
    "Deadline",
    "JobState",
    "Pending",
    "PollSchedule",
    "Progress",
    "ProgressCallback",
    "check_timeout",
    "wait_or_cancel",
]


class JobState(enum.Enum):
    """One canonical job state; each source translates its own status values into these."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


log = logging.getLogger("thsources.polling")

T = TypeVar("T")


class Deadline:
    """A point in (monotonic) time after which the caller no longer wants to wait.

    ``Deadline(None)`` never expires. The deadline is an absolute instant rather than a
    duration so that every request, sleep and retry inside one call shares the same budget.
    """

    __slots__ = ("_clock", "_end", "_start", "timeout")

    def __init__(
        self, timeout: float | None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if timeout is not None and (math.isnan(timeout) or timeout < 0):
            raise ValueError(f"timeout must be a non-negative number of seconds, not {timeout!r}")
        self.timeout = timeout
        self._clock = clock
        self._start = clock()
        self._end = math.inf if timeout is None else self._start + timeout

    @property
    def started(self) -> float:
        """The clock reading when the deadline was set."""
        return self._start

    def elapsed(self) -> float:
        return self._clock() - self._start

    def remaining(self) -> float:
        """Seconds left (``math.inf`` without a deadline; never negative)."""
        return max(0.0, self._end - self._clock())

    @property
    def expired(self) -> bool:
        return self._clock() >= self._end

    def cap(self, seconds: float) -> float:
        """``seconds``, shortened so as not to run past the deadline."""
        return min(seconds, self.remaining())

    def __repr__(self) -> str:
        if self.timeout is None:
            return "Deadline(None)"
        return f"Deadline({self.timeout:g}s, {self.remaining():.3f}s left)"


@dataclass(frozen=True, slots=True)
class PollSchedule:
    """How long to sleep between polls, ``elapsed`` seconds into the wait::

        max(first, min(cap, first + ramp * elapsed, slack + factor * elapsed))

    Most Redash queries finish in a fraction of a second, and a fixed 1 s loop adds a second
    to every one of them: the first polls come every few tens of milliseconds. Later the
    interval is a fraction of the time already waited, so a job seen late is seen at most
    ``factor`` of its duration (plus ``slack``) late, while a long job costs few polls.

    Defaults (``first=0.02``, ``ramp=0.3``, ``factor=0.14``, ``slack=0.03``, ``cap=5``) keep
    every job from 50 ms to minutes within 1.15 x its duration + 50 ms, with 30 polls for a
    10 s job and about 150 for a 10-minute one (benchmarks/redash_polling.py).
    """

    first: float = 0.02
    ramp: float = 0.3
    factor: float = 0.14
    slack: float = 0.03
    cap: float = 5.0

    def __post_init__(self) -> None:
        if not (0 < self.first <= self.cap) or min(self.factor, self.ramp, self.slack) < 0:
            raise ValueError(
                f"invalid poll schedule {self!r}: need 0 < first <= cap and "
                "factor, ramp, slack >= 0"
            )

    def interval(self, elapsed: float) -> float:
        """Seconds to sleep before the next poll, ``elapsed`` seconds into the wait."""
        e = max(0.0, elapsed)
        grown = min(self.cap, self.first + self.ramp * e, self.slack + self.factor * e)
        return max(self.first, grown)

    def with_first(self, first: float) -> PollSchedule:
        return replace(self, first=first)

    def with_cap(self, cap: float) -> PollSchedule:
        return replace(self, cap=cap)

    def with_factor(self, factor: float) -> PollSchedule:
        return replace(self, factor=factor)


DEFAULT_POLL: Final = PollSchedule()
"""The schedule used when a source is given none (see :class:`PollSchedule`)."""


@dataclass(frozen=True, slots=True)
class Progress:
    """One progress report while a job is waited on: what a status line needs."""

    state: JobState
    elapsed_s: float
    job_id: str | None
    polls: int
    source: str | None = None


ProgressCallback = Callable[[Progress], None]


@dataclass(frozen=True, slots=True)
class Pending:
    """What a poll function returns while the job is not finished yet.

    ``job_id`` may differ from the one the wait started with: a source that had to
    re-submit a lost job reports the new id here.
    """

    state: JobState
    job_id: str | None = None


def wait_or_cancel(
    poll: Callable[[], T | Pending],
    *,
    cancel: Callable[[], bool],
    deadline: Deadline,
    schedule: PollSchedule = DEFAULT_POLL,
    progress: ProgressCallback | None = None,
    job_id: str | None = None,
    source: str | None = None,
    started: float | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    terminal: tuple[type[BaseException], ...] = (QueryError,),
) -> T:
    """Call ``poll`` on ``schedule`` until it returns a value other than :class:`Pending`.

    Whatever ends the wait early, the remote job is cancelled with ``cancel()`` (best
    effort; it returns False when the credentials cannot cancel) before the exception
    propagates:

    - the deadline passing raises :class:`QueryTimeout` (also when a request failed because
      the deadline ran out during it);
    - ``KeyboardInterrupt`` (and any other ``BaseException``) is re-raised unchanged;
    - any other exception is re-raised unchanged,

    except exceptions of the ``terminal`` types raised by ``poll``, which say the job has
    already ended (a query error, a cancellation seen on the server): nothing is left to
    cancel. ``started`` (a ``clock`` reading) is when the job was submitted; the schedule and
    the progress events count from it.
    """
    t0 = deadline.started if started is None else started
    polls = 0
    current = job_id
    try:
        while True:
            if deadline.expired:
                raise QueryTimeout(_timeout_text(deadline), source=source, job_id=current)
            outcome = poll()
            polls += 1
            if isinstance(outcome, Pending):
                current = outcome.job_id or current
                if progress is not None:
                    progress(Progress(outcome.state, clock() - t0, current, polls, source))
                wait = deadline.cap(schedule.interval(clock() - t0))
                if wait > 0:
                    sleep(wait)
                continue
            if progress is not None:
                progress(Progress(JobState.DONE, clock() - t0, current, polls, source))
            return outcome
    except BaseException as exc:
        if isinstance(exc, terminal) and not isinstance(exc, QueryTimeout):
            raise
        note = _cancel_quietly(cancel, current, source)
        if isinstance(exc, QueryTimeout) or (
            deadline.expired and isinstance(exc, Exception) and not isinstance(exc, QueryError)
        ):
            raise QueryTimeout(
                f"{_timeout_text(deadline)}; {note}", source=source, job_id=current
            ) from exc
        raise


def _timeout_text(deadline: Deadline) -> str:
    limit = "the deadline" if deadline.timeout is None else f"{deadline.timeout:g} s"
    return f"no result within {limit}"


def _cancel_quietly(cancel: Callable[[], bool], job_id: str | None, source: str | None) -> str:
    """Cancel, never raising an ``Exception``: the caller's own error is what matters.

    A second Ctrl-C during the cancel (a ``BaseException``) is let through on purpose.
    """
    try:
        done = cancel()
    except ThsourcesError as exc:
        log.debug("cancelling job %s on %s failed: %s", job_id, source, exc.message)
        return f"cancelling the remote job failed: {exc.message}"
    except Exception as exc:
        log.debug("cancelling job %s on %s failed: %s", job_id, source, type(exc).__name__)
        return f"cancelling the remote job failed ({type(exc).__name__})"
    if done:
        return "the remote job was cancelled"
    return "the remote job could not be cancelled with these credentials"


def check_timeout(timeout: object, default: float) -> float:
    """The caller's ``timeout`` as seconds, or ``ParameterError`` saying what is accepted.

    Every source's ``query``/``submit`` calls this first, so each value means the same
    everywhere: ``None`` is ``default``; a positive number is that many seconds;
    ``math.inf`` waits without limit. ``0``, negative numbers, NaN, booleans and anything
    that is not a number are refused before a query starts: 0 would give up before asking.
    """
    from .errors import ParameterError

    value = default if timeout is None else timeout
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value <= 0
    ):
        raise ParameterError(
            f"timeout must be a positive number of seconds (or inf for no limit), not {value!r}"
        )
    return float(value)
