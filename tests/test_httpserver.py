"""The HTTP server every emulator listens with (thsources.testing.httpserver), over real sockets.

The Redash, ActiveData and Treeherder emulators share this lifecycle, so what it promises is
checked here once: bodies (chunked too), the request log, unserved methods, errors, resets,
stop and restart dropping kept-alive connections, and serve_forever ending on stop().
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import orjson
import pytest

from thsources.local.loader import ensure_sample_db
from thsources.testing import ActiveDataEmulator, TreeherderEmulator
from thsources.testing.httpserver import LocalServer, Recorded, Reply, Request

_UA = {"User-Agent": "thsources-tests/1"}


def _echo(request: Request) -> Reply:
    if request.path == "/boom":
        raise RuntimeError("a bug in the answer")
    if request.path == "/reset":
        return Reply(0, b"", reset=True)
    doc = {"method": request.method, "body": request.body.decode(), "args": request.args}
    return Reply(200, orjson.dumps(doc), headers=[("X-Echo", "1")])


@pytest.fixture
def server() -> Iterator[LocalServer[Recorded]]:
    srv = LocalServer(_echo, Recorded.of, name="test-http")
    srv.start()
    yield srv
    srv.stop()


def _connection(srv: LocalServer[Recorded]) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(srv.host, srv.port, timeout=10)


def _refused(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_a_chunked_body_is_read_whole_and_the_connection_stays_usable(
    server: LocalServer[Recorded],
) -> None:
    conn = _connection(server)
    conn.request("POST", "/x?a=1&a=2", body=iter([b"he", b"llo"]), encode_chunked=True)
    first = conn.getresponse()
    assert orjson.loads(first.read()) == {
        "method": "POST",
        "body": "hello",
        "args": {"a": ["1", "2"]},
    }
    conn.request("POST", "/y", body=b"again", headers={"Content-Length": "5"})
    assert orjson.loads(conn.getresponse().read())["body"] == "again"  # same connection
    conn.close()
    assert [(r.method, r.path, r.query, r.status) for r in server.requests] == [
        ("POST", "/x", "a=1&a=2", 200),
        ("POST", "/y", "", 200),
    ]
    assert server.requests[0].headers["Transfer-Encoding"] == "chunked"  # names as sent


def test_a_method_not_served_gets_the_stock_501_and_is_not_recorded(
    server: LocalServer[Recorded],
) -> None:
    conn = _connection(server)
    conn.request("PUT", "/x", body=b"{}")
    answer = conn.getresponse()
    assert (answer.status, answer.getheader("Connection")) == (501, "close")
    assert b"Unsupported method ('PUT')" in answer.read()
    assert server.requests == []


def test_an_answer_that_raises_gets_the_error_reply_and_a_reset_is_status_0(
    server: LocalServer[Recorded],
) -> None:
    conn = _connection(server)
    conn.request("GET", "/boom")
    answer = conn.getresponse()
    assert (answer.status, answer.read()) == (500, b"<h1>Server Error (500)</h1>")
    assert answer.getheader("Server") == "gunicorn"
    conn.request("GET", "/reset")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    assert [(r.path, r.status) for r in server.requests] == [("/boom", 500), ("/reset", 0)]


def test_a_restart_drops_kept_alive_connections_and_comes_back_on_the_same_port(
    server: LocalServer[Recorded],
) -> None:
    conn = _connection(server)
    conn.request("GET", "/before")
    assert conn.getresponse().read()
    port, url = server.port, server.url
    back = server.restart(down=60.0)  # long enough to look at the server while it is down
    assert (server.running, server.url) == (False, url)
    assert _refused(server.host, port)
    conn.request("GET", "/on-the-old-connection")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        conn.getresponse()
    conn.close()
    server.stop()  # a stop while down: the listener never comes back
    back.join(timeout=5)
    assert not back.is_alive()
    assert not server.running and _refused(server.host, port)
    with pytest.raises(RuntimeError, match="not started"):
        server.url  # noqa: B018
    server.start()
    server.restart(down=0.0).join(timeout=5)
    assert (server.running, server.port) == (True, port)
    conn = _connection(server)
    conn.request("GET", "/after")
    assert conn.getresponse().status == 200
    conn.close()
    assert [r.path for r in server.requests] == ["/before", "/after"]


def test_a_stopped_emulator_answers_no_kept_alive_connection() -> None:
    emu = TreeherderEmulator(ensure_sample_db())
    emu.start()
    conn = http.client.HTTPConnection(urlsplit(emu.url).netloc, timeout=10)
    conn.request("GET", "/api/repository/", headers=_UA)
    assert conn.getresponse().read()
    emu.stop()
    conn.request("GET", "/api/repository/", headers=_UA)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)):
        conn.getresponse()
    conn.close()
    assert [r.path for r in emu.requests] == ["/api/repository/"]


def test_activedata_reads_a_chunked_query() -> None:
    with ActiveDataEmulator(ensure_sample_db()) as emu:
        conn = http.client.HTTPConnection(urlsplit(emu.url).netloc, timeout=10)
        query = b'{"from": "repo", "select": "push.id", "format": "list", "limit": 1}'
        conn.request("POST", "/query", body=iter([query[:10], query[10:]]), encode_chunked=True)
        answer = conn.getresponse()
        assert (answer.status, answer.getheader("Access-Control-Allow-Origin")) == (200, "*")
        assert len(orjson.loads(answer.read())["data"]) == 1
        conn.close()
        assert [(r.path, r.body, r.status) for r in emu.requests] == [("/query", query, 200)]


def test_serve_forever_prints_the_url_and_returns_on_stop(
    capsys: pytest.CaptureFixture[str],
) -> None:
    emu = TreeherderEmulator(ensure_sample_db())
    serving = threading.Thread(target=emu.serve_forever, daemon=True)
    serving.start()
    out = ""
    deadline = time.monotonic() + 30
    while "Press Ctrl-C" not in out and time.monotonic() < deadline:
        time.sleep(0.01)
        out += capsys.readouterr().out
    assert out == f"Treeherder emulator listening on {emu.url}\nPress Ctrl-C to stop.\n"
    emu.stop()
    serving.join(timeout=5)
    assert not serving.is_alive()
