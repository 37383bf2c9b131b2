"""thsources.polling: deadline, adaptive schedule, progress events, cancel on abandon.

Time is simulated (a fake clock advanced by a fake sleep) so nothing here depends on how fast
the machine is.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from thsources.errors import QueryCancelled, QueryError, QueryTimeout, SourceUnavailable
from thsources.polling import (
    DEFAULT_POLL,
    Deadline,
    Pending,
    PollSchedule,
    Progress,
    wait_or_cancel,
)
from thsources.sources.base import JobState


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


class Cancel:
    """A cancel callable that records its calls."""

    def __init__(self, result: bool = True, error: BaseException | None = None) -> None:
        self.calls = 0
        self.result = result
        self.error = error

    def __call__(self) -> bool:
        self.calls += 1
        if self.error is not None:
            raise self.error
        return self.result


def scripted(outcomes: list[object]) -> Callable[[], object]:
    """A poll function returning (or raising) the given outcomes in turn."""
    it = iter(outcomes)

    def poll() -> object:
        item = next(it)
        if isinstance(item, BaseException):
            raise item
        return item

    return poll


# -- Deadline ----------------------------------------------------------------------------------


def test_deadline_none_never_expires() -> None:
    clock = FakeClock()
    d = Deadline(None, clock=clock)
    clock.now += 1e9
    assert not d.expired
    assert d.remaining() == math.inf
    assert d.cap(5.0) == 5.0
    assert repr(d) == "Deadline(None)"


def test_deadline_counts_down_and_caps() -> None:
    clock = FakeClock()
    d = Deadline(10, clock=clock)
    assert d.remaining() == 10
    clock.now += 4
    assert d.elapsed() == 4
    assert d.remaining() == 6
    assert d.cap(100) == 6
    assert d.cap(1) == 1
    assert not d.expired
    clock.now += 6
    assert d.expired
    assert d.remaining() == 0
    clock.now += 6
    assert d.remaining() == 0  # never negative
    assert "10s" in repr(d)


@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_deadline_rejects_nonsense(bad: float) -> None:
    with pytest.raises(ValueError):
        Deadline(bad)


def test_zero_deadline_is_already_expired() -> None:
    assert Deadline(0, clock=FakeClock()).expired


# -- PollSchedule ------------------------------------------------------------------------------


def test_schedule_starts_short_grows_and_is_capped() -> None:
    s = PollSchedule()
    assert s.interval(0) == pytest.approx(0.02)  # tens of milliseconds at first
    assert s.interval(0.1) == pytest.approx(0.044)  # 0.03 + 0.14 * 0.1
    assert s.interval(0.05) == pytest.approx(0.035)  # the ramp: 0.02 + 0.3 * 0.05
    assert s.interval(1.0) == pytest.approx(0.17)
    assert s.interval(5.0) == pytest.approx(0.73)
    assert s.interval(20.0) == pytest.approx(2.83)
    assert s.interval(3600.0) == pytest.approx(5.0)
    assert s == DEFAULT_POLL


def test_schedule_is_an_immutable_value() -> None:
    s = PollSchedule()
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.cap = 5  # type: ignore[misc]
    t = s.with_cap(5.0).with_first(0.01).with_factor(0.2)
    assert (t.first, t.factor, t.cap) == (0.01, 0.2, 5.0)
    assert (s.first, s.factor, s.cap) == (0.02, 0.14, 5.0)
    assert hash(s) == hash(PollSchedule())


@pytest.mark.parametrize(
    "kwargs", [{"first": 0}, {"first": 3, "cap": 2}, {"factor": -1}, {"first": -0.1}]
)
def test_schedule_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        PollSchedule(**kwargs)


@given(
    first=st.floats(0.001, 1.0),
    factor=st.floats(0.0, 2.0),
    extra_cap=st.floats(0.0, 10.0),
    a=st.floats(0.0, 1e6),
    b=st.floats(0.0, 1e6),
)
def test_schedule_bounded_and_monotone(
    first: float, factor: float, extra_cap: float, a: float, b: float
) -> None:
    s = PollSchedule(first=first, factor=factor, cap=first + extra_cap)
    lo, hi = sorted((a, b))
    assert first <= s.interval(lo) <= s.cap
    assert s.interval(lo) <= s.interval(hi)


# -- wait_or_cancel ----------------------------------------------------------------------------


def test_returns_the_value_and_reports_progress() -> None:
    clock = FakeClock()
    cancel = Cancel()
    events: list[Progress] = []
    poll = scripted(
        [Pending(JobState.QUEUED), Pending(JobState.RUNNING), Pending(JobState.RUNNING), "rows"]
    )
    out = wait_or_cancel(
        poll,
        cancel=cancel,
        deadline=Deadline(60, clock=clock),
        progress=events.append,
        job_id="j1",
        source="redash",
        sleep=clock.sleep,
        clock=clock,
    )
    assert out == "rows"
    assert cancel.calls == 0
    assert [e.state for e in events] == [
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.RUNNING,
        JobState.DONE,
    ]
    assert [e.polls for e in events] == [1, 2, 3, 4]
    assert all(e.job_id == "j1" and e.source == "redash" for e in events)
    assert events[0].elapsed_s == 0
    assert events[-1].elapsed_s == pytest.approx(sum(clock.sleeps))
    with pytest.raises(dataclasses.FrozenInstanceError):
        events[0].polls = 9  # type: ignore[misc]


def test_sleeps_follow_the_schedule_from_submission() -> None:
    clock = FakeClock()
    schedule = PollSchedule(first=0.05, ramp=10.0, factor=0.5, slack=0.0, cap=1.0)
    started = clock.now - 1.0  # submitted a second before waiting began
    poll = scripted([Pending(JobState.RUNNING)] * 4 + ["done"])
    wait_or_cancel(
        poll,
        cancel=Cancel(),
        deadline=Deadline(60, clock=clock),
        schedule=schedule,
        started=started,
        sleep=clock.sleep,
        clock=clock,
    )
    expected: list[float] = []
    t = 1.0
    for _ in range(4):
        step = schedule.interval(t)
        expected.append(step)
        t += step
    assert clock.sleeps == pytest.approx(expected)
    assert clock.sleeps[0] == 0.5  # already a second in: no longer tens of milliseconds


def test_new_job_id_from_a_pending_is_reported() -> None:
    clock = FakeClock()
    events: list[Progress] = []
    poll = scripted([Pending(JobState.QUEUED), Pending(JobState.QUEUED, "j2"), "x"])
    wait_or_cancel(
        poll,
        cancel=Cancel(),
        deadline=Deadline(9, clock=clock),
        job_id="j1",
        progress=events.append,
        sleep=clock.sleep,
        clock=clock,
    )
    assert [e.job_id for e in events] == ["j1", "j2", "j2"]


def test_deadline_cancels_and_raises_query_timeout() -> None:
    clock = FakeClock()
    cancel = Cancel()
    with pytest.raises(QueryTimeout) as info:
        wait_or_cancel(
            lambda: Pending(JobState.RUNNING),
            cancel=cancel,
            deadline=Deadline(3, clock=clock),
            job_id="j9",
            source="redash",
            sleep=clock.sleep,
            clock=clock,
        )
    assert cancel.calls == 1
    assert info.value.job_id == "j9"
    assert info.value.source == "redash"
    assert "3 s" in info.value.message
    assert "the remote job was cancelled" in info.value.message
    assert sum(clock.sleeps) == pytest.approx(3)  # never sleeps past the deadline


def test_timeout_message_when_the_key_cannot_cancel() -> None:
    clock = FakeClock()
    with pytest.raises(QueryTimeout, match="could not be cancelled"):
        wait_or_cancel(
            lambda: Pending(JobState.QUEUED),
            cancel=Cancel(result=False),
            deadline=Deadline(1, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )


def test_timeout_still_raised_when_cancel_fails() -> None:
    clock = FakeClock()
    cancel = Cancel(error=SourceUnavailable("boom"))
    with pytest.raises(QueryTimeout, match="cancelling the remote job failed: boom"):
        wait_or_cancel(
            lambda: Pending(JobState.QUEUED),
            cancel=cancel,
            deadline=Deadline(1, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )
    cancel2 = Cancel(error=RuntimeError("x"))
    with pytest.raises(QueryTimeout, match="RuntimeError"):
        wait_or_cancel(
            lambda: Pending(JobState.QUEUED),
            cancel=cancel2,
            deadline=Deadline(1, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )


def test_zero_deadline_cancels_without_polling() -> None:
    clock = FakeClock()
    cancel = Cancel()
    polls: list[int] = []

    def poll() -> object:
        polls.append(1)
        return "never"

    with pytest.raises(QueryTimeout):
        wait_or_cancel(
            poll, cancel=cancel, deadline=Deadline(0, clock=clock), sleep=clock.sleep, clock=clock
        )
    assert polls == []
    assert cancel.calls == 1


def test_keyboard_interrupt_in_poll_cancels_and_propagates() -> None:
    clock = FakeClock()
    cancel = Cancel()
    poll = scripted([Pending(JobState.RUNNING), KeyboardInterrupt()])
    with pytest.raises(KeyboardInterrupt):
        wait_or_cancel(
            poll, cancel=cancel, deadline=Deadline(60, clock=clock), sleep=clock.sleep, clock=clock
        )
    assert cancel.calls == 1


def test_keyboard_interrupt_in_sleep_cancels_and_propagates() -> None:
    clock = FakeClock()
    cancel = Cancel()

    def sleep(_: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wait_or_cancel(
            lambda: Pending(JobState.RUNNING),
            cancel=cancel,
            deadline=Deadline(60, clock=clock),
            sleep=sleep,
            clock=clock,
        )
    assert cancel.calls == 1


def test_keyboard_interrupt_from_progress_callback_cancels() -> None:
    clock = FakeClock()
    cancel = Cancel()

    def progress(event: Progress) -> None:
        if event.polls == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wait_or_cancel(
            lambda: Pending(JobState.RUNNING),
            cancel=cancel,
            progress=progress,
            deadline=Deadline(60, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )
    assert cancel.calls == 1


def test_keyboard_interrupt_even_after_the_deadline_stays_keyboard_interrupt() -> None:
    clock = FakeClock()

    def poll() -> object:
        clock.now += 100
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        wait_or_cancel(
            poll, cancel=Cancel(), deadline=Deadline(1, clock=clock), sleep=clock.sleep, clock=clock
        )


def test_second_interrupt_during_cancel_is_not_swallowed() -> None:
    clock = FakeClock()
    cancel = Cancel(error=KeyboardInterrupt())
    with pytest.raises(KeyboardInterrupt):
        wait_or_cancel(
            scripted([SourceUnavailable("down")]),
            cancel=cancel,
            deadline=Deadline(60, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )


@pytest.mark.parametrize("exc", [SourceUnavailable("down"), RuntimeError("bug"), SystemExit(3)])
def test_other_failures_cancel_and_propagate_unchanged(exc: BaseException) -> None:
    clock = FakeClock()
    cancel = Cancel()
    with pytest.raises(type(exc)) as info:
        wait_or_cancel(
            scripted([Pending(JobState.QUEUED), exc]),
            cancel=cancel,
            deadline=Deadline(60, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )
    assert info.value is exc
    assert cancel.calls == 1


@pytest.mark.parametrize("exc", [QueryError("syntax error"), QueryCancelled("cancelled")])
def test_terminal_query_errors_need_no_cancel(exc: QueryError) -> None:
    clock = FakeClock()
    cancel = Cancel()
    with pytest.raises(type(exc)) as info:
        wait_or_cancel(
            scripted([exc]),
            cancel=cancel,
            deadline=Deadline(60, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )
    assert info.value is exc
    assert cancel.calls == 0


def test_query_timeout_from_a_request_still_cancels() -> None:
    """The HTTP layer raises QueryTimeout when the deadline ends inside a request."""
    clock = FakeClock()
    cancel = Cancel()
    with pytest.raises(QueryTimeout, match="cancelled") as info:
        wait_or_cancel(
            scripted([QueryTimeout("deadline passed during GET")]),
            cancel=cancel,
            deadline=Deadline(60, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )
    assert cancel.calls == 1
    assert isinstance(info.value.__cause__, QueryTimeout)


def test_failure_after_the_deadline_becomes_query_timeout() -> None:
    clock = FakeClock()

    def poll() -> object:
        clock.now += 10  # the request used up the deadline, then failed
        raise SourceUnavailable("read timed out")

    cancel = Cancel()
    with pytest.raises(QueryTimeout) as info:
        wait_or_cancel(
            poll, cancel=cancel, deadline=Deadline(5, clock=clock), sleep=clock.sleep, clock=clock
        )
    assert isinstance(info.value.__cause__, SourceUnavailable)
    assert cancel.calls == 1


def test_progress_callback_errors_cancel_and_propagate() -> None:
    clock = FakeClock()
    cancel = Cancel()

    def progress(event: Progress) -> None:
        raise ValueError("callback bug")

    with pytest.raises(ValueError, match="callback bug"):
        wait_or_cancel(
            lambda: Pending(JobState.QUEUED),
            cancel=cancel,
            progress=progress,
            deadline=Deadline(60, clock=clock),
            sleep=clock.sleep,
            clock=clock,
        )
    assert cancel.calls == 1


def test_real_clock_short_wait() -> None:
    """With the real clock and sleep: a bounded wait that finishes (no timing asserted)."""
    outcomes = iter([Pending(JobState.QUEUED), Pending(JobState.RUNNING), 42])
    assert wait_or_cancel(lambda: next(outcomes), cancel=Cancel(), deadline=Deadline(30)) == 42
