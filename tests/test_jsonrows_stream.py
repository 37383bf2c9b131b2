"""Decoding a Redash result while it arrives gives exactly ``decode_query_result``'s answer.

Bodies are handed to the decoder a few bytes at a time, as a socket would; every test
compares the answer (envelope, columns, Arrow table, or the error) with
``decode_query_result`` on the complete body, and checks through ``STREAM_STATS`` whether
the rows were parsed while arriving or the complete body was decoded.
"""

from __future__ import annotations

import _thread
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from thsources import jsonrows
from thsources.errors import ProtocolError
from thsources.httpbody import BodyLost
from thsources.jsonrows import STATS, decode_query_result
from thsources.jsonrows_stream import STREAM_STATS, decode_query_result_incoming


class Arriving:
    """A body that arrives ``step`` bytes per read; ``lost_after`` cuts the connection."""

    def __init__(self, body: bytes, step: int, lost_after: int | None = None) -> None:
        self._body = body
        self._step = step
        self._lost_after = lost_after
        self.buffer = bytearray(len(body))
        self.size = len(body)
        self.filled = 0
        self.reads = 0
        self.abandoned = False

    def fill_to(self, n: int) -> int:
        n = min(n, self.size)
        while self.filled < n:
            if self._lost_after is not None and self.filled >= self._lost_after:
                raise BodyLost(f"cut after {self.filled} bytes")
            k = min(self._step, self.size - self.filled)
            self.buffer[self.filled : self.filled + k] = self._body[self.filled : self.filled + k]
            self.filled += k
            self.reads += 1
        return self.filled

    def fill(self) -> bytearray:
        self.fill_to(self.size)
        return self.buffer

    def abandon(self) -> None:
        self.abandoned = True
        self._lost_after = self.filled


class Slow(Arriving):
    """Past its first ``quick`` bytes, each read takes a while: a slow network."""

    def __init__(self, body: bytes, step: int, quick: int) -> None:
        super().__init__(body, step)
        self._quick = quick

    def fill_to(self, n: int) -> int:
        while self.filled < min(n, self.size):
            if self.filled > self._quick:
                time.sleep(0.005)
            super().fill_to(self.filled + 1)
        return self.filled


COLUMNS: list[tuple[str, str | None]] = [
    ("id", "integer"),
    ("result", "string"),
    ("start_time", "datetime"),
    ("duration", "float"),
    ("visible", "boolean"),
    ("day", "date"),
]


def rows(n: int) -> list[dict[str, Any]]:
    return [
        {
            "id": i,
            "result": ["success", "testfailed", "busted"][i % 3],
            "start_time": f"2024-05-01T10:{i % 60:02d}:00.{i % 1000:03d}",
            "duration": i / 7,
            "visible": i % 2 == 0,
            "day": f"2024-05-{1 + i % 28:02d}",
        }
        for i in range(n)
    ]


def body_of(
    columns: list[tuple[str, str | None]],
    rows: list[dict[str, Any]],
    *,
    style: str = "spaced",
    columns_first: bool = True,
    query: str = 'SELECT "rows", 1 AS "rows": [',
) -> bytes:
    cols = [{"name": n, "friendly_name": n, "type": t} for n, t in columns]
    data = {"columns": cols, "rows": rows} if columns_first else {"rows": rows, "columns": cols}
    doc = {
        "query_result": {
            "id": 7,
            "query_hash": "abc",
            "query": query,
            "data": data,
            "data_source_id": 1,
            "runtime": 0.5,
            "retrieved_at": "2026-11-26T17:52:03.293Z",
        }
    }
    if style == "orjson":  # compact; orjson refuses integers past 64 bits, which Redash sends
        try:
            return orjson.dumps(doc)
        except TypeError:
            return json.dumps(doc, separators=(",", ":"), ensure_ascii=False).encode()
    if style == "pretty":
        return json.dumps(doc, indent=2, ensure_ascii=False).encode()
    return json.dumps(doc, ensure_ascii=False).encode()


@pytest.fixture(autouse=True)
def _small_chunks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Small chunks, so that even small bodies cross many chunk boundaries."""
    monkeypatch.setattr(jsonrows, "_MIN_CHUNK", 256)
    monkeypatch.setattr(jsonrows, "_MAX_CHUNK", 256)
    monkeypatch.setattr(jsonrows, "_MIN_FAST_BYTES", 0)
    STATS.reset()
    yield


def same(body: bytes, step: int = 97) -> str:
    """Decode ``body`` arriving and complete; assert both agree; the stream's outcome."""
    before = (STREAM_STATS.streamed, STREAM_STATS.whole)
    try:
        expected = decode_query_result(body)
    except ProtocolError as exc:
        with pytest.raises(ProtocolError) as info:
            decode_query_result_incoming(Arriving(body, step))
        assert info.value.message == exc.message
        return "error"
    envelope, result = decode_query_result_incoming(Arriving(body, step))
    exp_env, exp_res = expected
    assert envelope == exp_env
    assert result.columns == exp_res.columns
    got, want = result.to_arrow(), exp_res.to_arrow()
    assert got.schema == want.schema
    assert got.equals(want)
    assert result.meta == exp_res.meta
    streamed = STREAM_STATS.streamed - before[0]
    whole = STREAM_STATS.whole - before[1]
    assert streamed + whole == 1
    return "streamed" if streamed else "whole"


@pytest.mark.parametrize("style", ["spaced", "orjson", "pretty"])
@pytest.mark.parametrize("step", [1, 97, 4096, 1 << 20])
def test_a_typed_body_is_parsed_while_it_arrives(style: str, step: int) -> None:
    body = body_of(COLUMNS, rows(400), style=style)
    assert same(body, step) == "streamed", STREAM_STATS.last_reason


def test_the_parse_starts_before_the_body_is_complete() -> None:
    body = body_of(COLUMNS, rows(2000))
    seen: list[int] = []

    class Watched(Arriving):
        def fill_to(self, n: int) -> int:
            seen.append(self.filled)
            return super().fill_to(n)

    decode_query_result_incoming(Watched(body, 500))
    assert STREAM_STATS.last_reason == ""
    # Chunks were asked for (and cut) while most of the body had not arrived yet.
    assert len([f for f in seen if f < len(body) // 2]) > 10


@pytest.mark.parametrize(
    ("columns", "body_rows", "options", "reason"),
    [
        (
            [*COLUMNS, ("note", None)],
            [dict(r, note="x") for r in rows(300)],
            {},
            "prefix: an untyped or json column",
        ),
        (
            [*COLUMNS, ("tags", "json")],
            [dict(r, tags=[1, 2]) for r in rows(300)],
            {},
            "prefix: an untyped or json column",
        ),
        (COLUMNS, rows(300), {"columns_first": False}, "prefix: no columns before the rows"),
        (
            [*COLUMNS, ("id", "integer")],
            rows(300),
            {},
            "columns: duplicate names",
        ),
        (COLUMNS, [], {}, "rows: not an array of objects"),
    ],
)
def test_what_cannot_stream_is_decoded_whole(
    columns: list[tuple[str, str | None]],
    body_rows: list[dict[str, Any]],
    options: dict[str, Any],
    reason: str,
) -> None:
    assert same(body_of(columns, body_rows, **options)) == "whole"
    assert STREAM_STATS.last_reason == reason


def test_a_long_query_text_before_the_rows_is_decoded_whole() -> None:
    body = body_of(COLUMNS, rows(50), query="SELECT 1 -- " + "x" * (5 << 20))
    assert same(body, 1 << 16) == "whole"
    assert STREAM_STATS.last_reason.startswith("prefix: no rows key in the first")


def test_a_bad_value_late_in_the_rows_gives_the_same_answer_as_whole() -> None:
    late = rows(300)
    late[-2]["id"] = 1.5  # the fast parse fails on the last chunks, the safe path refuses
    assert same(body_of(COLUMNS, late)) == "error"
    late[-2]["id"] = "12"  # the safe path coerces a numeric string
    assert same(body_of(COLUMNS, late)) == "whole"


def test_non_ascii_and_separator_like_strings() -> None:
    tricky = rows(300)
    for k, text in enumerate(['é}, {"', "}, {}", "\u2603", "\\n", "]"]):
        tricky[k * 50]["result"] = text
    assert same(body_of(COLUMNS, tricky)) in ("streamed", "whole")
    assert same(body_of(COLUMNS, tricky, style="orjson")) in ("streamed", "whole")


def test_a_row_longer_than_a_chunk() -> None:
    long_rows = rows(100)
    long_rows[40]["result"] = "y" * 5000
    assert same(body_of(COLUMNS, long_rows), 333) == "streamed"


def test_another_rows_array_after_the_data() -> None:
    body = body_of(COLUMNS, rows(300))
    doc = orjson.loads(body)
    doc["query_result"]["extra"] = {"rows": [{"a": 1}]}
    assert same(orjson.dumps(doc)) in ("streamed", "whole")


def test_a_connection_lost_part_way_raises_body_lost() -> None:
    body = body_of(COLUMNS, rows(2000))
    with pytest.raises(BodyLost, match="cut after"):
        decode_query_result_incoming(Arriving(body, 1000, lost_after=len(body) // 2))
    with pytest.raises(BodyLost):
        decode_query_result_incoming(Arriving(body, 1000, lost_after=10))


values = st.one_of(
    st.none(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.booleans(),
    st.text(max_size=8),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cells=st.lists(st.tuples(values, values, values), min_size=1, max_size=60),
    types=st.tuples(*[st.sampled_from(["integer", "float", "boolean", "string"])] * 3),
    step=st.integers(1, 700),
    style=st.sampled_from(["spaced", "orjson", "pretty"]),
)
def test_any_body_decodes_as_whole(
    cells: list[tuple[Any, Any, Any]], types: tuple[str, str, str], step: int, style: str
) -> None:
    columns: list[tuple[str, str | None]] = [("a", types[0]), ("b", types[1]), ("c", types[2])]
    body_rows = [dict(zip("abc", row, strict=True)) for row in cells]
    same(body_of(columns, body_rows, style=style), step)


def test_invalid_utf8_in_a_string_is_refused_as_whole() -> None:
    body = body_of(COLUMNS, rows(300)).replace(b'"busted"', b'"bu\xffsted"', 1)
    assert same(body) == "error"


def test_ctrl_c_while_the_rows_arrive_propagates_at_once() -> None:
    body = body_of(COLUMNS, rows(4000))
    quick = 100 << 10  # past the prefix: the parse is running when Ctrl-C comes
    slow = Slow(body, 500, quick)
    assert len(body) > 4 * quick  # the rest would take seconds to arrive

    def interrupt() -> None:
        while slow.filled <= quick + 5000:
            time.sleep(0.001)
        _thread.interrupt_main()

    threading.Thread(target=interrupt, daemon=True).start()
    with pytest.raises(KeyboardInterrupt):
        decode_query_result_incoming(slow)
    assert slow.abandoned
    assert slow.filled < len(body)  # it did not wait for the last byte


def test_a_long_tail_after_the_rows_with_separator_like_text() -> None:
    body = body_of(COLUMNS, rows(300))
    doc = orjson.loads(body)
    doc["query_result"]["zz_note"] = '}, {"id": 1}' * 20000  # after "data", 280 KB
    # Chunks looked past the rows' end before it was known: decoded whole, to be safe.
    assert same(orjson.dumps(doc), 211) == "whole"
    assert STREAM_STATS.last_reason == "stream: a separator was judged past the rows' end"
