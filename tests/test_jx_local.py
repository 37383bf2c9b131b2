"""JX on the local source stops at its deadline and on Ctrl-C, as SQL there does.

The evaluator runs several statements; a slow one is put first by wrapping ``Evaluator.run``
with a statement that would take hours, so only a real interrupt can end the test in time.
"""

from __future__ import annotations

import _thread
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import thsources
from thsources.errors import QueryTimeout
from thsources.jx import evaluate

WORKER = "thsources-local-query"
JX = {"from": "treeherder", "select": "run.result", "limit": 1}
HOURS = "SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b"


def workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == WORKER and t.is_alive()]


@pytest.fixture
def slow_jx(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    run = evaluate.Evaluator.run

    def slow(self: Any, query: Any) -> Any:
        self.con.execute(HOURS)
        return run(self, query)

    monkeypatch.setattr(evaluate.Evaluator, "run", slow)
    with thsources.connect("local") as src:
        yield src
    for thread in workers():
        thread.join(20)
    assert workers() == []


def test_plain_jx_answers_on_the_worker() -> None:
    with thsources.connect("local") as src:
        res = src.query({"from": "treeherder", "select": "run.result", "limit": 3})
    assert len(res) == 3


@pytest.mark.timeout(60)
def test_a_jx_query_past_its_deadline_is_interrupted(slow_jx: Any) -> None:
    with pytest.raises(QueryTimeout, match=r"did not finish within 0\.5 s"):
        slow_jx.query(JX, timeout=0.5)


@pytest.mark.timeout(60)
def test_ctrl_c_stops_a_running_jx_query(slow_jx: Any) -> None:
    stop = threading.Event()

    def interrupt() -> None:
        while not stop.is_set():
            if workers():
                stop.wait(0.2)  # let the slow statement start
                _thread.interrupt_main()
                return
            stop.wait(0.01)

    helper = threading.Thread(target=interrupt, daemon=True)
    helper.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            slow_jx.query(JX)
    finally:
        stop.set()
        helper.join()
