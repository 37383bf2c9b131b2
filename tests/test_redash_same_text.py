"""A result is returned only for the text that was sent (Redash's query hash is loose).

Redash keys its result cache and merges pending jobs by ``gen_query_hash``: the text without
``/* */`` comments and without any whitespace, string literals included. ``'a b'`` and
``'ab'`` therefore share cached results and jobs, and the server hands one caller the other's
rows. The emulator hashes and merges the same way; the source must notice (each result
carries the text that ran) and run the query again under a text of its own.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any, Final

import orjson
import pytest
import responses

from thsources.errors import ProtocolError
from thsources.http import RetryPolicy
from thsources.polling import PollSchedule
from thsources.sources.redash import _MARK, RedashSource
from thsources.sources.redash_wire import same_text, stored_text
from thsources.testing import DataSource, RedashEmulator, User
from thsources.testing.redash_sql import annotate, combine_statements, gen_query_hash

KEY: Final = "SaMeTeXtKeY0123456789abcdefghijKLMNOPQR"
POLL: Final = PollSchedule(first=0.005, factor=0.1, cap=0.05)
RETRY: Final = RetryPolicy(attempts=4, initial=0.01, maximum=0.05)
MARKED: Final = re.compile(r"^-- thsources run [0-9a-f]{16}\n")


@pytest.fixture
def emu() -> Iterator[RedashEmulator]:
    with RedashEmulator(
        users=[User(api_key=KEY)],
        data_sources=[DataSource(1, "Treeherder")],
        workers=2,
    ) as emulator:
        yield emulator


@pytest.fixture
def src(emu: RedashEmulator) -> Iterator[RedashSource]:
    with RedashSource(
        url=emu.url, api_key=KEY, data_source=1, poll=POLL, retry=RETRY, timeout=20
    ) as s:
        yield s


def posted(emu: RedashEmulator) -> list[str]:
    return [r.json["query"] for r in emu.requests if r.method == "POST"]


# -- the server's rule, as the emulator has it ---------------------------------------------------


def test_the_emulator_hashes_like_redash() -> None:
    assert gen_query_hash("SELECT 'a8b7dacb' AS s") == gen_query_hash("SELECT 'a 8b7dac b' AS s")
    assert gen_query_hash("SELECT 'pf40037q'") == gen_query_hash("SELECT 'p/* c */f40037q'")
    # Letter case and -- comments count; a /* */ comment across lines is not removed.
    assert gen_query_hash("SELECT 'A'") != gen_query_hash("SELECT 'a'")
    assert gen_query_hash("-- x\nSELECT 1") != gen_query_hash("SELECT 1")
    assert gen_query_hash("SELECT /* a\nb */ 1") != gen_query_hash("SELECT 1")


def test_the_emulator_strips_trailing_comments_and_semicolons(emu: RedashEmulator) -> None:
    assert combine_statements("SELECT 1; -- done\n") == "SELECT 1"
    assert (
        combine_statements("-- lead\nSELECT 1 /* mid */ + 1;") == "-- lead\nSELECT 1 /* mid */ + 1"
    )
    with RedashSource(url=emu.url, api_key=KEY, poll=POLL) as s:
        res = s.query("SELECT 41 + 1 AS n; -- the answer")
    assert res.records() == [{"n": 42}]
    assert emu.executed == ["SELECT 41 + 1 AS n"]
    assert res.meta.query == "SELECT 41 + 1 AS n"


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("SELECT 1;", "SELECT 1"),
        ("SELECT 1 -- x", "SELECT 1"),
        ("SELECT 1; -- c\n", "SELECT 1"),
        ("SELECT 1; SELECT 2;", "SELECT 1;\nSELECT 2"),
        ("SELECT ';' AS s; ", "SELECT ';' AS s"),
        ("SELECT 1 /* a */ , 2 /* b */;", "SELECT 1 /* a */ , 2 /* b */"),
        ("SELECT $$a;b$$", "SELECT $$a;b$$"),
        ("-- m\nSELECT 1", "-- m\nSELECT 1"),
        ("SELECT 1 # 2", "SELECT 1"),  # sqlparse reads '# ' as a comment, even for PostgreSQL
        ("SELECT 'it\\'s;' AS s;", "SELECT 'it\\'s;' AS s"),
    ],
)
def test_stored_text_agrees_with_the_emulator(sent: str, stored: str) -> None:
    assert stored_text(sent) == stored == combine_statements(sent)


def test_same_text_forgives_only_what_the_server_strips() -> None:
    assert same_text("SELECT 1", "SELECT 1;  -- note")
    assert not same_text("SELECT 'ab'", "SELECT 'a b'")
    assert not same_text("SELECT 'p/* c */q'", "SELECT 'pq'")
    assert not same_text("SELECT 1 -- x\n, 2", "SELECT 1 -- x, 2")
    assert not same_text("SELECT a b", "SELECT ab")


# -- cache hits, merged jobs, the recovery path ---------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("SELECT 'a8b7dacb' AS s", "SELECT 'a 8b7dac b' AS s"),
        ("SELECT 'pf40037q' AS s", "SELECT 'p/* c */f40037q' AS s"),
        ("SELECT 'tab\tin' AS s", "SELECT 'tabin' AS s"),
    ],
)
def test_a_cached_result_of_another_text_is_not_returned(
    src: RedashSource, emu: RedashEmulator, first: str, second: str
) -> None:
    assert src.query(first).records() == [{"s": first.split("'")[1]}]
    res = src.query(second, max_age=3600)
    assert res.records() == [{"s": second.split("'")[1]}]
    assert res.meta.cached is False
    assert "another text" in res.meta.extra["recovered"]
    assert emu.cache_hits == 1  # the server did answer from its cache, with the wrong rows
    last = posted(emu)[-1]
    assert MARKED.match(last) and last.endswith(second)
    assert res.meta.query == last


def test_a_bound_value_differing_in_whitespace(src: RedashSource) -> None:
    assert src.query("SELECT :v AS s", {"v": "xd4a8eby"}).records() == [{"s": "xd4a8eby"}]
    res = src.query("SELECT :v AS s", {"v": "x d4a8eb y"}, max_age=3600)
    assert res.records() == [{"s": "x d4a8eb y"}]


def test_the_same_text_is_still_served_from_the_cache(
    src: RedashSource, emu: RedashEmulator
) -> None:
    src.query("SELECT 'same' AS s")
    res = src.query("SELECT 'same' AS s;", max_age=3600)
    assert res.meta.cached is True and res.records() == [{"s": "same"}]
    assert len(posted(emu)) == 2 and emu.executions == 1


def test_a_merged_job_of_another_text_is_not_returned(
    src: RedashSource, emu: RedashEmulator
) -> None:
    emu.faults.hold_queue = True
    one = src.submit("SELECT 'a6edca2' AS s")
    two = src.submit("SELECT 'a 6edca2' AS s")
    assert two.id == one.id  # Redash merged them: same hash, job pending, even at max_age 0
    emu.faults.hold_queue = False
    assert one.result().records() == [{"s": "a6edca2"}]
    res = two.result()
    assert res.records() == [{"s": "a 6edca2"}]
    assert two.id != one.id and MARKED.match(res.meta.query or "")
    assert emu.jobs_created == 2


def test_markers_differ_between_reruns(src: RedashSource, emu: RedashEmulator) -> None:
    src.query("SELECT 'k1' AS s")
    src.query("SELECT ' k1' AS s", max_age=3600)
    src.query("SELECT 'k 1' AS s", max_age=3600)
    marks = [MARKED.match(q) for q in posted(emu)]
    found = [m.group(0) for m in marks if m]
    assert len(found) == 2 and found[0] != found[1]


# -- with mocked HTTP: the recovery path and the refusals ---------------------------------------

BASE: Final = "http://redash.test"
FAST_POLL: Final = PollSchedule(first=0.001, factor=0.01, cap=0.005)


def _ds(syntax: str = "sql") -> list[dict[str, Any]]:
    return [{"id": 1, "name": "pg", "type": "pg", "syntax": syntax, "paused": 0}]


def _job(jid: str, status: int, rid: int | None = None) -> dict[str, Any]:
    return {"job": {"id": jid, "status": status, "error": "", "query_result_id": rid}}


def _result(query: str, value: str) -> dict[str, Any]:
    return {
        "query_result": {
            "id": 7,
            "query_hash": "h",
            "query": query,
            "data_source_id": 1,
            "runtime": 0.01,
            "retrieved_at": "2026-01-01T00:00:00Z",
            "data": {
                "columns": [{"name": "s", "friendly_name": "s", "type": "string"}],
                "rows": [{"s": value}],
            },
        }
    }


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


def _source() -> RedashSource:
    return RedashSource(url=BASE, api_key=KEY, poll=FAST_POLL, retry=RETRY, timeout=10)


def test_the_recovery_repost_does_not_take_another_texts_result(
    mock: responses.RequestsMock,
) -> None:
    mock.get(f"{BASE}/api/data_sources", json=_ds())
    mock.post(f"{BASE}/api/query_results", json=_job("j1", 1))
    mock.get(f"{BASE}/api/jobs/j1", status=500, json={"message": "Internal Server Error"})
    # The widened re-post finds a cached result of a text with the same hash.
    mock.post(f"{BASE}/api/query_results", json=_result("SELECT 'ab' AS s", "ab"))
    mock.post(f"{BASE}/api/query_results", json=_job("j2", 1))
    mock.get(f"{BASE}/api/jobs/j2", json=_job("j2", 3, 8))

    def fetch(request: Any) -> tuple[int, dict[str, str], bytes]:
        posts = [c.request for c in mock.calls if c.request.method == "POST"]
        sent = orjson.loads(posts[-1].body or b"{}")
        return (
            200,
            {"Content-Type": "application/json"},
            orjson.dumps(_result(sent["query"], "a b")),
        )

    mock.add_callback(responses.GET, f"{BASE}/api/query_results/8.json", callback=fetch)
    with _source() as s:
        res = s.query("SELECT 'a b' AS s")
    assert res.records() == [{"s": "a b"}]
    posts = [orjson.loads(c.request.body) for c in mock.calls if c.request.method == "POST"]
    assert [p["query"] for p in posts[:2]] == ["SELECT 'a b' AS s"] * 2
    assert posts[1]["max_age"] >= 1  # the recovery re-post, widened
    assert MARKED.match(posts[2]["query"]) and posts[2]["max_age"] == 0


def test_another_text_twice_is_a_protocol_error(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/api/data_sources", json=_ds())
    mock.post(f"{BASE}/api/query_results", json=_result("SELECT 'ab' AS s", "ab"))
    with _source() as s, pytest.raises(ProtocolError, match="result of another query text"):
        s.query("SELECT 'a b' AS s", max_age=60)
    assert len([c for c in mock.calls if c.request.method == "POST"]) == 2


def test_a_data_source_that_is_not_sql_is_never_marked(mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/api/data_sources", json=_ds(syntax="json"))
    mock.post(f"{BASE}/api/query_results", json=_result("{ 'a' : 1 }", "x"))
    with _source() as s, pytest.raises(ProtocolError, match="result of another query text"):
        s.query("{'a':1}", max_age=60)
    assert len([c for c in mock.calls if c.request.method == "POST"]) == 1


# -- the marker changes nothing the databases return ----------------------------------------------

SQL: Final = "SELECT 'a b' AS s, 2 AS n ORDER BY n"


def _as_redash_runs_it(sql: str) -> str:
    return annotate(_MARK.format("0123456789abcdef") + sql, {"Username": "u", "Scheduled": False})


@pytest.mark.skipif(
    not os.environ.get("THSOURCES_TEST_POSTGRES_URL"), reason="no THSOURCES_TEST_POSTGRES_URL"
)
def test_the_marker_keeps_the_answer_on_postgresql() -> None:
    import psycopg

    with psycopg.connect(os.environ["THSOURCES_TEST_POSTGRES_URL"]) as conn:
        plain = conn.execute(SQL).fetchall()
        marked = conn.execute(_as_redash_runs_it(SQL)).fetchall()
    assert marked == plain == [("a b", 2)]


@pytest.mark.skipif(
    not os.environ.get("THSOURCES_TEST_MYSQL_URL"), reason="no THSOURCES_TEST_MYSQL_URL"
)
def test_the_marker_keeps_the_answer_on_mysql() -> None:
    from urllib.parse import urlsplit

    import pymysql

    url = urlsplit(os.environ["THSOURCES_TEST_MYSQL_URL"])
    conn = pymysql.connect(
        host=url.hostname,
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=url.path.lstrip("/") or None,
    )
    try:
        with conn.cursor() as cur:
            cur.execute(SQL)
            plain = cur.fetchall()
            cur.execute(_as_redash_runs_it(SQL))
            marked = cur.fetchall()
    finally:
        conn.close()
    assert marked == plain == (("a b", 2),)


def test_the_marker_is_a_comment_in_bigquery() -> None:
    import sqlglot

    plain = sqlglot.parse_one(SQL, read="bigquery")
    marked = sqlglot.parse_one(_as_redash_runs_it(SQL), read="bigquery")
    assert marked.sql(dialect="bigquery", comments=False) == plain.sql(
        dialect="bigquery", comments=False
    )
