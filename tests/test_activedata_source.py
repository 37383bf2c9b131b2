"""The activedata source against mocked HTTP: the exact requests sent, every answer shape and
error shape of the reference, retries and bulk polling."""

from __future__ import annotations

import datetime as dt
from typing import Any

import orjson
import pytest
import responses

import thsources
from thsources.errors import (
    ParameterError,
    ProtocolError,
    QueryError,
    SourceUnavailable,
    UnsupportedQuery,
)
from thsources.polling import PollSchedule
from thsources.sources.activedata import ActiveDataSource, error_message

URL = "http://activedata.test"
START = dt.datetime(2026, 7, 6, 10, 40, tzinfo=dt.UTC)  # 1783334400 unix seconds


@pytest.fixture
def src() -> ActiveDataSource:
    slept: list[float] = []
    return ActiveDataSource(
        url=URL + "/", poll=PollSchedule(first=0.001, cap=0.001), sleep=slept.append
    )


def body(call: Any) -> Any:
    return orjson.loads(call.request.body)


TABLE = {
    "meta": {"format": "table"},
    "header": ["run.result", "action.start_time"],
    "data": [["success", 1783334400], ["testfailed", None]],
}


@responses.activate
def test_a_jx_query_is_posted_to_query_with_an_explicit_format(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json=TABLE)
    res = src.query({"from": "treeherder", "select": ["run.result", "action.start_time"]})
    (call,) = responses.calls
    assert call.request.headers["Content-Type"] == "application/json"
    assert body(call) == {
        "from": "treeherder",
        "select": ["run.result", "action.start_time"],
        "format": "table",
    }
    assert res.records() == [
        {
            "run.result": "success",
            "action.start_time": dt.datetime(2026, 7, 6, 10, 40, tzinfo=dt.UTC),
        },
        {"run.result": "testfailed", "action.start_time": None},
    ]
    assert [c.type for c in res.columns] == ["string", "datetime"]
    assert res.meta.truncated is False
    assert res.meta.extra["format"] == "table"


@pytest.mark.parametrize(
    "answer",
    [
        {
            "meta": {"format": "list"},
            "data": [
                {"run": {"result": "success"}, "action": {"start_time": 1783334400}},
                {"run": {"result": "testfailed"}},
            ],
        },
        TABLE,
        {
            "meta": {"format": "cube"},
            "edges": [
                {"name": "rownum", "domain": {"type": "rownum", "min": 0, "max": 2, "interval": 1}}
            ],
            "select": [{"name": "run.result", "pull": "<function>"}],
            "data": {
                "run.result": ["success", "testfailed"],
                "action.start_time": [1783334400, None],
                "run.result.~s~": ["leaked", "leaked"],
            },
        },
    ],
    ids=["list", "table", "cube"],
)
@responses.activate
def test_every_format_gives_the_same_records(src: ActiveDataSource, answer: Any) -> None:
    responses.post(f"{URL}/query", json=answer)
    res = src.query({"from": "treeherder", "select": ["run.result", "action.start_time"]})
    assert sorted(res.column_names) == ["action.start_time", "run.result"]
    assert sorted(res.records(), key=lambda r: r["run.result"]) == [
        {"run.result": "success", "action.start_time": START},
        {"run.result": "testfailed", "action.start_time": None},
    ]


@responses.activate
def test_a_cube_with_edges_keeps_its_null_part(src: ActiveDataSource) -> None:
    responses.post(
        f"{URL}/query",
        json={
            "meta": {"format": "cube"},
            "edges": [
                {
                    "name": "run.result",
                    "allowNulls": True,
                    "domain": {
                        "type": "set",
                        "key": "value",
                        "partitions": [{"value": "busted"}, {"value": "success"}],
                    },
                }
            ],
            "data": {"count": [2, 5, 1, 99]},  # a spurious extra cell, as recorded answers have
        },
    )
    res = src.query({"from": "treeherder", "edges": ["run.result"], "format": "cube"})
    assert res.records() == [
        {"run.result": "busted", "count": 2},
        {"run.result": "success", "count": 5},
        {"run.result": None, "count": 1},
    ]


@responses.activate
def test_a_value_answer_is_one_record(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json={"meta": {"format": "value"}, "data": 65801})
    res = src.query(
        {"from": "treeherder", "select": {"aggregate": "count", "name": "n"}, "format": "list"}
    )
    assert res.records() == [{"n": 65801}]


@responses.activate
def test_an_answer_as_long_as_the_limit_is_flagged_truncated(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json=TABLE)
    assert src.query({"from": "treeherder", "limit": 2}).meta.truncated is True
    assert src.query({"from": "treeherder", "limit": 3}).meta.truncated is False


@responses.activate
def test_sql_is_translated_to_jx_client_side(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json={"meta": {"format": "table"}, "header": [], "data": []})
    src.query(
        "SELECT run.machine.platform AS platform, count(*) AS n FROM treeherder "
        "WHERE repo.branch.name = :repo AND job.type.name LIKE 'test-%' "
        "GROUP BY run.machine.platform ORDER BY n DESC LIMIT 100",
        params={"repo": "autoland"},
    )
    assert body(responses.calls[0]) == {
        "from": "treeherder",
        "where": {
            "and": [
                {"eq": ["repo.branch.name", {"literal": "autoland"}]},
                {"prefix": {"job.type.name": "test-"}},
            ]
        },
        "groupby": [{"name": "platform", "value": "run.machine.platform"}],
        "select": [{"aggregate": "count", "name": "n"}],
        "sort": [{"value": "n", "sort": -1}],
        "limit": 100,
        "format": "table",
    }


@pytest.mark.parametrize(
    ("sql", "construct"),
    [
        ("SELECT a FROM treeherder t JOIN repo r ON t.x = r.y", "a JOIN"),
        ("SELECT a FROM (SELECT a FROM treeherder)", "a subquery in FROM"),
        ("SELECT a FROM treeherder WHERE a IN (SELECT b FROM repo)", "a subquery"),
        ("SELECT a, count(*) AS n FROM treeherder GROUP BY a HAVING count(*) > 1", "HAVING"),
        ("SELECT a FROM treeherder LIMIT 5 OFFSET 10", "OFFSET"),
        ("SELECT lower(a) AS b FROM treeherder", "the function or operator 'lower'"),
    ],
)
@responses.activate
def test_untranslatable_sql_is_refused_before_any_request(
    src: ActiveDataSource, sql: str, construct: str
) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        src.query(sql)
    assert info.value.message.startswith(f"ActiveData cannot run {construct}")
    assert len(responses.calls) == 0


@responses.activate
def test_sql_endpoint_sends_the_sql_as_is(src: ActiveDataSource) -> None:
    sql_src = thsources.connect("activedata", url=URL, sql_endpoint=True)
    responses.post(
        f"{URL}/sql",
        json={
            "meta": {"format": "table", "jx_query": {"from": "t", "format": "table"}},
            "header": ["n"],
            "data": [[3]],
        },
    )
    res = sql_src.query("SELECT count(1) AS n FROM t HAVING 1")
    assert body(responses.calls[0]) == {"sql": "SELECT count(1) AS n FROM t HAVING 1"}
    assert res.records() == [{"n": 3}]


@responses.activate
def test_adr_style_parameters_are_filled_in_jx(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json=TABLE)
    src.query(
        {"from": "treeherder", "where": {"eq": {"repo.push.id": {"$eval": "push"}}}},
        params={"push": 7},
    )
    assert body(responses.calls[0])["where"] == {"eq": {"repo.push.id": 7}}
    with pytest.raises(ParameterError, match="missing value for parameter 'push'"):
        src.query({"from": "treeherder", "where": {"eq": {"repo.push.id": {"$eval": "push"}}}})
    with pytest.raises(ParameterError, match="unknown parameter"):
        src.query({"from": "treeherder"}, params={"typo": 1})


def test_malformed_jx_is_refused_before_any_request(src: ActiveDataSource) -> None:
    with pytest.raises(UnsupportedQuery, match="needs 'from'"):
        src.query({"select": "a"})
    with pytest.raises(UnsupportedQuery, match="unknown format 'csv'"):
        src.query({"from": "treeherder", "format": "csv"})


CAUSE_CHAIN = {
    "context": "ERROR",
    "template": "could not execute expression {{expression}}",
    "params": {"expression": {"from": "treeherder"}},
    "cause": {
        "context": "ERROR",
        "template": "problem",
        "cause": [
            {
                "context": "ERROR",
                "template": "{{operator|quote}} is not a known operator",
                "params": {"operator": "foo"},
            }
        ],
    },
    "trace": [],
    "meta": {"timing": {"total": 0.01}},
}


def test_the_cause_chain_is_walked_and_its_templates_filled() -> None:
    assert error_message(CAUSE_CHAIN) == '"foo" is not a known operator'
    assert error_message({"template": "Expecting limit >= 0"}) == "Expecting limit >= 0"
    assert (
        error_message({"template": "no {{a.b}} here", "params": {"a": {"b": "x"}}}) == "no x here"
    )


@responses.activate
def test_a_400_error_raises_query_error_with_the_real_reason(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json=CAUSE_CHAIN, status=400)
    with pytest.raises(QueryError) as info:
        src.query({"from": "treeherder", "where": {"foo": {}}})
    assert info.value.message == '"foo" is not a known operator'
    assert info.value.status_code == 400


@responses.activate
def test_413_is_a_query_too_large(src: ActiveDataSource) -> None:
    responses.post(
        f"{URL}/query", json={"context": "ERROR", "template": "Query is too large"}, status=413
    )
    with pytest.raises(QueryError, match=r"^Query is too large \(ActiveData refuses"):
        src.query({"from": "treeherder"})


@responses.activate
def test_the_html_400_page_is_a_protocol_error(src: ActiveDataSource) -> None:
    responses.post(
        f"{URL}/query", body="<html>ActiveData</html>", status=400, content_type="text/html"
    )
    with pytest.raises(ProtocolError, match="HTML page"):
        src.query({"from": "treeherder"})


@responses.activate
def test_gateway_errors_are_retried(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", status=502, body="bad gateway")
    responses.post(f"{URL}/query", status=504, body="timeout")
    responses.post(f"{URL}/query", json=TABLE)
    assert len(src.query({"from": "treeherder"})) == 2
    assert len(responses.calls) == 3
    assert [body(c) for c in responses.calls] == [body(responses.calls[0])] * 3


@responses.activate
def test_gateway_errors_that_persist_raise_source_unavailable(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", status=503, body="down")
    with pytest.raises(SourceUnavailable):
        src.query({"from": "treeherder"})
    assert len(responses.calls) == 5


@responses.activate
def test_a_large_limit_goes_to_bulk_mode_and_is_polled(src: ActiveDataSource) -> None:
    status = f"{URL}/r/1.status.json"
    result = f"{URL}/r/1.json"
    responses.post(
        f"{URL}/query",
        json={"url": result, "status": status, "meta": {"format": "table", "limit": 20000}},
    )
    responses.get(status, status=403, body="<Error/>")  # not written yet
    responses.get(status, body=b'{"status": "work')  # caught mid-write
    responses.get(status, json={"status": "working", "ok": True})
    responses.get(status, json={"status": "done", "ok": True})
    responses.get(result, status=403, body="<Error/>")
    responses.get(status, json={"status": "done", "ok": True})
    responses.get(result, json={"meta": {"format": "table"}, "header": ["n"], "data": [[1], [2]]})
    res = src.query({"from": "treeherder", "select": "n", "format": "list", "limit": 20000})
    sent = body(responses.calls[0])
    assert sent["destination"] == "url"
    assert sent["format"] == "table"
    assert sent["limit"] == 20000
    assert res.records() == [{"n": 1}, {"n": 2}]
    assert res.meta.extra["bulk"] == "url"
    assert res.meta.truncated is False


@responses.activate
def test_a_bulk_error_raises_its_reason(src: ActiveDataSource) -> None:
    status = f"{URL}/r/2.status.json"
    responses.post(f"{URL}/query", json={"url": f"{URL}/r/2.json", "status": status})
    responses.get(
        status,
        json={
            "status": "error",
            "ok": False,
            "error": {"template": "ES said {{why}}", "params": {"why": "no"}},
        },
    )
    with pytest.raises(QueryError, match="^ES said no$"):
        src.query({"from": "treeherder", "limit": 50000})


@responses.activate
def test_a_server_answering_bulk_synchronously_says_so(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json=TABLE)
    res = src.query({"from": "treeherder", "limit": 50000})
    assert res.meta.extra["bulk"].startswith("the server answered synchronously")


@responses.activate
def test_a_large_limit_that_cannot_be_bulk_is_capped_and_said(src: ActiveDataSource) -> None:
    responses.post(f"{URL}/query", json=TABLE)
    res = src.query({"from": "treeherder", "edges": ["run.result"], "limit": 50000})
    assert "destination" not in body(responses.calls[0])
    assert res.meta.extra["capped"] == "limit 50000 capped at 10000: not a bulk query"


@responses.activate
def test_a_batch_is_one_tuple_request_with_one_result_each(src: ActiveDataSource) -> None:
    responses.post(
        f"{URL}/query",
        json={
            "data": [
                {"meta": {"format": "table"}, "header": ["a"], "data": [[1]]},
                {"meta": {"format": "value"}, "data": 5},
            ],
            "meta": {},
        },
    )
    first, second = src.batch([{"from": "t", "select": "a"}, "SELECT count(*) AS n FROM t"])
    assert body(responses.calls[0]) == {
        "tuple": [
            {"from": "t", "select": "a", "format": "table", "limit": 10},
            {
                "from": "t",
                "select": [{"aggregate": "count", "name": "n"}],
                "format": "table",
                "limit": 10,
            },
        ]
    }
    assert first.records() == [{"a": 1}]
    assert second.records() == [{"n": 5}]


def test_connect_knows_the_kind() -> None:
    src = thsources.connect("activedata", url=URL)
    assert isinstance(src, ActiveDataSource)
    assert src.describe() == {"name": "activedata", "kind": "activedata", "url": URL}


def test_a_url_is_required() -> None:
    with pytest.raises(thsources.errors.ConfigError, match="needs url="):
        thsources.connect("activedata")


@responses.activate
def test_sql_that_does_not_parse_gives_the_parsers_message(src: ActiveDataSource) -> None:
    with pytest.raises(UnsupportedQuery) as info:
        src.query("SELECT a FROM treeherder WHERE")
    assert info.value.message == (
        "cannot parse the SQL: Expecting expression, found end of text (at char 30), "
        "(line:1, col:31)"
    )
    assert len(responses.calls) == 0


def test_to_jx_shows_what_would_be_sent(src: ActiveDataSource) -> None:
    assert src.to_jx(
        "SELECT build.platform, avg(action.duration) AS d, percentile(action.duration, 0.9) AS p90 "
        "FROM treeherder WHERE run.result NOT IN ('retry') AND job.type.name LIKE '%mochitest_'"
        " AND run.tier BETWEEN 1 AND 2 AND failure.classification IS NULL "
        "GROUP BY build.platform"
    ) == {
        "from": "treeherder",
        "where": {
            "and": [
                {"not": {"in": ["run.result", {"literal": ["retry"]}]}},
                {"regexp": {"job.type.name": ".*mochitest."}},
                {"between": ["run.tier", 1, 2]},
                {"missing": "failure.classification"},
            ]
        },
        "groupby": [{"name": "build.platform", "value": "build.platform"}],
        "select": [
            {"aggregate": "average", "value": "action.duration", "name": "d"},
            {
                "aggregate": "percentile",
                "value": "action.duration",
                "percentile": 0.9,
                "name": "p90",
            },
        ],
        "format": "table",
    }
