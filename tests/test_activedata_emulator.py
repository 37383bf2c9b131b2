"""The activedata source against the ActiveData emulator (real HTTP on 127.0.0.1), and the
same JX on the local source: old ActiveData queries give the same records on both."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
import requests

import thsources
from thsources.errors import NotFound, ProtocolError, QueryError
from thsources.polling import PollSchedule
from thsources.sources.activedata import ActiveDataSource
from thsources.testing import ActiveDataEmulator


@pytest.fixture(scope="module")
def emulator() -> Iterator[ActiveDataEmulator]:
    with ActiveDataEmulator() as emu:
        yield emu


@pytest.fixture
def emu(emulator: ActiveDataEmulator) -> ActiveDataEmulator:
    emulator.faults = type(emulator.faults)()
    emulator.clear_requests()
    return emulator


@pytest.fixture
def src(emu: ActiveDataEmulator) -> ActiveDataSource:
    return ActiveDataSource(url=emu.url, poll=PollSchedule(first=0.01, cap=0.05))


@pytest.fixture(scope="module")
def local() -> Iterator[thsources.sources.base.Source]:
    with thsources.connect("local") as source:
        yield source


#: An adr-style recipe: jobs of one push with their outcome (mozci's push_tasks query).
PUSH_TASKS: dict[str, Any] = {
    "from": "treeherder",
    "select": [
        {"name": "id", "value": "run.taskcluster.id"},
        {"name": "label", "value": "job.type.name"},
        {"name": "result", "value": "run.result"},
        {"name": "classification", "value": "failure.classification"},
        {"name": "duration", "value": "action.duration"},
        {"name": "start", "value": "action.start_time"},
    ],
    "where": {"eq": {"repo.push.id": {"$eval": "push"}}},
    "sort": ["job.id"],
    "limit": 10000,
}


def test_a_recipe_gives_the_same_records_on_the_emulator_and_locally(
    src: ActiveDataSource, local: Any
) -> None:
    remote = src.query(PUSH_TASKS, params={"push": 1650001})
    here = local.query(PUSH_TASKS, params={"push": 1650001})
    assert here.meta.retrieved_at is not None and here.meta.retrieved_at.tzinfo is dt.UTC
    assert len(remote) > 10
    assert remote.records() == here.records()
    assert remote.columns == here.columns
    assert [c.type for c in remote.columns] == [
        "string", "string", "string", "string", "integer", "datetime"
    ]  # fmt: skip


def test_the_evaluator_agrees_with_sql_on_the_sample(local: Any) -> None:
    jx = local.query(
        {
            "from": "treeherder",
            "groupby": [{"name": "platform", "value": "run.machine.platform"}],
            "select": [
                {"name": "jobs", "aggregate": "count"},
                {
                    "name": "failed",
                    "aggregate": "sum",
                    "value": {
                        "when": {"in": {"run.result": ["testfailed", "busted"]}},
                        "then": 1,
                        "else": 0,
                    },
                },
            ],
            "where": {"eq": {"repo.branch.name": "autoland"}},
            "limit": 1000,
        }
    )
    sql = local.query(
        "SELECT mp.platform, count(*) AS jobs, "
        "count(*) FILTER (WHERE j.result IN ('testfailed', 'busted')) AS failed "
        "FROM job j JOIN push p ON p.id = j.push_id JOIN repository r ON r.id = p.repository_id "
        "JOIN machine_platform mp ON mp.id = j.machine_platform_id "
        "WHERE r.name = 'autoland' GROUP BY mp.platform ORDER BY mp.platform"
    )
    assert jx.records() == sql.records()
    assert jx.meta.truncated is False


@pytest.mark.parametrize("fmt", ["list", "table", "cube"])
def test_edges_answer_the_same_in_every_format(src: ActiveDataSource, fmt: str) -> None:
    res = src.query(
        {
            "from": "treeherder",
            "edges": ["run.result"],
            "where": {"eq": {"repo.branch.name": "mozilla-central"}},
            "format": fmt,
        }
    )
    counts = {r["run.result"]: r["count"] for r in res.records()}
    assert counts[None] == 0  # the null part: every job has a result
    assert (
        sum(counts.values())
        == src.query(
            "SELECT count(*) AS n FROM treeherder WHERE repo.branch.name = 'mozilla-central'"
        ).records()[0]["n"]
    )


def test_sql_through_the_translator(src: ActiveDataSource) -> None:
    res = src.query(
        "SELECT repo.push.id AS push, count(*) AS jobs FROM treeherder "
        "WHERE repo.branch.name = 'autoland' AND run.result IN ('testfailed', 'busted') "
        "GROUP BY repo.push.id ORDER BY jobs DESC LIMIT 3"
    )
    rows = res.records()
    assert len(rows) == 3
    assert rows == sorted(rows, key=lambda r: -r["jobs"])
    assert res.meta.truncated is True  # 3 rows for LIMIT 3: there may be more


def test_the_sql_endpoint_reports_its_jx(emu: ActiveDataEmulator) -> None:
    reply = requests.post(f"{emu.url}/sql", json={"sql": "SELECT count(*) AS n FROM repo"})
    doc = reply.json()
    assert reply.status_code == 200
    assert doc["header"] == ["n"]
    assert doc["data"] == [[1600]]
    assert doc["meta"]["jx_query"] == {
        "from": "repo",
        "select": [{"aggregate": "count", "name": "n"}],
        "format": "table",
    }


def test_bulk_mode_polls_through_403s_and_half_written_status(
    src: ActiveDataSource, emu: ActiveDataEmulator
) -> None:
    emu.faults.status_403 = 2
    emu.faults.status_partial = 2
    emu.faults.bulk_seconds = 0.1
    res = src.query({"from": "treeherder", "select": ["job.id"], "limit": 12000})
    assert len(res) == 12000
    assert res.meta.extra["bulk"] == "url"
    paths = [r.path for r in emu.requests]
    assert paths[0] == "/query"
    assert emu.requests[0].json["destination"] == "url"
    assert sum(p.endswith(".status.json") for p in paths) >= 5
    assert paths[-1].endswith(".json") and not paths[-1].endswith(".status.json")


def test_a_server_without_bulk_answers_synchronously(
    src: ActiveDataSource, emu: ActiveDataEmulator
) -> None:
    emu.faults.bulk_disabled = True
    res = src.query({"from": "treeherder", "select": ["job.id"], "limit": 12000})
    assert len(res) == 10000
    assert res.meta.truncated is True
    assert res.meta.extra["bulk"].startswith("the server answered synchronously")


def test_gateway_errors_are_retried(src: ActiveDataSource, emu: ActiveDataEmulator) -> None:
    emu.faults.gateway_errors = [502, 503]
    res = src.query({"from": "repo", "select": "push.id", "limit": 1})
    assert res.records() == [{"push.id": 1650001}]
    assert [r.status for r in emu.requests] == [502, 503, 200]


@pytest.mark.parametrize(
    ("jx", "message"),
    [
        ({"from": "treeherder", "where": {"foo": {"a": 1}}}, '"foo" is not a known operator'),
        ({"from": "jobs"}, "'jobs' is not a known table; known tables are"),
        ({"from": "treeherder", "select": "run.nope"}, "no field 'run.nope' in table"),
        ({"from": "treeherder", "limit": -1}, "Expecting limit >= 0"),
        (
            {"from": "treeherder", "select": {"aggregate": "mode", "value": "run.tier"}},
            "ES can not aggregate 'mode'",
        ),
    ],
)
def test_bad_queries_raise_the_servers_reason(
    src: ActiveDataSource, jx: dict[str, Any], message: str
) -> None:
    with pytest.raises(QueryError) as info:
        src.query(jx)
    assert info.value.message.startswith(message)


def test_the_same_bad_queries_fail_the_same_way_locally(local: Any) -> None:
    with pytest.raises(QueryError, match="^'jobs' is not a known table"):
        local.query({"from": "jobs"})
    with pytest.raises(QueryError, match="^no field 'run.nope' in table"):
        local.query({"from": "treeherder", "select": "run.nope"})


def test_error_bodies_have_activedatas_shape(emu: ActiveDataEmulator) -> None:
    reply = requests.post(f"{emu.url}/query", json={"from": "treeherder", "where": {"x": 1}})
    doc = reply.json()
    assert reply.status_code == 400
    assert doc["template"] == "could not execute expression {{expression}}"
    assert doc["cause"]["cause"][0]["template"] == "{{operator|quote}} is not a known operator"
    assert doc["cause"]["cause"][0]["params"] == {"operator": "x"}


def test_an_empty_body_gets_the_html_page(emu: ActiveDataEmulator, src: ActiveDataSource) -> None:
    reply = requests.post(f"{emu.url}/query", data=b"")
    assert reply.status_code == 400
    assert reply.headers["Content-Type"] == "text/html"
    with pytest.raises(ProtocolError, match="HTML page"):
        src._answer(reply)


def test_an_oversized_query_is_413(emu: ActiveDataEmulator, src: ActiveDataSource) -> None:
    huge = {"from": "treeherder", "where": {"in": {"run.result": ["x" * 1000] * 11_000}}}
    with pytest.raises(QueryError) as info:
        src.query(huge)
    assert info.value.status_code == 413
    assert info.value.message.startswith("Query is too large")


def test_saved_queries_are_found_by_their_hash(emu: ActiveDataEmulator) -> None:
    query = {"from": "repo", "select": "push.id", "limit": 1, "format": "list"}
    reply = requests.post(f"{emu.url}/query", json={**query, "meta": {"save": True}}).json()
    code = reply["meta"]["saved_as"]
    assert len(code) == 8
    found = requests.get(f"{emu.url}/find/{code}")
    assert found.status_code == 200
    assert orjson.loads(found.content) == query
    missing = requests.get(f"{emu.url}/find/nothere1")
    assert missing.status_code == 404
    assert missing.json() == {"type": "ERROR", "template": "not found"}


def test_meta_tables_are_ordinary_tables(src: ActiveDataSource) -> None:
    tables = src.query({"from": "meta.tables", "select": "name", "format": "list"})
    assert sorted(r["name"] for r in tables.records()) == ["repo", "treeherder"]
    cols = src.query(
        {
            "from": "meta.columns",
            "select": ["name", "type"],
            "where": {"and": [{"eq": {"table": "treeherder"}}, {"prefix": {"name": "run."}}]},
            "sort": "name",
            "limit": 100,
        }
    ).records()
    assert {"name": "run.result", "type": "string"} in cols
    assert {"name": "run.tier", "type": "number"} in cols


def test_a_batch_runs_every_query(src: ActiveDataSource) -> None:
    a, b = src.batch(
        [
            {"from": "repo", "select": "push.id", "limit": 2, "sort": "push.id"},
            "SELECT count(*) AS n FROM repo",
        ]
    )
    assert a.records() == [{"push.id": 1650001}, {"push.id": 1650002}]
    assert b.records() == [{"n": 1600}]


def test_find_unknown_raises_not_found(src: ActiveDataSource, emu: ActiveDataEmulator) -> None:
    reply = requests.get(f"{emu.url}/find/zzzzzzzz")
    with pytest.raises(NotFound, match="not found"):
        src._answer(reply)
