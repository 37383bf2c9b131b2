"""The ``redash`` source against mocked HTTP: exact requests, both answer shapes, every error.

HTTP is mocked with ``responses`` using the answers captured from a real Redash server
(``reference/redash-samples``, embedded at the end of this file). Every test runs with DEBUG
logging captured, and every exception message and ``repr`` the tests see is collected: the
API key must appear in none of them (see ``test_zz_the_key_appears_nowhere``).
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, cast

import orjson
import pytest
import requests
import responses
import urllib3.exceptions
from hypothesis import given
from hypothesis import strategies as st
from secret_watch import SecretWatch

import thsources
from thsources.errors import (
    AuthenticationError,
    ConfigError,
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    QueryCancelled,
    QueryError,
    QueryTimeout,
    SourceError,
    SourceUnavailable,
    ThsourcesError,
)
from thsources.http import RetryPolicy, user_agent
from thsources.polling import PollSchedule, Progress
from thsources.sources.base import JobState
from thsources.sources.redash import RedashJob, RedashSource
from thsources.sources.redash_params import (
    ParamDef,
    parse_schema,
    prepare,
    protect_mustache,
    relative_dates,
    template_contexts,
)
from thsources.sources.redash_wire import (
    clean_error,
    job_fields,
    parse_time,
    stored_text,
    wire_max_age,
)

KEY: Final = "rEdAsHkEy0123456789abcdefZQXWvu"
BASE: Final = "http://redash.test"
JOB_ID: Final = "2ba9487a-368a-4460-8e7e-cde3f3a4f150"
FAST_POLL: Final = PollSchedule(first=0.001, factor=0.01, cap=0.005)
FAST_RETRY: Final = RetryPolicy(attempts=3, initial=0.001, maximum=0.002)

# Every exception text and repr the tests produced; checked for the key at the end.
WATCH = SecretWatch(KEY, KEY[-6:])
SEEN = WATCH.seen
remember = WATCH.remember
raises = WATCH.raises


SAMPLES = Path(__file__).resolve().parent / "fixtures" / "redash-samples"


def sample(name: str) -> dict[str, Any]:
    """A fresh copy of one captured answer: request, status, content_type, body."""
    value: dict[str, Any] = orjson.loads((SAMPLES / f"{name}.json").read_bytes())
    return value


def body(name: str) -> Any:
    return sample(name)["body"]


@pytest.fixture(autouse=True)
def _no_key_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    yield from WATCH.check_logs(caplog)


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as r:
        yield r


class RecordingSession(requests.Session):
    """A session that remembers the keyword arguments of each request (redirects, timeouts)."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        self.sent.append((str(method), kwargs))
        return super().request(method, url, *args, **kwargs)


def make_source(**options: Any) -> RedashSource:
    kwargs: dict[str, Any] = {
        "url": BASE,
        "api_key": KEY,
        "data_source": "treeherder-pg",
        "poll": FAST_POLL,
        "retry": FAST_RETRY,
        "session": RecordingSession(),
    }
    kwargs.update(options)
    src = RedashSource(**kwargs)
    remember(repr(src), src.describe())
    return src


@pytest.fixture
def src() -> Iterator[RedashSource]:
    with make_source() as s:
        yield s


def echoed(mock: responses.RequestsMock, answer: Any) -> Any:
    """A callback answering ``answer`` as Redash would for the text last POSTed.

    A real result's ``query`` is the text that ran: the one sent, after Mustache consumed a
    set-delimiter tag and the runner dropped trailing comments and semicolons.
    """

    def reply(request: Any) -> tuple[int, dict[str, str], bytes]:
        out = orjson.loads(orjson.dumps(answer))
        posts = [c.request for c in mock.calls if c.request.method == "POST"]
        if request.method == "POST":
            posts.append(request)
        sent = orjson.loads(posts[-1].body or b"{}") if posts else {}
        if isinstance(sent.get("query"), str) and isinstance(out.get("query_result"), dict):
            text = re.sub(r"^\{\{=\S+ \S+=\}\}\n?", "", sent["query"])
            out["query_result"]["query"] = stored_text(text)
        return 200, {"Content-Type": "application/json"}, orjson.dumps(out)

    return reply


def add_data_sources(mock: responses.RequestsMock, listing: Any = None) -> None:
    mock.get(f"{BASE}/api/data_sources", json=body("data_sources") if listing is None else listing)


def add_job_flow(mock: responses.RequestsMock, *polls: Any, result: Any = None) -> None:
    """The POST answering a job, the given poll answers, then the result fetch."""
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    for answer in polls:
        if isinstance(answer, int):
            mock.get(f"{BASE}/api/jobs/{JOB_ID}", status=answer, json=body("error_unknown_job"))
        else:
            mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=answer)
    mock.add_callback(
        responses.GET,
        f"{BASE}/api/query_results/270.json",
        callback=echoed(mock, body("query_result") if result is None else result),
    )


def job(status: Any, rid: Any = None, error: str = "", jid: str = JOB_ID, **extra: Any) -> Any:
    return {
        "job": {
            "id": jid,
            "updated_at": 0,
            "status": status,
            "error": error,
            "result": rid,
            "query_result_id": rid,
            **extra,
        }
    }


def calls(mock: responses.RequestsMock) -> list[tuple[str, str, Any]]:
    """(method, path with query, JSON body) of each request sent."""
    out = []
    for call in mock.calls:
        req = call.request
        url = str(req.url)
        path = url[len(BASE) :]
        data = orjson.loads(req.body) if req.body else None
        out.append((str(req.method), path, data))
    return out


def check_hygiene(mock: responses.RequestsMock, src: RedashSource | None = None) -> None:
    """Every request: key in the header only, our User-Agent, connect and read timeouts.

    With ``src`` (made by :func:`make_source`): POSTs were sent without following redirects.
    """
    assert mock.calls, "no request was sent"
    for call in mock.calls:
        req = call.request
        assert req.headers["Authorization"] == f"Key {KEY}"
        assert req.headers["User-Agent"] == user_agent()
        assert "api_key" not in str(req.url) and KEY not in str(req.url)
        connect, read = cast(Any, req).req_kwargs["timeout"]
        assert connect > 0 and read > 0
    if src is not None:
        session = src._http._session
        assert isinstance(session, RecordingSession)
        posts = [kw for method, kw in session.sent if method == "POST"]
        assert posts and all(kw["allow_redirects"] is False for kw in posts)
        assert all(kw["timeout"] for _, kw in session.sent)


# -- configuration -----------------------------------------------------------------------------


def test_connect_by_kind_gives_a_redash_source() -> None:
    with thsources.connect("redash", url=BASE, api_key=KEY, data_source="treeherder-pg") as s:
        assert isinstance(s, RedashSource)
        assert s.kind == "redash" and s.name == "redash"
        remember(repr(s), s.describe())


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://sql.telemetry.mozilla.org", "https://sql.telemetry.mozilla.org"),
        ("https://sql.telemetry.mozilla.org/", "https://sql.telemetry.mozilla.org"),
        ("https://sql.telemetry.mozilla.org/api", "https://sql.telemetry.mozilla.org"),
        ("https://sql.telemetry.mozilla.org/api/", "https://sql.telemetry.mozilla.org"),
        ("  http://host.test:5000/redash/ ", "http://host.test:5000/redash"),
        ("http://host.test/redash/api", "http://host.test/redash"),
    ],
)
def test_url_is_normalised(given: str, expected: str) -> None:
    assert make_source(url=given).url == expected


@pytest.mark.parametrize(
    ("url", "text"),
    [
        (None, "needs a url"),
        ("", "needs a url"),
        ("sql.telemetry.mozilla.org", "https://"),
        ("ftp://host.test", "https://"),
        (f"https://host.test/?api_key={KEY}", "do not put the API key in the url"),
        ("https://host.test/?x=1", "query string"),
        ("https://host.test/queries/123/source", "base URL"),
        ("https://host.test/api/queries/1", "base URL"),
    ],
)
def test_bad_urls_are_config_errors(url: str | None, text: str) -> None:
    with raises(ConfigError, match=text):
        RedashSource(url=url, api_key=KEY)


@pytest.mark.parametrize(
    "url", ["https://alice:Pa55-w0rd@host.test/redash", "https://alice@host.test/redash"]
)
def test_credentials_in_the_url_are_refused_without_showing_them(url: str) -> None:
    """requests would send them as basic auth in place of the API key's header."""
    with raises(ConfigError) as info:
        RedashSource(url=url, api_key=KEY)
    assert str(info.value) == (
        "the redash url must not carry a user name or password (user:password@): Redash "
        "authenticates with the API key alone: use 'https://host.test/redash'"
    )


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_key_is_a_config_error_saying_how_to_fix(key: str | None) -> None:
    with raises(ConfigError, match="api_key=") as info:
        RedashSource(url=BASE, api_key=key)
    assert "Edit Profile" in info.value.message


@pytest.mark.parametrize("key", [KEY[:5] + "\n" + KEY[5:], "a b" + KEY, KEY + "\x00"])
def test_malformed_key_is_refused_without_quoting_it(key: str) -> None:
    with raises(ConfigError, match="copy it again") as info:
        RedashSource(url=BASE, api_key=key)
    assert KEY not in repr(info.value)


@pytest.mark.parametrize(
    ("options", "text"),
    [
        ({"timeout": "soon"}, "timeout"),
        ({"timeout": -1}, "non-negative"),
        ({"dialect": "oracle"}, "dialect"),
        ({"data_source": True}, "data_source"),
    ],
)
def test_bad_options_are_config_errors(options: dict[str, Any], text: str) -> None:
    with raises(ConfigError, match=text):
        make_source(**options)


def test_options_and_secrets_declared() -> None:
    names = RedashSource.option_names()
    assert names[:4] == ("url", "api_key", "data_source", "timeout")
    assert RedashSource.secret_options() == ("api_key",)


def test_options_from_a_profile_are_parsed() -> None:
    s = RedashSource.from_options(
        "stmo",
        {"url": BASE, "api_key": KEY, "data_source": "7", "timeout": "30", "verify": "false"},
    )
    assert isinstance(s, RedashSource) and s.name == "stmo"
    assert s.default_timeout == 30.0
    assert s.describe()["data_source"] == 7
    remember(repr(s), s.describe())


def test_describe_and_repr_show_no_part_of_the_key(src: RedashSource) -> None:
    info = src.describe()
    assert info["api_key"] == "(set)"
    assert info["url"] == BASE and info["data_source"] == "treeherder-pg"
    text = repr(info) + repr(src) + str(vars(src))
    assert KEY not in text and KEY[-4:] not in repr(info) + repr(src)


def test_the_toolbelt_client_uses_the_hardened_session(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    assert src.dialect == "postgresql"
    assert type(src._toolbelt.session).__name__ == "_ToolbeltSession"
    check_hygiene(mock)
    assert calls(mock) == [("GET", "/api/data_sources", None)]


# -- data sources and dialects -----------------------------------------------------------------


@pytest.mark.parametrize("wanted", ["treeherder-pg", "TREEHERDER-PG", 1, "1"])
def test_data_source_by_name_or_id(mock: responses.RequestsMock, wanted: Any) -> None:
    add_data_sources(mock)
    s = make_source(data_source=wanted)
    assert s.dialect == "postgresql"
    assert s.describe()["data_source_id"] == 1


def test_unknown_data_source_lists_the_known_ones(mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    with raises(NotFound, match="treeherder-mysql") as info:
        make_source(data_source="nope").query("SELECT 1")
    assert "treeherder-pg (id 1)" in info.value.message
    assert [m for m, _, _ in calls(mock)] == ["GET"]  # nothing was posted


def test_data_source_required_when_several(mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    with raises(ConfigError, match="data_source="):
        make_source(data_source=None).query("SELECT 1")


def test_the_only_data_source_is_used_by_default(mock: responses.RequestsMock) -> None:
    add_data_sources(mock, [body("data_sources")[1]])
    assert make_source(data_source=None).dialect == "postgresql"


@pytest.mark.parametrize(
    ("ds_type", "dialect"),
    [
        ("pg", "postgresql"),
        ("redshift", "postgresql"),
        ("mysql", "mysql"),
        ("rds_mysql", "mysql"),
        ("bigquery", "bigquery"),
    ],
)
def test_dialect_from_the_data_source_type(
    mock: responses.RequestsMock, ds_type: str, dialect: str
) -> None:
    add_data_sources(mock, [{"id": 3, "name": "x", "type": ds_type}])
    s = make_source(data_source="x")
    assert s.dialect == dialect
    assert s.describe()["dialect"] == dialect


def test_unknown_type_binds_as_postgresql_with_a_note(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    add_data_sources(mock, [{"id": 3, "name": "x", "type": "clickhouse"}])
    s = make_source(data_source="x")
    assert s.dialect == "postgresql"
    assert "clickhouse" in s.describe()["note"]
    assert any(
        r.levelno == logging.WARNING and "clickhouse" in r.getMessage() for r in caplog.records
    )


def test_dialect_option_overrides(mock: responses.RequestsMock) -> None:
    s = make_source(dialect="mysql")
    assert s.dialect == "mysql"
    assert len(mock.calls) == 0


# -- ad-hoc queries: the happy paths -----------------------------------------------------------


def test_query_job_answer_exact_requests_and_typed_result(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_1"), body("job_status_2"), body("job_status_3"))
    sql = sample("post_query_results_job")["request"]["body"]["query"]
    res = src.query(sql)
    check_hygiene(mock, src)
    assert calls(mock) == [
        ("GET", "/api/data_sources", None),
        (
            "POST",
            "/api/query_results",
            {"data_source_id": 1, "query": sql, "max_age": 0, "parameters": {}},
        ),
        ("GET", f"/api/jobs/{JOB_ID}", None),
        ("GET", f"/api/jobs/{JOB_ID}", None),
        ("GET", f"/api/jobs/{JOB_ID}", None),
        ("GET", "/api/query_results/270.json", None),
    ]
    assert len(res) == 3
    types = {c.name: c.type for c in res.columns}
    assert types == {
        "id": "integer",
        "result": "string",
        "start_time": "datetime",
        "revision": "string",
        "fetched": "datetime",
        "iv": "string",
        "arr": "json",
        "js": "json",
        "num": "float",
        "flag": "boolean",
        "d": "date",
        "slept": "string",
        "k": "integer",
    }
    first = res.records()[0]
    assert first["start_time"] == dt.datetime(2024, 5, 1, 10, 10, tzinfo=dt.UTC)  # naive = UTC
    assert first["fetched"].tzinfo == dt.UTC
    assert first["arr"] == [1, 2] and first["js"] == {"a": 1}
    assert first["k"] == 1795715521369220300
    meta = res.meta
    assert meta.source == "redash"
    assert meta.query == sql
    assert meta.job_id == JOB_ID
    assert meta.result_id == 270
    assert meta.runtime_s == pytest.approx(body("query_result")["query_result"]["runtime"])
    assert meta.retrieved_at is not None and meta.retrieved_at.tzinfo is not None
    assert meta.retrieved_at.utcoffset() == dt.timedelta(0)
    assert meta.cached is False
    assert meta.extra["query_hash"] == "5ee1f7a72db96734caad03f2e8c1852a"


def test_cache_hit_answer_needs_no_polling(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    req = sample("post_query_results_cache_hit")["request"]["body"]
    job_ = src.submit(req["query"], max_age=3600)
    assert job_.id is None
    assert job_.state is JobState.DONE
    res = job_.result()
    assert calls(mock)[1] == (
        "POST",
        "/api/query_results",
        {"data_source_id": 1, "query": req["query"], "max_age": 3600, "parameters": {}},
    )
    assert len(mock.calls) == 2
    assert res.meta.cached is True and res.meta.result_id == 270 and res.meta.job_id is None
    assert len(res) == 3
    remember(repr(job_))


@pytest.mark.parametrize(("max_age", "sent"), [(0, 0), (3600, 3600), (1.2, 2), (math.inf, -1)])
def test_max_age_is_always_sent_explicitly(
    src: RedashSource, mock: responses.RequestsMock, max_age: float, sent: int
) -> None:
    add_data_sources(mock)
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    src.query("SELECT 1", max_age=max_age)
    assert calls(mock)[1][2]["max_age"] == sent


@pytest.mark.parametrize("max_age", [-1, math.nan, "0", True])
def test_bad_max_age_is_a_parameter_error(src: RedashSource, max_age: Any) -> None:
    with raises(ParameterError, match="max_age"):
        src.query("SELECT 1", max_age=max_age)


@pytest.mark.parametrize("timeout", [0, -1, math.nan, True, "30"])
def test_timeouts_that_mean_nothing_are_refused_before_any_request(
    src: RedashSource, mock: responses.RequestsMock, timeout: Any
) -> None:
    """The same rule as every source (polling.check_timeout): 0 would give up before asking."""
    with raises(ParameterError, match="positive number of seconds"):
        src.query("SELECT 1", timeout=timeout)
    assert len(mock.calls) == 0


def test_submit_returns_a_job_handle(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_1"), body("job_status_2"), body("job_status_3"))
    handle = src.submit("SELECT 1")
    assert isinstance(handle, RedashJob)
    assert handle.id == JOB_ID
    assert handle.state is JobState.QUEUED  # each read asks the server once
    assert handle.state is JobState.RUNNING
    assert handle.done()  # status 3 with a result id: done, rows not fetched yet
    assert len(mock.calls) == 5
    res = handle.result(timeout=30)
    assert handle.state is JobState.DONE and handle.done()
    assert handle.result() is res  # kept, not fetched again
    assert len(mock.calls) == 6
    remember(repr(handle))


def test_null_result_id_race_keeps_polling(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    add_job_flow(mock, job(3, None), job(3, None), body("job_status_3"))
    res = src.query("SELECT 1")
    assert [p for _, p, _ in calls(mock)].count(f"/api/jobs/{JOB_ID}") == 3
    assert res.meta.result_id == 270


@pytest.mark.parametrize(
    "final",
    [
        {"job": {"id": JOB_ID, "status": "finished", "error": "", "result_id": 270}},
        {"job": {"id": JOB_ID, "status": "3", "error": "", "result": 270}},
        {"job": {"id": JOB_ID, "status": 3, "error": None, "query_result_id": 270}},
    ],
)
def test_string_statuses_and_result_id_are_accepted(
    src: RedashSource, mock: responses.RequestsMock, final: Any
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, {"job": {"id": JOB_ID, "status": "started", "error": ""}}, final)
    events: list[Progress] = []
    res = src.query("SELECT 1", progress=events.append)
    assert res.meta.result_id == 270
    assert events[0].state is JobState.RUNNING


def test_progress_events_for_a_cli_status_line(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_1"), body("job_status_2"), body("job_status_3"))
    events: list[Progress] = []
    src.query("SELECT 1", progress=events.append)
    assert [e.state for e in events] == [JobState.QUEUED, JobState.RUNNING, JobState.DONE]
    assert [e.polls for e in events] == [1, 2, 3]
    assert all(e.job_id == JOB_ID and e.source == "redash" for e in events)
    assert all(e.elapsed_s >= 0 for e in events)
    assert events == sorted(events, key=lambda e: e.elapsed_s)


def test_mapping_of_job_statuses() -> None:
    def state(status: Any, rid: Any = None) -> JobState:
        return job_fields({"id": "j", "status": status, "query_result_id": rid}, str)[0]

    assert [state(s) for s in (1, 2, 4, 5, 6, 7)] == [
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.QUEUED,
        JobState.QUEUED,
    ]
    assert state(3, 5) is JobState.DONE
    assert [state(s) for s in ("queued", "started", "failed", "canceled", "deferred")] == [
        JobState.QUEUED,
        JobState.RUNNING,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.QUEUED,
    ]
    for bad in (0, 9, "weird", None, True):
        with raises(ProtocolError, match="unknown job status"):
            state(bad)
    with raises(ProtocolError, match="wrong shape"):
        job_fields(["not", "a", "dict"], str)


def test_unknown_status_is_a_protocol_error_and_the_job_is_cancelled(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, job(42))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    with raises(ProtocolError, match="42"):
        src.query("SELECT 1")
    assert calls(mock)[-1][:2] == ("DELETE", f"/api/jobs/{JOB_ID}")


# -- parameters and Mustache -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ("O'Brien", "'O''Brien'"),
        ("x' OR '1'='1", "'x'' OR ''1''=''1'"),
        (7, "7"),
        (None, "NULL"),
        (["a", "b'c"], "('a', 'b''c')"),
    ],
)
def test_parameters_are_bound_as_postgresql_literals(
    src: RedashSource, mock: responses.RequestsMock, value: Any, literal: str
) -> None:
    add_data_sources(mock)
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    src.query("SELECT * FROM push WHERE author = :who", {"who": value})
    assert calls(mock)[1][2]["query"] == f"SELECT * FROM push WHERE author = {literal}"


def test_mysql_data_sources_get_mysql_quoting(mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    make_source(data_source="treeherder-mysql").query(
        "SELECT 1 FROM push WHERE author = :a", {"a": "x\\' OR 1=1 -- O'Brien"}
    )
    sent = calls(mock)[1][2]
    assert sent["data_source_id"] == 2
    # Hex: read the same with and without NO_BACKSLASH_ESCAPES (sqlbind, MariaDB tests).
    assert sent["query"] == (
        "SELECT 1 FROM push WHERE author = _utf8mb4 X'785c27204f5220313d31202d2d204f27427269656e'"
    )


def test_missing_or_unknown_parameters_fail_before_sending(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    with raises(ParameterError, match="missing"):
        src.query("SELECT :a")
    with raises(ParameterError, match="unknown"):
        src.query("SELECT 1", {"b": 1})
    assert [m for m, _, _ in calls(mock)] == ["GET"]


def test_braces_reach_the_database_unchanged(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    src.query("SELECT '{{ x }}' AS s, :v AS v", {"v": "{{y}} <% z %>"})
    query = calls(mock)[1][2]["query"]
    assert query.startswith("{{=") and query.endswith("SELECT '{{ x }}' AS s, '{{y}} <% z %>' AS v")
    assert "<% " not in query[: query.index("SELECT")]  # delimiters absent from the text


def test_sql_without_braces_is_sent_as_is(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    src.query("SELECT '}}' AS s")
    assert calls(mock)[1][2]["query"] == "SELECT '}}' AS s"


@given(st.text(alphabet=st.sampled_from(list("{}<>%!=[]ab \n\r\t'&#^/")), max_size=40))
def test_protect_mustache_round_trips_through_the_renderer(text: str) -> None:
    from thsources.testing.redash_mustache import render

    protected = protect_mustache(text)
    if "{{" not in text:
        assert protected == text
    else:
        assert render(protected, {}) == text


@pytest.mark.parametrize(
    "text", ["SELECT '{{ x }}'", "SELECT '{{ a }} <% b %>'", "SELECT '{{a}} <% <<<! !>>> [[%'"]
)
def test_protect_mustache_known_cases(text: str) -> None:
    from thsources.testing.redash_mustache import collect_keys, render

    protected = protect_mustache(text)
    assert collect_keys(protected) == []  # nothing Redash would call a missing parameter
    assert render(protected, {}) == text


# -- query failures ----------------------------------------------------------------------------


def test_status_4_is_a_query_error_with_the_database_message(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    failed = body("job_failed_bad_sql")
    failed["job"]["id"] = JOB_ID
    add_job_flow(mock, body("job_status_1"), failed)
    with raises(QueryError) as info:
        src.query("SELECT nosuchcol FROM job")
    assert type(info.value) is QueryError
    assert info.value.job_id == JOB_ID
    assert info.value.message == (
        'column "nosuchcol" does not exist\nLINE 1: SELECT nosuchcol ...\n'
        + " " * len("LINE 1: SELECT ")
        + "^"
    )
    assert "Username" not in info.value.message and "Scheduled" not in info.value.message
    assert all(m != "DELETE" for m, _, _ in calls(mock))  # a failed job needs no cancel


def test_clean_error_keeps_other_messages() -> None:
    assert clean_error("Unknown column 'nosuchcol' in 'SELECT'") == (
        "Unknown column 'nosuchcol' in 'SELECT'"
    )
    assert (
        clean_error(
            "syntax error near '/* Username: a, Query ID: adhoc, Queue: q, Job ID: j, "
            "Query Hash: h, Scheduled: False */ SELEC 1'"
        )
        == "syntax error near 'SELEC 1'"
    )


_LONG_SQL: Final = "SELECT 1, 1, nosuchcol, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 FROM job"


@pytest.mark.parametrize("scheduled", [False, True])
@pytest.mark.parametrize("error_at", range(0, 40))
def test_the_annotation_is_cut_from_libpq_excerpts_too(error_at: int, scheduled: bool) -> None:
    """PostgreSQL's 60-column excerpt starts inside the annotation: ``...uled: False */``."""
    from thsources.testing.redash_sql import annotate, libpq_error_position

    meta = {
        "Username": "admin@example.com",
        "query_id": "adhoc",
        "Queue": "queries",
        "Job ID": JOB_ID,
        "Query Hash": "5ee1f7a72db96734caad03f2e8c1852a",
        "Scheduled": scheduled,
    }
    annotated = annotate(_LONG_SQL, meta)
    position = annotated.index(_LONG_SQL) + error_at
    excerpt = libpq_error_position(annotated, position)
    cleaned = clean_error(f'column "nosuchcol" does not exist\n{excerpt}')
    head, line, caret = cleaned.split("\n")
    assert head == 'column "nosuchcol" does not exist'
    assert "*/" not in line and "uled" not in line and "Hash" not in line
    shown = line.removeprefix("LINE 1: ").removesuffix("...")
    assert len(shown) >= 10 and _LONG_SQL.startswith(shown)
    assert caret.strip() == "^"
    assert line[caret.index("^")] == _LONG_SQL[error_at]  # the caret still points at it


@pytest.mark.parametrize(
    "excerpt",
    [
        "LINE 1: ...uled: False */ SELECT 1, 1, nosuchcol",
        "LINE 1: ...se */ SELECT 1, 1, nosuchcol",
        "LINE 1: ...*/ SELECT 1, 1, nosuchcol",
    ],
)
def test_annotation_tails_seen_on_a_real_server(excerpt: str) -> None:
    caret = " " * excerpt.index("nosuchcol") + "^"
    cleaned = clean_error(f"column does not exist\n{excerpt}\n{caret}")
    assert cleaned.split("\n")[1:] == [
        "LINE 1: SELECT 1, 1, nosuchcol",
        " " * len("LINE 1: SELECT 1, 1, ") + "^",
    ]


def test_a_users_own_comment_in_an_excerpt_stays() -> None:
    text = "syntax error\nLINE 2: ...t a note */ SELEC 1\n" + " " * 27 + "^"
    assert clean_error(text) == text


@pytest.mark.parametrize("text", ["Query cancelled by user.", "Query execution cancelled."])
def test_cancelled_on_the_server_is_query_cancelled(
    src: RedashSource, mock: responses.RequestsMock, text: str
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_2"), job(4, error=text))
    handle = src.submit("SELECT 1")
    with raises(QueryCancelled, match="cancelled on the server"):
        handle.result()
    assert handle.state is JobState.CANCELLED
    with raises(QueryCancelled):
        handle.result()
    assert all(m != "DELETE" for m, _, _ in calls(mock))


def test_status_5_is_query_cancelled(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    add_job_flow(mock, job(5))
    with raises(QueryCancelled):
        src.query("SELECT 1")


def test_empty_error_status_4_is_recovered_by_a_widened_repost(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=job(4, error=""))
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    res = src.query("SELECT 1")
    posts = [b for m, _, b in calls(mock) if m == "POST"]
    assert len(posts) == 2
    assert posts[0]["max_age"] == 0
    assert posts[1]["max_age"] >= 1 and posts[1]["query"] == posts[0]["query"]
    assert res.meta.cached is True
    assert "without a message" in res.meta.extra["recovered"]


def test_empty_error_again_and_again_gives_up(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=job(4, error=""))
    with raises(QueryError, match="without a message"):
        src.query("SELECT 1")
    assert [m for m, _, _ in calls(mock)].count("POST") == 3  # the first and two re-posts


def test_job_lost_500_is_recovered_and_followed_under_its_new_id(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", status=500, json=body("error_unknown_job"))
    mock.post(f"{BASE}/api/query_results", json=job(1, jid="new-job"))
    mock.get(f"{BASE}/api/jobs/new-job", json=job(3, 270, jid="new-job"))
    mock.add_callback(
        responses.GET,
        f"{BASE}/api/query_results/270.json",
        callback=echoed(mock, body("query_result")),
    )
    res = src.query("SELECT 1")
    sent = calls(mock)
    assert [(m, p) for m, p, _ in sent] == [
        ("GET", "/api/data_sources"),
        ("POST", "/api/query_results"),
        ("GET", f"/api/jobs/{JOB_ID}"),
        ("POST", "/api/query_results"),
        ("GET", "/api/jobs/new-job"),
        ("GET", "/api/query_results/270.json"),
    ]
    assert sent[3][2]["max_age"] >= 1
    assert res.meta.job_id == "new-job"
    assert len(mock.calls) == 6  # the 500 was not retried as if it were transient


def test_job_lost_for_good_is_source_unavailable(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", status=500, json=body("error_unknown_job"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", status=500, json=body("error_unknown_job"))
    with raises(SourceUnavailable, match="lost"):
        src.query("SELECT 1")
    assert [m for m, _, _ in calls(mock)].count("POST") == 3


# -- deadlines, cancel, Ctrl-C -----------------------------------------------------------------


def test_deadline_cancels_the_job_then_raises_query_timeout(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_1"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    with raises(QueryTimeout, match="cancelled") as info:
        src.query("SELECT pg_sleep(100)", timeout=0.2)
    assert info.value.job_id == JOB_ID
    sent = calls(mock)
    assert sent[-1] == ("DELETE", f"/api/jobs/{JOB_ID}", None)
    assert [m for m, _, _ in sent].count("DELETE") == 1
    check_hygiene(mock)


def test_ctrl_c_cancels_the_job_and_reraises(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_1"), body("job_status_2"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)

    def progress(event: Progress) -> None:
        if event.state is JobState.RUNNING:
            raise KeyboardInterrupt

    with raises(KeyboardInterrupt):
        src.query("SELECT pg_sleep(100)", progress=progress)
    assert calls(mock)[-1] == ("DELETE", f"/api/jobs/{JOB_ID}", None)


def test_timeout_with_a_key_that_cannot_cancel_says_so(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_1"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", status=404, json=body("error_bad_key"))
    with raises(QueryTimeout, match="could not be cancelled"):
        src.query("SELECT 1", timeout=0.1)


def test_transport_failure_while_polling_cancels_the_job(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(
        f"{BASE}/api/jobs/{JOB_ID}",
        status=502,
        body="<html>Bad Gateway</html>",
        content_type="text/html",
    )
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    # Polls go on until the deadline (a proxy may recover), then the job is cancelled.
    with raises(SourceUnavailable, match="502.*still unreachable at the deadline") as info:
        src.query("SELECT 1", timeout=0.5)
    assert info.value.message.endswith("the remote job was cancelled")
    sent = [m for m, _, _ in calls(mock)]
    assert sent.count("GET") > 1 + FAST_RETRY.attempts  # data sources + polls, retried
    assert sent[-1] == "DELETE"


def test_interrupt_right_after_the_post_still_cancels(
    src: RedashSource, mock: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(RedashJob, "_interpret", interrupted)
    with raises(KeyboardInterrupt):
        src.query("SELECT 1")
    assert calls(mock)[-1] == ("DELETE", f"/api/jobs/{JOB_ID}", None)


def test_the_cli_can_pass_progress(src: RedashSource) -> None:
    import inspect

    for method in (src.query, src.submit, src.run_saved, src.submit_saved):
        assert "progress" in inspect.signature(method).parameters


@pytest.mark.parametrize(
    "answer",
    [
        job(4, error="Query cancelled by user."),
        job(4, error="Query execution cancelled."),
        job(5),
        job("canceled"),
        job("stopped"),
    ],
)
def test_job_state_reports_a_cancel_on_the_server_as_cancelled(
    src: RedashSource, mock: responses.RequestsMock, answer: Any
) -> None:
    """Someone else (or Redash) cancelled the job: ``state`` says so, not "failed"."""
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=body("job_status_2"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=answer)
    handle = src.submit("SELECT 1")
    assert handle.state is JobState.RUNNING
    assert handle.state is JobState.CANCELLED
    assert handle.state is JobState.CANCELLED  # settled: no more requests
    with raises(QueryCancelled, match="cancelled on the server"):
        handle.result()
    assert [m for m, _, _ in calls(mock)] == ["GET", "POST", "GET", "GET"]


def test_job_state_reports_a_query_error_as_failed(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=job(4, error='relation "x" does not exist'))
    handle = src.submit("SELECT * FROM x")
    assert handle.state is JobState.FAILED
    with raises(QueryError, match='relation "x" does not exist'):
        handle.result()


def test_job_cancel_and_later_result(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    handle = src.submit("SELECT 1")
    handle.cancel()
    assert handle.state is JobState.CANCELLED
    with raises(QueryCancelled):
        handle.result()
    handle.cancel()  # idempotent: no second DELETE
    assert [m for m, _, _ in calls(mock)] == ["GET", "POST", "DELETE"]


def test_job_cancel_with_a_query_key_is_permission_denied(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", status=404, json=body("error_bad_key"))
    handle = src.submit("SELECT 1")
    with raises(PermissionDenied, match="query API key"):
        handle.cancel()


def test_result_timeout_of_a_submitted_job(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_1"))
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    handle = src.submit("SELECT 1", timeout=600)
    with raises(QueryTimeout):
        handle.result(timeout=0.05)
    assert handle.state is JobState.CANCELLED
    with raises(QueryCancelled):
        handle.result()


@pytest.mark.parametrize("timeout", [-1, "10", math.nan])
def test_bad_timeout_is_a_parameter_error(src: RedashSource, timeout: Any) -> None:
    with raises(ParameterError, match="timeout"):
        src.query("SELECT 1", timeout=timeout)


# -- HTTP errors -------------------------------------------------------------------------------


def test_bad_key_404_is_an_authentication_error(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    mock.get(f"{BASE}/api/data_sources", status=404, json=body("error_bad_key"))
    with raises(AuthenticationError, match="API key") as info:
        src.query("SELECT 1")
    assert info.value.status_code == 404


def test_bad_key_on_the_post(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", status=404, json=body("error_bad_key"))
    with raises(AuthenticationError, match="refused the API key"):
        src.query("SELECT 1")


@pytest.mark.parametrize(
    ("status", "answer", "cls", "text"),
    [
        (
            403,
            {
                "job": {
                    "status": 4,
                    "error": "You do not have permission to run queries with this data source.",
                }
            },
            PermissionDenied,
            "do not have permission",
        ),
        (401, "error_missing_data_source", NotFound, "Please select data source"),
        (
            401,
            {"job": {"status": 4, "error": "Target data source not available."}},
            NotFound,
            "not available",
        ),
        (400, "error_mustache", ParameterError, "Missing parameter value for: x"),
        (
            400,
            {
                "message": "The following parameter values are incompatible with their "
                "definitions: push_id"
            },
            ParameterError,
            "incompatible",
        ),
        (
            400,
            {"job": {"status": 4, "error": "treeherder-pg is paused. Please try later."}},
            SourceUnavailable,
            "paused",
        ),
        (400, {"message": "Bad Request"}, SourceError, "Bad Request"),
        (500, "error_unknown_job", SourceUnavailable, "Internal Server Error"),
        (401, {"message": "Unauthorized"}, AuthenticationError, "Unauthorized"),
    ],
)
def test_error_answers_to_the_post(
    src: RedashSource,
    mock: responses.RequestsMock,
    status: int,
    answer: Any,
    cls: type[ThsourcesError],
    text: str,
) -> None:
    add_data_sources(mock)
    mock.post(
        f"{BASE}/api/query_results",
        status=status,
        json=body(answer) if isinstance(answer, str) else answer,
    )
    with raises(cls, match=text) as info:
        src.query("SELECT 1")
    assert type(info.value) is cls
    assert info.value.source == "redash"
    assert [m for m, _, _ in calls(mock)].count("POST") == 1  # never blindly re-posted


def test_html_200_is_a_protocol_error_about_the_url(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    spa = sample("error_spa_catch_all")
    mock.post(
        f"{BASE}/api/query_results",
        status=200,
        content_type=spa["content_type"],
        body="<!DOCTYPE html><html><head><title>Redash</title></head></html>",
    )
    with raises(ProtocolError, match="URL is probably wrong") as info:
        src.query("SELECT 1")
    assert "text/html" in info.value.message


def test_html_200_on_a_poll(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", body="<html></html>", content_type="text/html")
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    with raises(ProtocolError, match="probably wrong"):
        src.query("SELECT 1")
    assert calls(mock)[-1][0] == "DELETE"


def test_html_200_on_management_calls(src: RedashSource, mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/api/data_sources", body="<html></html>", content_type="text/html")
    with raises(ProtocolError, match="probably wrong"):
        src.query("SELECT 1")


def test_post_redirect_is_not_followed(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.post(
        f"{BASE}/api/query_results",
        status=302,
        headers={"Location": "https://redash.test/login?next=%2Fapi%2Fquery_results"},
    )
    with raises(ProtocolError, match="redirected"):
        src.query("SELECT 1")
    assert [m for m, _, _ in calls(mock)] == ["GET", "POST"]


def test_502_on_the_post_is_resent_with_a_widened_max_age(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(
        f"{BASE}/api/query_results", status=502, body="<html>502</html>", content_type="text/html"
    )
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    res = src.query("SELECT 1")
    posts = [b for m, _, b in calls(mock) if m == "POST"]
    assert posts[0]["max_age"] == 0 and posts[1]["max_age"] >= 1
    assert res.meta.cached


def test_502_html_on_the_post_for_good_is_source_unavailable(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(
        f"{BASE}/api/query_results", status=502, body="<html>502</html>", content_type="text/html"
    )
    with raises(SourceUnavailable, match="HTML"):
        src.query("SELECT 1")
    assert [m for m, _, _ in calls(mock)].count("POST") == FAST_RETRY.attempts


def test_connection_reset_on_the_post_is_resent_with_a_widened_max_age(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    reset = requests.ConnectionError(
        urllib3.exceptions.ProtocolError(
            "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
        )
    )
    mock.post(f"{BASE}/api/query_results", body=reset)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    add_job_flow(mock, body("job_status_3"))
    src.query("SELECT 1")
    posts = [b for m, _, b in calls(mock) if m == "POST"]
    assert len(posts) == 2 and posts[1]["max_age"] >= 1


def test_polls_are_retried_on_gateway_errors_and_resets(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    reset = requests.ConnectionError("Connection reset by peer")
    add_job_flow(mock, 503, body("job_status_1"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", body=reset)
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=body("job_status_3"))
    res = src.query("SELECT 1")
    assert len(res) == 3


def test_retry_after_on_a_poll_is_honoured(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", status=503, headers={"Retry-After": "0"})
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=body("job_status_3"))
    mock.add_callback(
        responses.GET,
        f"{BASE}/api/query_results/270.json",
        callback=echoed(mock, body("query_result")),
    )
    assert len(src.query("SELECT 1")) == 3


def test_missing_result_is_not_found(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=body("post_query_results_job"))
    mock.get(f"{BASE}/api/jobs/{JOB_ID}", json=body("job_status_3"))
    mock.get(
        f"{BASE}/api/query_results/270.json",
        status=404,
        json={"message": "The requested URL was not found on the server."},
    )
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    with raises(NotFound, match="result 270"):
        src.query("SELECT 1")


def test_result_of_the_wrong_shape(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    add_job_flow(mock, body("job_status_3"), result={"something": "else"})
    mock.delete(f"{BASE}/api/jobs/{JOB_ID}", json=None)
    with raises(ProtocolError, match="wrong shape"):
        src.query("SELECT 1")


def test_answer_with_neither_job_nor_result(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json={"hello": 1})
    with raises(ProtocolError, match="neither"):
        src.query("SELECT 1")


def test_closed_source_refuses(mock: responses.RequestsMock) -> None:
    s = make_source()
    s.close()
    with raises(SourceError, match="closed"):
        s.query("SELECT 1")


# -- typed results -----------------------------------------------------------------------------


def test_duplicate_columns_and_null_types(src: RedashSource, mock: responses.RequestsMock) -> None:
    result = {
        "query_result": {
            "id": 9,
            "query_hash": "h",
            "query": "SELECT 1 AS a, 2 AS a",
            "data_source_id": 1,
            "runtime": 0.01,
            "retrieved_at": "2024-05-01T10:00:00.123+02:00",
            "data": {
                "columns": [
                    {"name": "a", "friendly_name": "a", "type": "integer"},
                    {"name": "a1", "friendly_name": "a1", "type": "integer"},
                    {"name": "t", "friendly_name": "t", "type": None},
                    {"name": "at", "friendly_name": "at", "type": "datetime"},
                ],
                "rows": [{"a": 1, "a1": 2, "t": "text", "at": "2024-05-01T10:10:00.500"}],
            },
        }
    }
    add_data_sources(mock)
    mock.post(f"{BASE}/api/query_results", json=result)
    res = src.query("SELECT 1 AS a, 2 AS a", max_age=60)
    assert res.column_names == ["a", "a1", "t", "at"]
    assert res.records() == [
        {
            "a": 1,
            "a1": 2,
            "t": "text",
            "at": dt.datetime(2024, 5, 1, 10, 10, 0, 500000, tzinfo=dt.UTC),
        }
    ]
    assert res.meta.retrieved_at == dt.datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=dt.UTC)
    frame = res.to_pandas()
    assert str(frame["at"].dtype).startswith("datetime64") and "UTC" in str(frame["at"].dtype)


def test_empty_result_keeps_its_columns(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.post(
        f"{BASE}/api/query_results",
        json={
            "query_result": {
                "id": 1,
                "query": "SELECT 1",
                "retrieved_at": "2024-05-01T00:00:00Z",
                "runtime": 0,
                "data": {
                    "columns": [{"name": "x", "friendly_name": "x", "type": "integer"}],
                    "rows": [],
                },
            }
        },
    )
    res = src.query("SELECT 1", max_age=5)
    assert len(res) == 0 and res.column_names == ["x"]


# -- thread safety -----------------------------------------------------------------------------


def test_one_source_shared_by_threads(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.add_callback(
        responses.POST,
        f"{BASE}/api/query_results",
        callback=echoed(mock, body("post_query_results_cache_hit")),
    )
    results: list[int] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(len(src.query("SELECT 1", max_age=60)))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and results == [3] * 8
    assert [p for _, p, _ in calls(mock)].count("/api/data_sources") == 1  # resolved once


# -- saved queries -----------------------------------------------------------------------------


def add_saved(
    mock: responses.RequestsMock,
    n: int,
    *,
    ds_answer: Any = "data_source_1",
    post: Any = None,
    qid: int | None = None,
) -> int:
    definition = body(f"saved_query_{n}")
    qid = definition["id"] if qid is None else qid
    mock.get(f"{BASE}/api/queries/{qid}", json=definition)
    ds_id = definition["data_source_id"]
    if isinstance(ds_answer, str):
        answer = body(ds_answer)
        answer["id"] = ds_id
        if ds_id == 2:
            answer["type"] = "mysql"
        mock.get(f"{BASE}/api/data_sources/{ds_id}", json=answer)
    elif isinstance(ds_answer, int):
        mock.get(f"{BASE}/api/data_sources/{ds_id}", status=ds_answer, json=body("error_bad_key"))
    mock.post(
        f"{BASE}/api/queries/{qid}/results", json=job(1, jid="sq-job") if post is None else post
    )
    mock.get(f"{BASE}/api/queries/{qid}/jobs/sq-job", json=job(2, jid="sq-job"))
    mock.get(f"{BASE}/api/queries/{qid}/jobs/sq-job", json=job(3, 50, jid="sq-job"))
    mock.get(f"{BASE}/api/queries/{qid}/results/50.json", json=body("query_result"))
    return qid


def posted_parameters(mock: responses.RequestsMock) -> dict[str, Any]:
    posts = [b for m, _, b in calls(mock) if m == "POST"]
    assert len(posts) == 1
    assert set(posts[0]) == {"parameters", "max_age"}
    params: dict[str, Any] = posts[0]["parameters"]
    return params


def test_run_saved_exact_requests(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_saved(mock, 1)
    res = src.run_saved(1)
    check_hygiene(mock, src)
    assert calls(mock) == [
        ("GET", "/api/queries/1", None),
        ("GET", "/api/data_sources/1", None),
        (
            "POST",
            "/api/queries/1/results",
            {"parameters": {"repo": "mozilla-central"}, "max_age": 0},
        ),
        ("GET", "/api/queries/1/jobs/sq-job", None),
        ("GET", "/api/queries/1/jobs/sq-job", None),
        ("GET", "/api/queries/1/results/50.json", None),
    ]
    assert res.meta.job_id == "sq-job" and res.meta.extra["saved_query_id"] == 1


@pytest.mark.parametrize(
    ("value", "sent"),
    [("O'Brien", "O''Brien"), ("x' OR '1'='1", "x'' OR ''1''=''1"), ("{{ y }}", "{{ y }}")],
)
def test_saved_text_values_are_escaped_inside_their_quotes(
    src: RedashSource, mock: responses.RequestsMock, value: str, sent: str
) -> None:
    add_saved(mock, 1)
    src.run_saved(1, {"repo": value})
    assert posted_parameters(mock) == {"repo": sent}


def test_saved_text_on_mysql_escapes_backslashes(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved(mock, 7)
    src.run_saved(7, {"result": "a\\' OR 1=1 -- ", "push_id": "2"})
    assert posted_parameters(mock) == {"push_id": 2, "result": "a\\\\'' OR 1=1 -- "}


def test_saved_with_a_query_key_escapes_without_the_dialect(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved(mock, 1, ds_answer=404)
    src.run_saved(1, {"repo": "O'Brien"})
    assert posted_parameters(mock) == {"repo": "O''Brien"}


def test_saved_backslash_needs_a_known_dialect(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved(mock, 1, ds_answer=404)
    with raises(ParameterError, match="backslash"):
        src.run_saved(1, {"repo": "a\\b"})
    assert "POST" not in [m for m, _, _ in calls(mock)]
    dialected = make_source(dialect="postgresql")
    dialected.run_saved(1, {"repo": "a\\b"})
    assert posted_parameters(mock) == {"repo": "a\\b"}


@pytest.mark.parametrize(("value", "sent"), [(3, 3), ("3", 3), (2.5, 2.5), ("1e3", 1000)])
def test_saved_numbers(
    src: RedashSource, mock: responses.RequestsMock, value: Any, sent: Any
) -> None:
    add_saved(mock, 2)
    src.run_saved(2, {"push_id": value})
    assert posted_parameters(mock) == {"push_id": sent}


@pytest.mark.parametrize(
    ("n", "params", "text"),
    [
        (2, {"push_id": "1; DROP TABLE job"}, "is a number"),
        (2, {"push_id": True}, "boolean"),
        (2, {"push_id": math.inf}, "finite"),
        (3, {"result": "exception"}, "not among the options"),
        (3, {"result": ["success"]}, "one value"),
        (5, {}, "no stored default"),
        (1, {"nope": 1}, "unknown parameter"),
        (4, {"period": {"start": "2024-05-03", "end": "2024-05-01"}}, "starts after"),
        (4, {"period": "d_last_century"}, "unknown relative date range"),
        (4, {"period": {"from": "2024-05-01"}}, "start"),
        (4, {"period": "yesterday-ish"}, "date range"),
    ],
)
def test_saved_parameter_errors_stop_before_the_post(
    src: RedashSource, mock: responses.RequestsMock, n: int, params: dict[str, Any], text: str
) -> None:
    add_saved(mock, n)
    with raises(ParameterError, match=text) as info:
        src.run_saved(n, params)
    assert info.value.message.startswith(f"saved query {n}: ")
    assert "POST" not in [m for m, _, _ in calls(mock)]


def test_saved_enum_and_date_range(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_saved(mock, 3)
    src.run_saved(3, {"result": "busted"})
    assert posted_parameters(mock) == {"result": "busted"}


@pytest.mark.parametrize(
    ("period", "sent"),
    [
        (None, {"start": "2024-05-01", "end": "2024-05-02"}),  # the stored default
        (
            {"start": dt.date(2024, 1, 2), "end": "2024-01-05"},
            {"start": "2024-01-02", "end": "2024-01-05"},
        ),
        (
            (
                dt.datetime(2024, 1, 2, 23, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
                "2024-01-05T10:00",
            ),
            {"start": "2024-01-03", "end": "2024-01-05"},
        ),
        ("2024-02-01--2024-02-03", {"start": "2024-02-01", "end": "2024-02-03"}),
    ],
)
def test_saved_date_ranges(
    src: RedashSource, mock: responses.RequestsMock, period: Any, sent: dict[str, str]
) -> None:
    add_saved(mock, 4)
    src.run_saved(4, {} if period is None else {"period": period})
    assert posted_parameters(mock) == {"period": sent}


def test_saved_relative_date_range_becomes_concrete(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_saved(mock, 4)
    src.run_saved(4, {"period": "d_last_7_days"})
    period = posted_parameters(mock)["period"]
    start, end = dt.date.fromisoformat(period["start"]), dt.date.fromisoformat(period["end"])
    assert (end - start).days == 7
    assert abs((end - dt.datetime.now(dt.UTC).date()).days) <= 1


def test_saved_query_not_found(src: RedashSource, mock: responses.RequestsMock) -> None:
    mock.get(
        f"{BASE}/api/queries/99",
        status=404,
        json={
            "message": "The requested URL was not found on the server. If you entered the URL "
            "manually please check your spelling and try again."
        },
    )
    with raises(NotFound, match="queries/99"):
        src.run_saved(99)


def test_saved_query_id_from_a_url(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_saved(mock, 2)
    src.run_saved("https://redash.test/queries/2/source", {"push_id": 1})
    assert calls(mock)[0][1] == "/api/queries/2"
    with raises(ParameterError, match="query id"):
        src.run_saved("latest")


@pytest.mark.parametrize(
    ("answer", "cls", "text"),
    [
        (
            {
                "message": "The following parameter values are incompatible with their "
                "definitions: repo"
            },
            ParameterError,
            "incompatible",
        ),
        (
            {"job": {"status": 4, "error": "Missing parameter value for: repo"}},
            ParameterError,
            "Missing parameter",
        ),
        (
            {
                "job": {
                    "status": 4,
                    "error": "This query contains potentially unsafe parameters and "
                    "cannot be executed on a shared dashboard or an embedded visualization.",
                }
            },
            PermissionDenied,
            "unsafe parameters",
        ),
    ],
)
def test_saved_server_refusals(
    src: RedashSource,
    mock: responses.RequestsMock,
    answer: Any,
    cls: type[ThsourcesError],
    text: str,
) -> None:
    definition = body("saved_query_1")
    mock.get(f"{BASE}/api/queries/1", json=definition)
    mock.get(f"{BASE}/api/data_sources/1", json=body("data_source_1"))
    status = 403 if cls is PermissionDenied else 400
    mock.post(f"{BASE}/api/queries/1/results", status=status, json=answer)
    with raises(cls, match=text):
        src.run_saved(1)


def test_saved_cached_answer(src: RedashSource, mock: responses.RequestsMock) -> None:
    cached = body("post_query_results_cache_hit")
    restricted = {
        "query_result": {
            "data": cached["query_result"]["data"],
            "retrieved_at": cached["query_result"]["retrieved_at"],
        }
    }
    add_saved(mock, 2, post=restricted)  # what a query API key gets: data and retrieved_at only
    res = src.run_saved(2, {"push_id": 1}, max_age=600)
    assert res.meta.cached is True and res.meta.result_id is None
    assert res.meta.query == body("saved_query_2")["query"]
    assert posted_parameters(mock) == {"push_id": 1}
    assert calls(mock)[-1][2]["max_age"] == 600


def test_submit_saved_and_cancel(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_saved(mock, 2)
    mock.delete(f"{BASE}/api/jobs/sq-job", json=None)
    handle = src.submit_saved(2, {"push_id": 1})
    assert handle.id == "sq-job"
    handle.cancel()
    assert calls(mock)[-1] == ("DELETE", "/api/jobs/sq-job", None)


def test_saved_parameters_are_listed(src: RedashSource, mock: responses.RequestsMock) -> None:
    mock.get(f"{BASE}/api/queries/3", json=body("saved_query_3"))
    (p,) = src.saved_parameters(3)
    assert (p.name, p.type, p.default) == ("result", "enum", "success")
    assert p.enum_options == ("success", "testfailed", "busted", "retry")


def test_query_dropdown_values_are_checked(src: RedashSource, mock: responses.RequestsMock) -> None:
    definition = body("saved_query_1")
    definition["options"]["parameters"] = [
        {"name": "repo", "type": "query", "title": "repo", "queryId": 6, "value": "autoland"}
    ]
    mock.get(f"{BASE}/api/queries/1", json=definition)
    mock.get(f"{BASE}/api/data_sources/1", json=body("data_source_1"))
    mock.get(
        f"{BASE}/api/queries/1/dropdowns/6",
        json=[{"name": "autoland", "value": "autoland"}, {"name": "mc", "value": "m-c"}],
    )
    with raises(ParameterError, match="not among the options"):
        src.run_saved(1, {"repo": "try"})
    mock.post(f"{BASE}/api/queries/1/results", json=body("post_query_results_cache_hit"))
    src.run_saved(1, {"repo": "m-c"}, max_age=60)
    assert next(b for m, _, b in calls(mock) if m == "POST")["parameters"] == {"repo": "m-c"}


def test_query_dropdown_unreadable_is_left_to_the_server(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    definition = body("saved_query_1")
    definition["options"]["parameters"] = [
        {"name": "repo", "type": "query", "title": "repo", "queryId": 6, "value": "autoland"}
    ]
    mock.get(f"{BASE}/api/queries/1", json=definition)
    mock.get(f"{BASE}/api/data_sources/1", json=body("data_source_1"))
    mock.get(f"{BASE}/api/queries/1/dropdowns/6", body="<html></html>", content_type="text/html")
    mock.post(f"{BASE}/api/queries/1/results", json=body("post_query_results_cache_hit"))
    src.run_saved(1, {"repo": "try"}, max_age=60)
    assert posted_parameters(mock) == {"repo": "try"}


# -- parameter preparation (no HTTP) -----------------------------------------------------------

NOW: Final = dt.datetime(2024, 3, 31, 15, 45, 30)  # a Sunday, the last day of March


def one(ptype: str, value: Any, template: str = "SELECT '{{ p }}'", **extra: Any) -> Any:
    schema = parse_schema([{"name": "p", "type": ptype, "title": "p", **extra}])
    return prepare(schema, template, {"p": value}, dialect="postgresql", now=NOW)["p"]


@pytest.mark.parametrize(
    ("preset", "start", "end"),
    [
        ("d_today", "2024-03-31", "2024-03-31"),
        ("d_yesterday", "2024-03-30", "2024-03-30"),
        ("d_this_week", "2024-03-31", "2024-04-06"),  # weeks start on Sunday, like the UI
        ("d_last_week", "2024-03-24", "2024-03-30"),
        ("d_this_month", "2024-03-01", "2024-03-31"),
        ("d_last_month", "2024-02-01", "2024-02-29"),
        ("d_this_year", "2024-01-01", "2024-12-31"),
        ("d_last_year", "2023-01-01", "2023-12-31"),
        ("d_last_7_days", "2024-03-24", "2024-03-31"),
        ("d_last_14_days", "2024-03-17", "2024-03-31"),
        ("d_last_30_days", "2024-03-01", "2024-03-31"),
        ("d_last_60_days", "2024-01-31", "2024-03-31"),
        ("d_last_90_days", "2024-01-01", "2024-03-31"),
        ("d_last_12_months", "2023-03-31", "2024-03-31"),
        ("d_last_2_years", "2022-03-31", "2024-03-31"),
        ("d_last_3_years", "2021-03-31", "2024-03-31"),
        ("d_last_10_years", "2014-03-31", "2024-03-31"),
    ],
)
def test_relative_date_ranges(preset: str, start: str, end: str) -> None:
    assert one("date-range", preset) == {"start": start, "end": end}


def test_relative_ranges_with_times() -> None:
    assert one("datetime-range", "d_last_hour") == {
        "start": "2024-03-31 14:45",
        "end": "2024-03-31 15:45",
    }
    # Current Redash (DateRangeParameter.js, untilNow) ends the "last N" ranges at now.
    assert one("datetime-range-with-seconds", "d_last_7_days") == {
        "start": "2024-03-24 00:00:00",
        "end": "2024-03-31 15:45:30",
    }
    assert one("datetime-range", "d_last_12_months") == {
        "start": "2023-03-31 00:00",
        "end": "2024-03-31 15:45",
    }
    assert one("datetime-range", "d_today")["end"] == "2024-03-31 23:59"  # not a "last N"
    assert one("datetime-range", "d_last_24_hours")["start"] == "2024-03-30 15:45"
    assert one("datetime-range", "d_last_8_hours")["start"] == "2024-03-31 07:45"
    dates, ranges = relative_dates()
    assert "d_now" in dates and "d_last_7_days" in ranges


def test_single_dates() -> None:
    assert one("date", "d_now") == "2024-03-31"
    assert one("date", "d_yesterday") == "2024-03-30"
    assert one("datetime-local", "2024-01-02T03:04:05Z") == "2024-01-02 03:04"
    assert one("datetime-with-seconds", dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02 03:04:05"
    assert one("date", dt.date(2024, 2, 29)) == "2024-02-29"
    schema = parse_schema([{"name": "p", "type": "date", "useCurrentDateTime": True}])
    assert prepare(schema, "", {}, dialect=None, now=NOW) == {"p": "2024-03-31"}
    with raises(ParameterError, match="relative date"):
        one("date", "d_tomorrow")
    with raises(ParameterError, match="not a date"):
        one("date", "31/03/2024")


def test_multi_value_enums() -> None:
    opts: dict[str, Any] = {
        "enumOptions": "a\nb\nc",
        "multiValuesOptions": {"prefix": "'", "suffix": "'", "separator": ","},
    }
    assert one("enum", ["a", "c"], **opts) == ["a", "c"]
    assert one("enum", "b", **opts) == ["b"]
    with raises(ParameterError, match="at least one"):
        one("enum", [], **opts)
    with raises(ParameterError, match="not among"):
        one("enum", ["a", "z"], **opts)


def test_text_pattern() -> None:
    assert one("text-pattern", "abc-1", regex="[a-z]+-[0-9]") == "abc-1"
    with raises(ParameterError, match="pattern"):
        one("text-pattern", "ABC", regex="[a-z]+")


def test_text_outside_quotes_must_be_a_plain_word() -> None:
    assert one("text", "push_id", template="SELECT {{ p }} FROM push") == "push_id"
    assert one("text", "-12.5", template="SELECT {{p}}") == "-12.5"
    for bad in ("1 OR 1=1", "x;DROP TABLE job", "a--", "'x'"):
        with raises(ParameterError, match="outside any quotes"):
            one("text", bad, template="SELECT {{ p }}")


def test_text_in_other_sql_contexts() -> None:
    assert one("text", 'say "hi"', template='SELECT "{{ p }}"') == 'say ""hi""'
    assert one("text", "a`b", template="SELECT `{{ p }}`") == "a``b"
    with raises(ParameterError, match="comment"):
        one("text", "x\nDROP", template="SELECT 1 -- {{ p }}")
    with raises(ParameterError, match="comment"):
        one("text", "*/ DROP", template="SELECT 1 /* {{ p }} */")
    with raises(ParameterError, match="different quoting"):
        one("text", "O'Brien", template="SELECT '{{ p }}', \"{{ p }}\"")


def test_template_contexts() -> None:
    template = (
        "SELECT '{{ a }}', \"{{ b }}\", {{ c }}, 'it''s {{ d }}' -- {{ e }}\n"
        "/* {{ f }} */ $$ {{ g }} $$ {{ h.start }} {{{ i }}} {{#s}}{{/s}}"
    )
    ctx = template_contexts(template, "postgresql")
    assert ctx == {
        "a": {"'"},
        "b": {'"'},
        "c": {"sql"},
        "d": {"'"},
        "e": {"--"},
        "f": {"/*"},
        "g": {"$"},
        "h.start": {"sql"},
        "i": {"sql"},
    }
    mysql = template_contexts("SELECT 'a\\' {{ x }}' # {{ y }}", "mysql")
    assert mysql == {"x": {"'"}, "y": {"--"}}


def test_unsupported_parameter_type() -> None:
    with raises(ParameterError, match="cannot check"):
        one("weird", "x")


def test_parse_schema_tolerates_odd_entries() -> None:
    assert parse_schema(None) == []
    schema = parse_schema(
        [
            {"name": "a"},
            "junk",
            {"type": "text"},
            {"name": "b", "type": "enum", "enumOptions": ["x", 1]},
        ]
    )
    assert [p.name for p in schema] == ["a", "b"]
    assert schema[0] == ParamDef(name="a", type="text", title="a")
    assert schema[1].enum_options == ("x", "1")
    with raises(ParameterError):
        parse_schema({"not": "a list"})


def test_wire_max_age() -> None:
    assert [wire_max_age(v) for v in (0, 0.1, 5, 3600.0, math.inf, None)] == [0, 1, 5, 3600, -1, 0]


# -- the key, everywhere -----------------------------------------------------------------------


def test_zz_the_key_appears_nowhere() -> None:
    """Everything logged at DEBUG and every error text and repr seen above: no key."""
    if len(SEEN) < 50:  # run alone (or split across workers): each test checked its own
        pytest.skip("needs the rest of the module to have run first")
    assert len(SEEN) > 200  # the collector did collect
    assert any("redash.test" in t for t in SEEN)  # and saw real messages and log lines
    assert not [t for t in SEEN if KEY in t]
    assert not [t for t in SEEN if KEY[-6:] in t]


def test_samples_match_the_reference_files() -> None:
    """The fixtures are the reference's captured files, if those are at hand."""
    folder = Path(__file__).resolve().parents[2] / "shared" / "reference" / "redash-samples"
    if not folder.is_dir():
        pytest.skip("reference/redash-samples is not next to this checkout")
    for path in sorted(folder.glob("*.json")):
        assert orjson.loads(path.read_bytes()) == sample(path.stem), path.name


# -- retrieved_at ------------------------------------------------------------------------------

UTC_8 = dt.datetime(2024, 5, 1, 8, 0, 0, 123000, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T10:00:00.123+02:00",
        "2024-05-01T03:00:00.123-05:00",
        "2024-05-01T08:00:00.123Z",
        "2024-05-01T08:00:00.123",  # naive: UTC, as Redash writes it
        dt.datetime(2024, 5, 1, 10, 0, 0, 123000, tzinfo=dt.timezone(dt.timedelta(hours=2))),
    ],
)
def test_retrieved_at_is_converted_to_utc(value: Any) -> None:
    """An offset is converted (the instant kept), never just relabelled as UTC."""
    from thsources.jsonrows import decode_query_result

    parsed = parse_time(value)
    assert parsed == UTC_8 and parsed is not None and parsed.utcoffset() == dt.timedelta(0)
    if isinstance(value, str):
        qr = {"id": 1, "retrieved_at": value, "data": {"columns": [], "rows": []}}
        _, result = decode_query_result(orjson.dumps({"query_result": qr}))
        assert result.meta.retrieved_at == UTC_8
        assert result.meta.retrieved_at.utcoffset() == dt.timedelta(0)


def test_retrieved_at_of_an_offset_reaches_the_result(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    answer = body("post_query_results_cache_hit")
    answer["query_result"]["retrieved_at"] = "2024-05-01T10:00:00.123+02:00"
    add_data_sources(mock)
    mock.add_callback(responses.POST, f"{BASE}/api/query_results", callback=echoed(mock, answer))
    res = src.query("SELECT 1", max_age=60)
    assert res.meta.retrieved_at == UTC_8
    assert str(res.meta.retrieved_at.tzinfo) == "UTC"


# -- tables() ----------------------------------------------------------------------------------


def schema_job(status: int, result: Any = None, error: Any = "") -> Any:
    return {"job": {"id": "schema-job", "status": status, "error": error, "result": result}}


SCHEMA: Final = [
    {"name": "job", "columns": [{"name": "id", "type": "integer"}, "result"]},
    {"name": "push", "columns": [{"name": "author", "type": "character varying"}]},
    {"name": "stats.daily", "columns": [{"name": "day", "type": "date"}]},
]


def test_tables_from_the_cached_schema(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.get(f"{BASE}/api/data_sources/1/schema", json={"schema": SCHEMA})
    res = src.tables()
    assert res.column_names == ["table_name", "column_name", "data_type"]
    assert [c.type for c in res.columns] == ["string"] * 3
    assert res.records() == [
        {"table_name": "job", "column_name": "id", "data_type": "integer"},
        {"table_name": "job", "column_name": "result", "data_type": None},
        {"table_name": "push", "column_name": "author", "data_type": "character varying"},
        {"table_name": "stats.daily", "column_name": "day", "data_type": "date"},
    ]
    assert calls(mock)[-1][:2] == ("GET", "/api/data_sources/1/schema")


def test_tables_through_a_schema_job(src: RedashSource, mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(2))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(3, SCHEMA))
    res = src.tables()
    assert len(res) == 4 and res.records()[0]["table_name"] == "job"
    assert [p for m, p, _ in calls(mock)].count("/api/jobs/schema-job") == 2


def test_a_failed_schema_job_is_a_query_error(
    src: RedashSource, mock: responses.RequestsMock
) -> None:
    add_data_sources(mock)
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    error = {"code": 2, "message": "Error retrieving schema", "details": "permission denied"}
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(4, error=error))
    with raises(QueryError, match="could not read the schema: Error retrieving schema: perm"):
        src.tables()
    assert all(m != "DELETE" for m, _, _ in calls(mock))


def test_a_schema_job_past_the_deadline_is_cancelled(mock: responses.RequestsMock) -> None:
    add_data_sources(mock)
    mock.get(f"{BASE}/api/data_sources/1/schema", json=schema_job(1))
    mock.get(f"{BASE}/api/jobs/schema-job", json=schema_job(2))
    mock.delete(f"{BASE}/api/jobs/schema-job", json=None)
    with make_source(timeout=0.2) as s, raises(QueryTimeout, match="was cancelled"):
        s.tables()
    assert calls(mock)[-1][:2] == ("DELETE", "/api/jobs/schema-job")
