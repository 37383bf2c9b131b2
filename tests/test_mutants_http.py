"""HTTP errors, retries and redaction: what mutation testing found unchecked (docs/testing.md).

The exact messages a user reads for a failed request (a redirect, an empty error page, a
source's own message), the DEBUG line of a retry with the failure redacted, the attempt count
in a final error, and the retry policies refused.
"""

from __future__ import annotations

import logging
import re
import shutil
import socket
import subprocess
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlsplit

import pytest
import requests
import responses
import urllib3.exceptions

from thsources.errors import (
    ConfigError,
    NotFound,
    ProtocolError,
    QueryTimeout,
    SourceError,
    SourceUnavailable,
)
from thsources.http import NO_RETRY, HttpSession, RetryPolicy
from thsources.polling import Deadline
from thsources.testing import RedashEmulator, User

SECRET = "hTtPsEcReT-mutants-0123456789QZ"
URL = "http://svc.test/api/thing"
WRONG = "the URL is probably wrong (http instead of https, or a missing path prefix?)"


@pytest.fixture
def http() -> Iterator[HttpSession]:
    session = HttpSession(
        "svc",
        secrets=[SECRET],
        headers={"Authorization": f"Key {SECRET}"},
        sleep=lambda seconds: None,
        rand=lambda: 1.0,
    )
    yield session
    session.close()


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock() as r:
        yield r


def refused() -> requests.ConnectionError:
    """Connection refused, with the secret quoted by the failure itself."""
    reason = urllib3.exceptions.NewConnectionError(
        None,  # type: ignore[arg-type]
        f"Failed to establish a new connection: [Errno 111] Connection refused ({SECRET})",
    )
    return requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, URL, reason))  # type: ignore[arg-type]


def test_retry_is_logged_with_the_failure_redacted(
    http: HttpSession, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(URL, body=refused())
    mock.get(URL, json={})
    with caplog.at_level(logging.DEBUG, logger="thsources.http"):
        http.get(URL, retry=RetryPolicy(attempts=3))
    retries = [r.getMessage() for r in caplog.records if r.getMessage().startswith("retrying")]
    assert retries == [
        "retrying GET http://svc.test/api/thing in 0.25s (attempt 2 of 3) after "
        "cannot talk to svc.test: [Errno 111] Connection refused (<redacted>)"
    ]


@pytest.mark.parametrize(
    ("policy", "suffix"), [(NO_RETRY, ""), (RetryPolicy(attempts=2), " (after 2 attempts)")]
)
def test_final_error_counts_the_attempts_only_when_there_were_several(
    http: HttpSession, mock: responses.RequestsMock, policy: RetryPolicy, suffix: str
) -> None:
    for _ in range(policy.attempts):
        mock.get(URL, body=refused())
    with pytest.raises(SourceUnavailable) as info:
        http.get(URL, retry=policy)
    assert info.value.message == (
        f"cannot talk to svc.test: [Errno 111] Connection refused (<redacted>){suffix}"
    )
    assert info.value.source == "svc"


def test_error_without_a_body_is_the_status_and_the_url(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, status=418, body=b"")
    error = http.error_for(http.get(URL, retry=NO_RETRY))
    assert type(error) is SourceError
    assert (error.message, error.source, error.status_code) == (
        f"HTTP 418 from {URL}",
        "svc",
        418,
    )


def test_a_sources_own_message_replaces_the_body(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL + f"?api_key={SECRET}", status=404, json={"message": "the body"})
    error = http.error_for(http.get(URL + f"?api_key={SECRET}", retry=NO_RETRY), "no such query")
    assert type(error) is NotFound
    assert error.message == f"HTTP 404 from {URL}?api_key=<redacted>: no such query"


def test_status_300_is_a_redirect_to_nowhere(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, status=300)
    error = http.error_for(http.get(URL, retry=NO_RETRY))
    assert type(error) is ProtocolError
    assert error.message == f"GET {URL} was redirected (HTTP 300) to elsewhere; {WRONG}"


def test_redirect_names_where_with_credentials_masked(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.post(URL, status=302, headers={"Location": f"https://svc.test/login?api_key={SECRET}"})
    error = http.error_for(http.post(URL, json={}))
    assert type(error) is ProtocolError
    assert error.message == (
        f"POST {URL} was redirected (HTTP 302) to https://svc.test/login?api_key=<redacted>; "
        f"{WRONG}"
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"attempts": 0}, "a retry policy needs at least one attempt"),
        ({"initial": -0.1}, "invalid backoff in "),
        ({"maximum": -1.0}, "invalid backoff in "),
        ({"multiplier": 0.5}, "invalid backoff in "),
    ],
)
def test_retry_policy_refusals(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError) as info:
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
    assert str(info.value).startswith(message)


def test_retry_policy_edges_are_allowed() -> None:
    policy = RetryPolicy(attempts=1, initial=0.0, maximum=0.0, multiplier=1.0)
    assert (policy.attempts, policy.initial, policy.maximum, policy.multiplier) == (1, 0, 0, 1)


def test_with_backoff_changes_only_what_it_is_given() -> None:
    base = RetryPolicy(attempts=4, initial=0.5, maximum=8.0, multiplier=3.0)
    assert base.with_backoff(initial=1.0) == RetryPolicy(
        attempts=4, initial=1.0, maximum=8.0, multiplier=3.0
    )
    assert base.with_backoff(maximum=2.0) == RetryPolicy(
        attempts=4, initial=0.5, maximum=2.0, multiplier=3.0
    )
    assert base.with_backoff(multiplier=2.0) == RetryPolicy(
        attempts=4, initial=0.5, maximum=8.0, multiplier=2.0
    )


def test_a_secret_holding_another_is_removed_whole() -> None:
    """Longest first: were 'zz' removed first, the ends of 'a-zz-b' would still show."""
    from thsources.http import Redactor

    redact = Redactor(["zz", "a-zz-b"])
    assert redact("key a-zz-b and zz") == "key <redacted> and <redacted>"


def test_retry_after_zero_leaves_the_usual_backoff(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    waits: list[float] = []
    session = HttpSession("svc", sleep=waits.append, rand=lambda: 1.0)
    mock.get(URL, status=503, headers={"Retry-After": "0"})
    mock.get(URL, json={})
    assert session.get(URL).status_code == 200
    assert waits == [0.25]  # the policy's first backoff, not a second more


def test_timeouts_must_be_positive() -> None:
    from thsources.http import Timeouts

    assert Timeouts(connect=0.5, read=0.5).read == 0.5
    with pytest.raises(ValueError) as info:
        Timeouts(connect=1.0, read=0.0)
    assert str(info.value) == "timeouts must be positive, not Timeouts(connect=1.0, read=0.0)"


def _new_connection_error() -> urllib3.exceptions.NewConnectionError:
    return urllib3.exceptions.NewConnectionError(None, "Connection refused")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("failure", "calls"),
    [
        # It cannot have reached the server: sending the POST again is safe.
        (requests.exceptions.ConnectTimeout("connect timed out"), 2),
        (requests.ConnectionError(_new_connection_error()), 2),
        # It may have: the query may be running, so it is never sent twice.
        (requests.exceptions.ReadTimeout("read timed out"), 1),
        (requests.ConnectionError(), 1),
    ],
)
def test_a_post_is_sent_again_only_when_it_cannot_have_arrived(
    http: HttpSession, mock: responses.RequestsMock, failure: Exception, calls: int
) -> None:
    mock.post(URL, body=failure)
    if calls == 2:
        mock.post(URL, json={"ok": True})
        assert http.post(URL, json={}).status_code == 200
    else:
        with pytest.raises(SourceUnavailable):
            http.post(URL, json={})
    assert len(mock.calls) == calls


LONG = "x" * 250


@pytest.mark.parametrize(
    ("body", "ctype", "detail"),
    [
        (b'{"detail": "bad parameter"}', "application/json", "bad parameter"),
        (b'{"error": "no such table"}', "Application/JSON; charset=utf-8", "no such table"),
        (b'{"message": 5, "detail": "d", "error": "e"}', "application/json", "d"),
        (b'{"message": "' + LONG.encode() + b'"}', "application/json", "x" * 200),
        (b"not json {", "application/json", "not json {"),
        (b"<html><body>Bad</body></html>", "text/HTML", "an HTML page"),
        (b"line one\nline two\n", "text/plain", "line one line two"),
        (LONG.encode(), "text/plain", "x" * 200 + "..."),
        (b"x" * 200, "text/plain", "x" * 200),
    ],
)
def test_error_message_quotes_the_start_of_the_body(
    http: HttpSession, mock: responses.RequestsMock, body: bytes, ctype: str, detail: str
) -> None:
    mock.get(URL, status=400, body=body, content_type=ctype)
    error = http.error_for(http.get(URL, retry=NO_RETRY))
    assert error.message == f"HTTP 400 from {URL}: {detail}"


@pytest.mark.parametrize(
    ("ctype", "shown"),
    [("text/html; charset=utf-8", "text/html"), (None, "no content type")],
)
def test_a_page_where_json_was_expected_says_the_url_is_wrong(
    http: HttpSession, mock: responses.RequestsMock, ctype: str | None, shown: str
) -> None:
    headers = {} if ctype is None else {"Content-Type": ctype}
    mock.get(URL + f"?api_key={SECRET}", body=b"<html></html>", headers=headers)
    response = http.get(URL + f"?api_key={SECRET}")
    if ctype is None:
        del response.headers["Content-Type"]
    with pytest.raises(ProtocolError) as info:
        http.json(response)
    assert (info.value.source, info.value.status_code) == ("svc", 200)
    assert info.value.message == (
        f"expected JSON from {URL}?api_key=<redacted> but got {shown} (HTTP 200): "
        "the URL is probably wrong (it should be the service's base URL)"
    )


def test_invalid_json_names_the_url_and_status(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, body=b'{"rows": [1, 2', content_type="application/json")
    with pytest.raises(ProtocolError) as info:
        http.json(http.get(URL))
    assert (info.value.source, info.value.status_code) == ("svc", 200)
    assert info.value.message.startswith(f"invalid JSON from {URL} (HTTP 200): ")
    assert len(info.value.message) > len(f"invalid JSON from {URL} (HTTP 200): ")


class _Conn:
    def __repr__(self) -> str:
        return "<urllib3.connection.HTTPConnection object at 0x7f3a2b1c0d90>"


def _transport_failures() -> list[tuple[str, Exception, str]]:
    import http.client

    refused = urllib3.exceptions.NewConnectionError(
        _Conn(),  # type: ignore[arg-type]
        "<urllib3.connection.HTTPConnection object at 0x7f3a2b1c0d90>: "
        "Failed to establish a new connection: [Errno 111] Connection refused",
    )
    cut = urllib3.exceptions.ProtocolError(
        "Connection broken: IncompleteRead(10 bytes read, 90 more expected)",
        http.client.IncompleteRead(b"x" * 10, 90),
    )
    reset = urllib3.exceptions.ProtocolError(
        "Connection aborted.", ConnectionResetError(104, "Connection reset by peer")
    )
    return [
        (
            "refused",
            requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, URL, refused)),  # type: ignore[arg-type]
            "cannot talk to svc.test: [Errno 111] Connection refused",
        ),
        (
            "connect-timeout",
            requests.exceptions.ConnectTimeout("x"),
            "timed out connecting to svc.test (after 10 s)",
        ),
        (
            "read-timeout",
            requests.exceptions.ReadTimeout("x"),
            "svc.test sent no answer to GET within 60 s",
        ),
        (
            "cut-short",
            requests.exceptions.ChunkedEncodingError(cut),
            "the answer from svc.test was cut short: "
            "IncompleteRead(10 bytes read, 90 more expected)",
        ),
        (
            "reset",
            requests.ConnectionError(reset),
            "cannot talk to svc.test: Connection reset by peer",
        ),
        (
            "other",
            requests.RequestException("something odd"),
            f"GET {URL} failed: something odd",
        ),
    ]


@pytest.mark.parametrize(
    ("failure", "message"),
    [pytest.param(f, m, id=name) for name, f, m in _transport_failures()],
)
def test_transport_failures_read_as_one_plain_sentence(
    mock: responses.RequestsMock, failure: Exception, message: str
) -> None:
    session = HttpSession("svc", sleep=lambda seconds: None)
    mock.get(URL, body=failure)
    with pytest.raises(SourceUnavailable) as info:
        session.get(URL, retry=NO_RETRY)
    assert (info.value.message, info.value.source) == (message, "svc")


def test_url_password_holding_an_at_sign_is_hidden_whole() -> None:
    from thsources.http import Redactor

    assert Redactor().url("https://ann:p@ss@host.test/x") == "https://***@host.test/x"


def test_a_url_too_broken_to_parse_is_still_redacted() -> None:
    from thsources.http import Redactor

    assert Redactor([SECRET]).url(f"http://[{SECRET}/x") == "http://[<redacted>/x"


# -- second round (issue #14): the retry and deadline paths, transport errors, reasons ---------


REFUSED = "cannot talk to svc.test: [Errno 111] Connection refused (<redacted>)"


class Clock:
    """A monotonic clock the test moves: deadlines then expire exactly when a test says."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_default_session_refuses_an_untrusted_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("needs openssl")
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            *("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"),
            *("-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"),
            *("-keyout", str(key), "-out", str(cert)),
        ],
        check=True,
        capture_output=True,
    )
    with RedashEmulator(users=[User(api_key="k" * 40)], tls=(cert, key)) as emu:
        session = HttpSession("svc", retry=NO_RETRY)
        with pytest.raises(SourceUnavailable) as info:
            session.get(emu.url + "/api/session")
        host = urlsplit(emu.url).netloc
        assert info.value.message.startswith(f"TLS error talking to {host}: ")
        assert "certificate verify failed" in info.value.message
        # Told not to verify, the same request reaches the server (which has no such page).
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            unverified = HttpSession("svc", verify=False, retry=NO_RETRY)
            assert unverified.get(emu.url + "/api/session").status_code == 404


def test_an_invalid_url_is_a_config_error_that_says_why(http: HttpSession) -> None:
    with pytest.raises(ConfigError) as info:
        http.get("svc.test/no-scheme")
    assert (info.value.message, info.value.source) == (
        "cannot send GET svc.test/no-scheme: Invalid URL 'svc.test/no-scheme': No scheme "
        "supplied. Perhaps you meant https://svc.test/no-scheme?",
        "svc",
    )


def test_a_redirect_loop_is_a_protocol_error(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, status=302, headers={"Location": URL})
    with pytest.raises(ProtocolError) as info:
        http.get(URL)
    assert (info.value.message, info.value.source) == (
        f"GET {URL}: too many redirects; is the URL right?",
        "svc",
    )
    assert isinstance(info.value.__cause__, requests.exceptions.TooManyRedirects)


def test_a_read_timeout_at_the_deadline_is_a_query_timeout(mock: responses.RequestsMock) -> None:
    clock = Clock()
    deadline = Deadline(5.0, clock=clock)

    def times_out(request: requests.PreparedRequest) -> Any:
        clock.now += 5.0
        raise requests.exceptions.ReadTimeout("read timed out")

    mock.add_callback(responses.GET, URL, callback=times_out)
    session = HttpSession("svc", sleep=lambda seconds: None)
    with pytest.raises(QueryTimeout) as info:
        session.get(URL, deadline=deadline)
    assert (info.value.message, info.value.source) == (
        f"the deadline passed while waiting for GET {URL}",
        "svc",
    )
    assert isinstance(info.value.__cause__, requests.exceptions.ReadTimeout)


@pytest.mark.parametrize(
    "failure",
    [
        requests.exceptions.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("cut short"),
    ],
    ids=["read-timeout", "cut-short"],
)
def test_a_get_is_tried_again_after_a_read_timeout_or_a_cut_answer(
    http: HttpSession, mock: responses.RequestsMock, failure: Exception
) -> None:
    mock.get(URL, body=failure)
    mock.get(URL, json={"ok": True})
    assert http.json(http.get(URL)) == {"ok": True}
    assert len(mock.calls) == 2


def test_an_unknown_failure_is_not_tried_again(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, body=requests.RequestException())
    with pytest.raises(SourceUnavailable) as info:
        http.get(URL)
    assert info.value.message == f"GET {URL} failed: RequestException"
    assert len(mock.calls) == 1


def test_a_closed_session_says_so(http: HttpSession) -> None:
    http.close()
    with pytest.raises(SourceError) as info:
        http.get(URL)
    assert (info.value.message, info.value.source) == ("this source has been closed", "svc")


def test_idempotent_and_allow_redirects_override_the_method(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.post(URL, status=503)
    mock.post(URL, json={"ok": True})
    assert http.post(URL, json={}, idempotent=True).status_code == 200
    assert len(mock.calls) == 2
    mock.get(URL + "/g", status=503)
    assert http.get(URL + "/g", idempotent=False).status_code == 503
    assert len(mock.calls) == 3
    mock.get(URL + "/r", status=302, headers={"Location": URL + "/elsewhere"})
    assert http.get(URL + "/r", allow_redirects=False).status_code == 302
    assert len(mock.calls) == 4


def test_an_expired_deadline_says_nothing_was_sent(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    with pytest.raises(QueryTimeout) as info:
        http.get(URL + f"?api_key={SECRET}", deadline=Deadline(0))
    assert (info.value.message, info.value.source) == (
        f"the deadline passed before GET {URL}?api_key=<redacted> could be sent",
        "svc",
    )
    assert len(mock.calls) == 0


def test_timeouts_shrink_to_the_deadline_and_grace_lengthens_the_read(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    clock = Clock()
    mock.post(URL, json={})
    mock.post(URL, json={})
    http.post(URL, json={}, deadline=Deadline(5.0, clock=clock), grace=30.0)
    http.post(URL, json={}, deadline=Deadline(0.5, clock=clock))
    timeouts = [cast(Any, c.request).req_kwargs["timeout"] for c in mock.calls]
    assert timeouts == [(5.0, 35.0), (0.5, 0.5)]


def test_a_json_body_with_integer_keys_is_sent(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.post(URL, json={})
    http.post(URL, json={1: "a", "b": 2})
    assert mock.calls[0].request.body == b'{"1":"a","b":2}'


def _elapsed(line: str) -> float:
    match = re.search(r" (\d+\.\d{3})s", line)
    assert match is not None, line
    return float(match.group(1))


def test_debug_lines_name_each_attempt_and_its_time(
    http: HttpSession, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(URL, body=refused())
    mock.get(URL, status=503)
    mock.get(URL, status=301, headers={"Location": URL + "/moved"})
    mock.get(URL + "/moved", json={})
    with caplog.at_level(logging.DEBUG, logger="thsources.http"):
        started = time.monotonic()
        http.get(URL)
        took = time.monotonic() - started
    lines = [r.getMessage() for r in caplog.records if r.name == "thsources.http"]
    shapes = [re.sub(r" \d+\.\d{3}s", " Ts", line) for line in lines]
    assert shapes == [
        f"GET {URL} failed after Ts (attempt 1): "
        "cannot talk to svc.test: [Errno 111] Connection refused (<redacted>)",
        f"retrying GET {URL} in 0.25s (attempt 2 of 5) after "
        "cannot talk to svc.test: [Errno 111] Connection refused (<redacted>)",
        f"GET {URL} -> 503 in Ts (attempt 2)",
        f"retrying GET {URL} in 0.50s (attempt 3 of 5) after HTTP 503",
        f"GET {URL}/moved -> 200 in Ts (attempt 3)",
    ]
    # The time logged is the request's own, so never more than the whole call took (give or
    # take the rounding to milliseconds).
    assert all(_elapsed(lines[i]) <= took + 0.0005 for i in (0, 2, 4))


def test_one_attempt_logs_no_attempt_number(
    http: HttpSession, mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    mock.get(URL, json={})
    with caplog.at_level(logging.DEBUG, logger="thsources.http"):
        http.get(URL)
    (line,) = [r.getMessage() for r in caplog.records if r.name == "thsources.http"]
    assert re.fullmatch(rf"GET {re.escape(URL)} -> 200 in \d+\.\d{{3}}s", line)


def test_the_deadline_passing_during_a_backoff_raises_the_last_failure(
    mock: responses.RequestsMock,
) -> None:
    clock = Clock()

    def sleep(seconds: float) -> None:
        clock.now += 100.0

    mock.get(URL, body=refused())
    session = HttpSession("svc", secrets=[SECRET], sleep=sleep, rand=lambda: 1.0)
    with pytest.raises(SourceUnavailable) as info:
        session.get(URL, deadline=Deadline(60.0, clock=clock))
    assert (
        info.value.message == "cannot talk to svc.test: [Errno 111] Connection refused (<redacted>)"
    )
    assert len(mock.calls) == 1


def test_waits_are_drawn_below_the_backoff_ceiling(mock: responses.RequestsMock) -> None:
    waits: list[float] = []
    session = HttpSession("svc", sleep=waits.append, rand=lambda: 0.5)
    mock.get(URL, body=refused())
    mock.get(URL, status=503)
    mock.get(URL, json={})
    assert session.get(URL).status_code == 200
    assert waits == [0.125, 0.25]


def test_no_backoff_is_started_that_the_deadline_would_cut(mock: responses.RequestsMock) -> None:
    clock = Clock()
    waits: list[float] = []
    session = HttpSession(
        "svc",
        secrets=[SECRET],
        sleep=waits.append,
        rand=lambda: 1.0,
        retry=RetryPolicy(initial=1.0),
    )
    mock.get(URL, body=refused())
    with pytest.raises(SourceUnavailable) as info:
        session.get(URL, deadline=Deadline(0.5, clock=clock))
    assert (
        info.value.message == "cannot talk to svc.test: [Errno 111] Connection refused (<redacted>)"
    )
    # A wait that would end exactly at the deadline is not started either.
    mock.get(URL + "/busy", status=503)
    assert session.get(URL + "/busy", deadline=Deadline(1.0, clock=clock)).status_code == 503
    assert waits == []
    assert len(mock.calls) == 2


def test_retry_after_up_to_the_limit_is_waited_and_beyond_it_given_up(
    mock: responses.RequestsMock, caplog: pytest.LogCaptureFixture
) -> None:
    waits: list[float] = []
    session = HttpSession("svc", sleep=waits.append, rand=lambda: 1.0)
    mock.get(URL, status=503, headers={"Retry-After": "120"})
    mock.get(URL, json={})
    assert session.get(URL).status_code == 200
    assert waits == [120.0]
    mock.get(URL + "/later", status=503, headers={"Retry-After": "121"})
    with caplog.at_level(logging.DEBUG, logger="thsources.http"):
        assert session.get(URL + "/later").status_code == 503
    assert f"GET {URL}/later: Retry-After 121s is too long; giving up" in [
        r.getMessage() for r in caplog.records
    ]
    assert waits == [120.0]


def test_blank_query_arguments_stay_in_a_logged_url() -> None:
    from thsources.http import Redactor

    assert (
        Redactor().url("http://h.test/x?flag=&api_key=k&n=1")
        == "http://h.test/x?flag=&api_key=<redacted>&n=1"
    )


def test_an_error_without_a_content_type_quotes_the_body(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    mock.get(URL, status=400, body=b"bad request: no such column")
    response = http.get(URL, retry=NO_RETRY)
    del response.headers["Content-Type"]
    assert http.error_for(response).message == f"HTTP 400 from {URL}: bad request: no such column"


def test_the_user_agent_of_a_source_tree_that_is_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.metadata

    import thsources.http

    def not_installed(name: str) -> str:
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(thsources.http, "version", not_installed)
    assert thsources.http.user_agent().startswith("thsources/0+unknown (python ")


def _failing(reason: BaseException, how: str) -> requests.ConnectionError:
    exc = requests.ConnectionError("connection failed")
    setattr(exc, how, reason)
    return exc


@pytest.mark.parametrize("how", ["__cause__", "__context__"])
def test_the_reason_is_found_down_an_exception_chain(
    http: HttpSession, mock: responses.RequestsMock, how: str
) -> None:
    mock.get(URL, body=_failing(ConnectionResetError(104, "Connection reset by peer"), how))
    with pytest.raises(SourceUnavailable) as info:
        http.get(URL, retry=NO_RETRY)
    assert info.value.message == "cannot talk to svc.test: Connection reset by peer"


def test_an_exception_chain_that_loops_still_gives_a_reason(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    first = requests.ConnectionError("first")
    second = RuntimeError("second")
    first.__context__ = second
    second.__context__ = first
    mock.get(URL, body=first)
    with pytest.raises(SourceUnavailable) as info:
        http.get(URL, retry=NO_RETRY)
    assert info.value.message == "cannot talk to svc.test: first"


def test_a_name_that_does_not_resolve_reads_plainly(
    http: HttpSession, mock: responses.RequestsMock
) -> None:
    failure = urllib3.exceptions.NameResolutionError(
        "svc.test",
        _Conn(),
        socket.gaierror(-2, "Name or service not known"),  # type: ignore[arg-type]
    )
    mock.get(
        URL,
        body=requests.ConnectionError(urllib3.exceptions.MaxRetryError(None, URL, failure)),  # type: ignore[arg-type]
    )
    with pytest.raises(SourceUnavailable) as info:
        http.get(URL, retry=NO_RETRY)
    assert info.value.message == (
        "cannot talk to svc.test: Failed to resolve 'svc.test' ([Errno -2] Name or service "
        "not known)"
    )
