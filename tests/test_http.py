"""thsources.http: User-Agent, timeouts, retries with backoff, redaction, error mapping."""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import orjson
import pytest
import requests
import responses
import urllib3.exceptions
from hypothesis import given
from hypothesis import strategies as st

from thsources.errors import (
    AuthenticationError,
    ConfigError,
    NotFound,
    PermissionDenied,
    ProtocolError,
    QueryTimeout,
    SourceError,
    SourceUnavailable,
)
from thsources.http import (
    DEFAULT_RETRY,
    DEFAULT_TIMEOUTS,
    NO_RETRY,
    HttpSession,
    Redactor,
    RetryPolicy,
    Timeouts,
    user_agent,
)
from thsources.polling import Deadline

SECRET = "hTtPsEcReT-0123456789abcdefQZ"
URL = "http://svc.test/api/thing"


class Sleeps:
    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def http(sleeps: Sleeps) -> Iterator[HttpSession]:
    session = HttpSession(
        "svc",
        secrets=[SECRET],
        headers={"Authorization": f"Key {SECRET}"},
        sleep=sleeps,
        rand=lambda: 1.0,  # the top of each jitter range: predictable waits
    )
    yield session
    session.close()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as r:
        yield r


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with DEBUG logging; none of it may show the secret."""
    caplog.set_level(logging.DEBUG)
    yield
    assert SECRET not in caplog.text
    for record in caplog.records:
        assert SECRET not in record.getMessage()


def connection_refused() -> requests.ConnectionError:
    """What requests raises when nothing listens on the port (the request never left)."""
    reason = urllib3.exceptions.NewConnectionError(
        None,
        "Failed to establish a new connection: [Errno 111] Connection refused",  # type: ignore[arg-type]
    )
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, URL, reason))  # type: ignore[arg-type]


def connection_reset() -> requests.ConnectionError:
    """What requests raises when the server dropped the connection mid-request."""
    return requests.ConnectionError(
        urllib3.exceptions.ProtocolError(
            "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
        )
    )


# -- values ------------------------------------------------------------------------------------


def test_user_agent_names_thsources_and_its_version() -> None:
    from importlib.metadata import version

    ua = user_agent()
    assert ua.startswith(f"thsources/{version('thsources')} ")
    assert "python" in ua and "requests" in ua
    assert not ua.startswith("python-requests")  # Treeherder answers 403 to that


def test_retry_policy_defaults_and_immutability() -> None:
    p = DEFAULT_RETRY
    assert p.attempts == 5
    assert p.statuses == frozenset({429, 502, 503, 504})
    assert 500 not in p.statuses
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.attempts = 1  # type: ignore[misc]
    q = p.with_attempts(2).with_backoff(initial=1, maximum=3).with_statuses([503])
    assert (q.attempts, q.initial, q.maximum, q.statuses) == (2, 1, 3, frozenset({503}))
    assert p.attempts == 5
    assert NO_RETRY.attempts == 1
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(multiplier=0.5)


def test_backoff_is_exponential_capped_with_full_jitter() -> None:
    p = RetryPolicy(attempts=6, initial=0.5, multiplier=2, maximum=3)
    assert [p.ceiling(n) for n in range(5)] == [0.5, 1, 2, 3, 3]
    assert list(p.delays(lambda: 1.0)) == [0.5, 1, 2, 3, 3]
    assert list(p.delays(lambda: 0.0)) == [0, 0, 0, 0, 0]
    assert p.ceiling(10_000) == 3  # no overflow


@given(st.integers(1, 12), st.floats(0, 1))
def test_jittered_delays_stay_in_range(attempts: int, r: float) -> None:
    p = RetryPolicy(attempts=attempts)
    delays = list(p.delays(lambda: r))
    assert len(delays) == attempts - 1
    assert all(0 <= d <= p.maximum for d in delays)


def test_timeouts_value_and_deadline_capping() -> None:
    assert DEFAULT_TIMEOUTS.within(None) == (10.0, 60.0)
    clock_now = [0.0]
    deadline = Deadline(5, clock=lambda: clock_now[0])
    assert Timeouts(10, 60).within(deadline) == (5, 5)
    assert Timeouts(1, 2).within(deadline) == (1, 2)
    assert Timeouts(10, 60).within(deadline, grace=5) == (5, 10)  # the read may overrun
    with pytest.raises(ValueError):
        Timeouts(0, 1)


def test_redactor_removes_secrets_in_all_forms() -> None:
    r = Redactor(["a/b+c d", None, ""])
    assert r("key a/b+c d here") == "key <redacted> here"
    assert r("url a%2Fb%2Bc%20d") == "url <redacted>"
    assert r("form a%2Fb%2Bc+d") == "form <redacted>"
    assert r("nothing") == "nothing"
    assert r(ValueError("a/b+c d")) == "<redacted>"
    r.add("a/b+c d and more")
    assert r("x a/b+c d and more") == "x <redacted>"  # the longer secret goes whole


def test_redactor_url_masks_credential_arguments_and_userinfo() -> None:
    r = Redactor([SECRET])
    shown = r.url(f"https://u:pw@host.test/api/x?api_key={SECRET}&page=2&token=abc")
    assert SECRET not in shown and "pw" not in shown and "abc" not in shown
    assert "page=2" in shown and "host.test/api/x" in shown


# -- requests ----------------------------------------------------------------------------------


def test_every_request_has_ua_and_connect_read_timeouts(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, json={"ok": True})
    mock.post(URL, json={"ok": True})
    mock.delete(URL, json=None)
    http.get(URL)
    http.post(URL, json={"a": 1})
    http.delete(URL, timeouts=Timeouts(2, 3))
    for call in mock.calls:
        assert call.request.headers["User-Agent"] == user_agent()
        assert call.request.headers["Authorization"] == f"Key {SECRET}"
    timeouts = [cast(Any, c.request).req_kwargs["timeout"] for c in mock.calls]
    assert timeouts == [(10, 60), (10, 60), (2, 3)]
    assert orjson.loads(cast(bytes, mock.calls[1].request.body)) == {"a": 1}
    assert mock.calls[1].request.headers["Content-Type"] == "application/json"


def test_request_timeouts_shrink_to_the_deadline(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, json={})
    http.get(URL, deadline=Deadline(1.5))
    connect, read = cast(Any, mock.calls[0].request).req_kwargs["timeout"]
    assert 0 < connect <= 1.5 and 0 < read <= 1.5


def test_expired_deadline_sends_nothing(http: HttpSession, mock: responses.RequestsMock) -> None:
    with pytest.raises(QueryTimeout):
        http.get(URL, deadline=Deadline(0))
    assert len(mock.calls) == 0


@pytest.mark.parametrize("status", [502, 503, 504, 429])
def test_get_retries_gateway_and_overload_statuses(
    http: HttpSession, mock: responses.RequestsMock, sleeps: Sleeps, status: int
) -> None:
    mock.get(URL, status=status, body="<html>bad gateway</html>", content_type="text/html")
    mock.get(URL, status=status)
    mock.get(URL, json={"ok": 1})
    response = http.get(URL)
    assert response.status_code == 200
    assert len(mock.calls) == 3
    assert sleeps.calls == [0.25, 0.5]  # initial * multiplier**n at the top of the jitter


def test_500_is_not_retried(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.get(URL, status=500, json={"message": "Internal Server Error"})
    assert http.get(URL).status_code == 500
    assert len(mock.calls) == 1


def test_retries_stop_after_the_attempts(
    http: HttpSession, mock: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mock.get(URL, status=502)
    response = http.get(URL, retry=RetryPolicy(attempts=3))
    assert response.status_code == 502
    assert len(mock.calls) == 3
    assert len(sleeps.calls) == 2


def test_retry_after_seconds_is_honoured(
    http: HttpSession, mock: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mock.get(URL, status=503, headers={"Retry-After": "7"})
    mock.get(URL, json={})
    assert http.get(URL).status_code == 200
    assert sleeps.calls == [7.0]


def test_retry_after_http_date_is_honoured(
    http: HttpSession, mock: responses.RequestsMock, sleeps: Sleeps
) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    mock.get(URL, status=429, headers={"Retry-After": when})
    mock.get(URL, json={})
    assert http.get(URL).status_code == 200
    assert 20 < sleeps.calls[0] <= 31


def test_retry_after_too_long_gives_up(
    http: HttpSession, mock: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mock.get(URL, status=503, headers={"Retry-After": "3600"})
    assert http.get(URL).status_code == 503
    assert len(mock.calls) == 1 and sleeps.calls == []


def test_retries_stop_at_the_deadline(
    http: HttpSession, mock: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mock.get(URL, status=503, headers={"Retry-After": "20"})
    assert http.get(URL, deadline=Deadline(5)).status_code == 503
    assert len(mock.calls) == 1 and sleeps.calls == []


def test_get_retries_connection_errors_then_source_unavailable(
    http: HttpSession, mock: responses.RequestsMock, sleeps: Sleeps
) -> None:
    mock.get(URL, body=connection_reset())
    with pytest.raises(SourceUnavailable) as info:
        http.get(URL, retry=RetryPolicy(attempts=3))
    assert len(mock.calls) == 3
    assert "svc.test" in info.value.message
    assert "Connection reset by peer" in info.value.message
    assert "after 3 attempts" in info.value.message
    assert info.value.source == "svc"


def test_get_recovers_from_one_reset(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.get(URL, body=connection_reset())
    mock.get(URL, json={"fine": True})
    assert http.json(http.get(URL)) == {"fine": True}


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (requests.exceptions.ConnectTimeout("x"), "timed out connecting"),
        (requests.exceptions.ReadTimeout("x"), "no answer"),
        (requests.exceptions.ChunkedEncodingError("x"), "cut short"),
    ],
)
def test_transport_failures_map_to_source_unavailable(
    http: HttpSession, mock: responses.RequestsMock, exc: Exception, text: str
) -> None:
    mock.get(URL, body=exc)
    with pytest.raises(SourceUnavailable, match=text):
        http.get(URL, retry=NO_RETRY)


def test_tls_errors_are_not_retried(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.get(URL, body=requests.exceptions.SSLError("certificate verify failed"))
    with pytest.raises(SourceUnavailable, match="TLS"):
        http.get(URL)
    assert len(mock.calls) == 1


def test_bad_urls_are_config_errors(http: HttpSession) -> None:
    with pytest.raises(ConfigError):
        http.get("svc.test/no-scheme")


def test_a_header_holding_a_secret_is_never_quoted(http: HttpSession) -> None:
    with pytest.raises(ConfigError) as info:
        http.get(URL, headers={"X-Token": f"{SECRET}\n"})
    assert SECRET not in str(info.value) and info.value.__cause__ is None


def test_post_is_never_retried_blindly(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.post(URL, status=503)
    assert http.post(URL, json={}).status_code == 503
    assert len(mock.calls) == 1
    mock.post(URL + "/2", body=connection_reset())
    with pytest.raises(SourceUnavailable):
        http.post(URL + "/2", json={})
    assert len(mock.calls) == 2


def test_post_is_retried_when_it_never_left(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.post(URL, body=connection_refused())
    mock.post(URL, json={"ok": True})
    assert http.post(URL, json={"n": 1}).status_code == 200
    assert len(mock.calls) == 2


def test_post_with_resend_is_retried_with_the_new_body(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.post(URL, body=connection_reset())
    mock.post(URL, status=502)
    mock.post(URL, json={"ok": True})
    response = http.post(URL, json={"n": 0}, resend=lambda n: {"n": n})
    assert response.status_code == 200
    bodies = [orjson.loads(cast(bytes, c.request.body)) for c in mock.calls]
    assert bodies == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_post_does_not_follow_redirects(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.post(URL, status=302, headers={"Location": "https://svc.test/login"})
    # Were the redirect followed, responses would fail the unregistered GET of /login.
    response = http.post(URL, json={})
    assert response.status_code == 302
    assert len(mock.calls) == 1
    error = http.error_for(response)
    assert isinstance(error, ProtocolError)
    assert "redirected" in error.message and "https://svc.test/login" in error.message


def test_get_follows_redirects(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.get(URL, status=301, headers={"Location": URL + "/moved"})
    mock.get(URL + "/moved", json={"here": 1})
    assert http.json(http.get(URL)) == {"here": 1}


def test_no_cookies_are_kept(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.get(URL, json={}, headers={"Set-Cookie": "session=abc; Path=/"})
    mock.get(URL, json={})
    http.get(URL)
    http.get(URL)
    assert "Cookie" not in mock.calls[1].request.headers


def test_closed_session_refuses(http: HttpSession) -> None:
    http.close()
    with pytest.raises(SourceError, match="closed"):
        http.get(URL)


# -- answers -----------------------------------------------------------------------------------


def test_json_checks_the_content_type(http: HttpSession, mock: responses.RequestsMock) -> None:
    mock.get(URL, body="<!DOCTYPE html><html></html>", content_type="text/html; charset=utf-8")
    with pytest.raises(ProtocolError, match="URL is probably wrong") as info:
        http.json(http.get(URL))
    assert "text/html" in info.value.message
    mock.get(URL + "/bad", body="{not json", content_type="application/json")
    with pytest.raises(ProtocolError, match="invalid JSON"):
        http.json(http.get(URL + "/bad"))


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (401, AuthenticationError),
        (403, PermissionDenied),
        (404, NotFound),
        (500, SourceUnavailable),
        (503, SourceUnavailable),
        (429, SourceUnavailable),
        (400, SourceError),
    ],
)
def test_generic_status_mapping(
    http: HttpSession, mock: responses.RequestsMock, status: int, cls: type[SourceError]
) -> None:
    mock.get(URL, status=status, json={"message": f"text with {SECRET}"})
    error = http.error_for(http.get(URL, retry=NO_RETRY))
    assert type(error) is cls
    assert error.status_code == status
    assert "text with <redacted>" in error.message
    assert SECRET not in repr(error)


def test_secret_in_url_never_reaches_logs_or_errors(
    http: HttpSession, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    bad = f"http://svc.test/api/x?api_key={SECRET}"
    mock.get(bad, body=connection_reset())
    with pytest.raises(SourceUnavailable) as info:
        http.get(bad, retry=RetryPolicy(attempts=2))
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert "svc.test" in caplog.text


def test_debug_log_line_has_method_url_status_elapsed(
    http: HttpSession, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(URL, json={})
    http.get(URL)
    lines = [r.getMessage() for r in caplog.records if r.name == "thsources.http"]
    assert any(line.startswith(f"GET {URL} -> 200 in ") and line.endswith("s") for line in lines)
    assert all(r.levelno == logging.DEBUG for r in caplog.records if r.name == "thsources.http")
    assert "Authorization" not in caplog.text


# -- real sockets ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_connection_refused_on_a_real_port(sleeps: Sleeps) -> None:
    http = HttpSession("svc", sleep=sleeps, retry=RetryPolicy(attempts=2))
    with pytest.raises(SourceUnavailable, match="refused"):
        http.get(f"http://127.0.0.1:{free_port()}/x")
    assert len(sleeps.calls) == 1


class _SlowHandler(BaseHTTPRequestHandler):
    release = threading.Event()

    def do_GET(self) -> None:
        self.release.wait(10)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_read_timeout_at_the_deadline_on_a_real_socket() -> None:
    _SlowHandler.release.clear()  # set by an earlier run in the same process (mutmut reruns)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        http = HttpSession("svc")
        with pytest.raises(QueryTimeout):
            http.get(f"http://127.0.0.1:{server.server_address[1]}/", deadline=Deadline(0.3))
    finally:
        _SlowHandler.release.set()
        server.shutdown()
        server.server_close()
        thread.join(5)


# -- redaction in SourceUnavailable messages ----------------------------------------------------


def test_credentials_in_the_url_never_reach_an_unavailable_message(sleeps: Sleeps) -> None:
    """Userinfo in the URL is masked even when it is not a registered secret."""
    http = HttpSession("svc", sleep=sleeps, retry=RetryPolicy(attempts=2))
    url = f"http://alice:pa55w0rdXYZ@127.0.0.1:{free_port()}/api/x?token=t0kenXYZ"
    with pytest.raises(SourceUnavailable, match="refused") as info:
        http.get(url)
    text = f"{info.value} {info.value!r}"
    assert "pa55w0rdXYZ" not in text and "alice" not in text and "t0kenXYZ" not in text
    assert "***@127.0.0.1" in info.value.message


def test_a_secret_quoted_by_the_failure_itself_is_redacted(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, body=requests.exceptions.ChunkedEncodingError(f"cut at {URL}?key={SECRET}"))
    with pytest.raises(SourceUnavailable, match="cut short") as info:
        http.get(URL, retry=NO_RETRY)
    assert SECRET not in info.value.message and "<redacted>" in info.value.message


def test_an_unexpected_failure_shows_the_url_without_credentials(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    url = "http://bob:hunter2XYZ@svc.test/api/x?access_token=acc3ssXYZ&page=2"
    mock.get(url, body=requests.exceptions.RetryError("too many retries"))
    with pytest.raises(SourceUnavailable, match="failed: too many retries") as info:
        http.get(url, retry=NO_RETRY)
    message = info.value.message
    assert "hunter2XYZ" not in message and "acc3ssXYZ" not in message and "bob" not in message
    assert "GET http://***@svc.test/api/x?access_token=<redacted>&page=2 failed" in message
