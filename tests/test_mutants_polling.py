"""Waiting on remote jobs: what mutation testing found unchecked (see docs/testing.md).

The exact text a user reads when a wait ends (timeout, cancel outcome), the DEBUG record a
failed cancel leaves, the ``timeout=`` values refused, and the poll schedules refused.
"""

from __future__ import annotations

import logging
import math

import pytest

from thsources.errors import ParameterError, QueryTimeout, SourceUnavailable
from thsources.polling import (
    DEFAULT_POLL,
    Deadline,
    JobState,
    Pending,
    PollSchedule,
    check_timeout,
    wait_or_cancel,
)


class FakeClock:
    """A monotonic clock that only moves when something sleeps."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def timeout_message(cancel_result: bool | BaseException) -> str:
    clock = FakeClock()

    def cancel() -> bool:
        if isinstance(cancel_result, BaseException):
            raise cancel_result
        return cancel_result

    with pytest.raises(QueryTimeout) as info:
        wait_or_cancel(
            lambda: Pending(JobState.RUNNING),
            cancel=cancel,
            deadline=Deadline(2.5, clock=clock),
            job_id="j9",
            source="redash",
            sleep=clock.sleep,
            clock=clock,
        )
    assert (info.value.source, info.value.job_id) == ("redash", "j9")
    return info.value.message


@pytest.mark.parametrize(
    ("cancel_result", "message"),
    [
        (True, "no result within 2.5 s; the remote job was cancelled"),
        (
            False,
            "no result within 2.5 s; the remote job could not be cancelled with these credentials",
        ),
        (
            SourceUnavailable("server said 502"),
            "no result within 2.5 s; cancelling the remote job failed: server said 502",
        ),
        (
            RuntimeError("x"),
            "no result within 2.5 s; cancelling the remote job failed (RuntimeError)",
        ),
    ],
)
def test_timeout_message_says_what_became_of_the_job(
    cancel_result: bool | BaseException, message: str
) -> None:
    assert timeout_message(cancel_result) == message


@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (
            SourceUnavailable("server said 502"),
            "cancelling job j9 on redash failed: server said 502",
        ),
        (RuntimeError("secret-ish detail"), "cancelling job j9 on redash failed: RuntimeError"),
    ],
)
def test_failed_cancel_is_logged_at_debug(
    caplog: pytest.LogCaptureFixture, error: BaseException, logged: str
) -> None:
    with caplog.at_level(logging.DEBUG, logger="thsources.polling"):
        timeout_message(error)
    assert [r.getMessage() for r in caplog.records if r.name == "thsources.polling"] == [logged]


def test_a_request_timeout_without_a_deadline_still_reads_as_a_timeout() -> None:
    """A poll may raise QueryTimeout itself (its request ran out of time): the wait says so,
    naming no number of seconds when there was none."""
    clock = FakeClock()

    def poll() -> object:
        raise QueryTimeout("request timed out", source="redash")

    with pytest.raises(QueryTimeout) as info:
        wait_or_cancel(
            poll,
            cancel=lambda: True,
            deadline=Deadline(None, clock=clock),
            source="redash",
            sleep=clock.sleep,
            clock=clock,
        )
    assert info.value.message == "no result within the deadline; the remote job was cancelled"


@pytest.mark.parametrize(
    ("timeout", "expected"),
    [(None, 30.0), (5, 5.0), (0.25, 0.25), (math.inf, math.inf)],
)
def test_check_timeout_accepts_positive_seconds(timeout: object, expected: float) -> None:
    got = check_timeout(timeout, 30)
    assert got == expected and type(got) is float


@pytest.mark.parametrize(
    ("timeout", "shown"),
    [(0, "0"), (-1, "-1"), (math.nan, "nan"), (True, "True"), ("5", "'5'"), ([5], "[5]")],
)
def test_check_timeout_refuses_what_is_not_a_positive_number(timeout: object, shown: str) -> None:
    with pytest.raises(ParameterError) as info:
        check_timeout(timeout, 30)
    assert str(info.value) == (
        f"timeout must be a positive number of seconds (or inf for no limit), not {shown}"
    )


def test_deadline_refuses_a_negative_timeout() -> None:
    with pytest.raises(ValueError) as info:
        Deadline(-1)
    assert str(info.value) == "timeout must be a non-negative number of seconds, not -1"


@pytest.mark.parametrize("field", ["ramp", "factor", "slack"])
def test_poll_schedule_refuses_negative_growth(field: str) -> None:
    with pytest.raises(ValueError) as info:
        PollSchedule(**{field: -0.1})
    assert str(info.value).endswith(": need 0 < first <= cap and factor, ramp, slack >= 0")


def test_with_cap_caps_the_interval() -> None:
    capped = DEFAULT_POLL.with_cap(1.0)
    assert capped.cap == 1.0
    assert capped.interval(3600) == 1.0
    assert DEFAULT_POLL.interval(3600) == 5.0
