"""Reading a result body straight from the socket into one buffer, over real HTTP.

A small server on 127.0.0.1 answers plain, compressed, chunked and cut bodies, and speaks
just enough of Redash's API (data sources, a job, its result) for the ``redash`` source to
fetch a result whose first download is cut part-way.
"""

from __future__ import annotations

import gzip
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

import orjson
import pytest
import requests

from thsources.errors import SourceError
from thsources.httpbody import BodyLost, Incoming
from thsources.jsonrows import decode_query_result
from thsources.jsonrows_stream import STREAM_STATS
from thsources.polling import PollSchedule
from thsources.sources.redash import RedashSource

KEY: Final = "HttpBodyTestKey0123456789abcdefghijKLMN"
BODY: Final = bytes(range(256)) * 12000  # about 3 MB: several reads


def result_body(sql: str, n: int = 3000) -> bytes:
    return orjson.dumps(
        {
            "query_result": {
                "id": 5,
                "query_hash": "h",
                "query": sql,
                "data": {
                    "columns": [
                        {"name": "id", "friendly_name": "id", "type": "integer"},
                        {"name": "name", "friendly_name": "name", "type": "string"},
                    ],
                    "rows": [{"id": i, "name": f"row {i}"} for i in range(n)],
                },
                "data_source_id": 1,
                "runtime": 0.1,
                "retrieved_at": "2026-11-27T10:00:00Z",
            }
        }
    )


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(
        self, body: bytes, *, status: int = 200, cut: int | None = None, **headers: str
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("ctype", "application/json"))
        if "chunked" not in headers.values():
            self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if cut is not None:
            self.wfile.write(body[:cut])
            self.wfile.flush()
            self.close_connection = True
            return
        if "chunked" in headers.values():
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
        else:
            self.wfile.write(body)

    def do_GET(self) -> None:
        srv = self.server
        srv.connections.add(self.client_address)
        path = self.path
        if path == "/plain":
            self._send(BODY)
        elif path == "/gzip":
            self._send(gzip.compress(BODY), Content_Encoding="gzip")
        elif path == "/chunked":
            self._send(BODY, Transfer_Encoding="chunked")
        elif path == "/cut":
            self._send(BODY, cut=len(BODY) // 3)
        elif path == "/api/data_sources":
            self._send(
                orjson.dumps([{"id": 1, "name": "Treeherder", "type": "pg", "syntax": "sql"}])
            )
        elif path.startswith("/api/jobs/"):
            job = {"id": "j1", "status": 3, "error": "", "query_result_id": 5, "result": 5}
            self._send(orjson.dumps({"job": job}))
        elif path == "/api/query_results/5.json":
            srv.result_gets += 1
            body = result_body(srv.sql, srv.rows)
            if srv.without_id:
                body = body.replace(b'"id":5,', b"", 1)
            if srv.result_gets > srv.cut_first and srv.refetch_status is not None:
                self._send(b'{"message": "gone"}', status=srv.refetch_status)
                return
            self._send(body, cut=len(body) // 2 if srv.result_gets <= srv.cut_first else None)
        else:
            self._send(b'{"message": "no"}', status=404)

    def do_POST(self) -> None:
        srv = self.server
        length = int(self.headers["Content-Length"])
        sent = orjson.loads(self.rfile.read(length))
        srv.sql = sent["query"]
        srv.posts.append(sent)
        if sent["max_age"] != 0:  # Redash answers with the cached result itself
            body = result_body(srv.sql)
            self._send(body, cut=len(body) // 2 if len(srv.posts) <= srv.cut_first else None)
            return
        self._send(orjson.dumps({"job": {"id": "j1", "status": 1, "error": ""}}))


@pytest.fixture
def server() -> Iterator[Any]:
    srv: Any = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    srv.daemon_threads = True
    srv.connections = set()
    srv.result_gets = 0
    srv.posts = []
    srv.cut_first = 0
    srv.sql = ""
    srv.rows = 3000
    srv.without_id = False
    srv.refetch_status = None
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    srv.url = f"http://127.0.0.1:{srv.server_address[1]}"
    yield srv
    srv.shutdown()
    srv.server_close()


def test_a_plain_body_is_read_whole_and_the_connection_reused(server: Any) -> None:
    with requests.Session() as s:
        for _ in range(2):
            response = s.get(f"{server.url}/plain", stream=True)
            incoming = Incoming.of(response)
            assert incoming is not None and incoming.size == len(BODY)
            assert incoming.fill_to(1000) >= 1000 and not incoming.complete
            assert bytes(incoming.fill()) == BODY and incoming.complete
    assert len(server.connections) == 1


@pytest.mark.parametrize("path", ["/gzip", "/chunked"])
def test_compressed_or_chunked_bodies_are_left_to_requests(server: Any, path: str) -> None:
    response = requests.get(f"{server.url}{path}", stream=True)
    assert Incoming.of(response) is None
    assert response.content == BODY  # requests decodes them as before


def test_a_body_already_read_is_not_taken() -> None:
    response = requests.Response()
    response._content = b"{}"
    response._content_consumed = True
    response.headers["Content-Length"] = "2"
    assert Incoming.of(response) is None


def test_a_cut_body_raises_body_lost(server: Any) -> None:
    response = requests.get(f"{server.url}/cut", stream=True)
    incoming = Incoming.of(response)
    assert incoming is not None
    with pytest.raises(BodyLost) as info:
        incoming.fill()
    assert str(info.value) == f"the connection closed after {len(BODY) // 3} of {len(BODY)} bytes"
    assert incoming.filled == len(BODY) // 3


def redash(server: Any) -> RedashSource:
    return RedashSource(
        url=server.url, api_key=KEY, poll=PollSchedule(first=0.001, factor=0.01, cap=0.005)
    )


def test_the_redash_result_is_parsed_while_it_arrives(server: Any) -> None:
    before = STREAM_STATS.streamed
    with redash(server) as src:
        res = src.query("SELECT id, name FROM t")
    assert STREAM_STATS.streamed == before + 1
    _, expected = decode_query_result(result_body("SELECT id, name FROM t"))
    assert res.to_arrow().equals(expected.to_arrow())
    assert res.records()[:2] == [{"id": 0, "name": "row 0"}, {"id": 1, "name": "row 1"}]
    assert server.result_gets == 1


def test_a_result_cut_part_way_is_fetched_again(server: Any) -> None:
    server.cut_first = 1
    with redash(server) as src:
        res = src.query("SELECT id, name FROM t")
    assert server.result_gets == 2
    assert len(res) == 3000 and res[-1] == {"id": 2999, "name": "row 2999"}


def test_a_cached_result_in_the_post_answer_is_parsed_while_it_arrives(server: Any) -> None:
    before = STREAM_STATS.streamed
    with redash(server) as src:
        res = src.query("SELECT id, name FROM t", max_age=3600)
    assert STREAM_STATS.streamed == before + 1
    assert [p["max_age"] for p in server.posts] == [3600]
    assert len(res) == 3000 and res.meta.cached and server.result_gets == 0


def test_a_cached_result_cut_part_way_is_posted_for_again(server: Any) -> None:
    server.cut_first = 1
    with redash(server) as src:
        res = src.query("SELECT id, name FROM t", max_age=3600)
    first, second = server.posts
    assert first["max_age"] == 3600 and second["max_age"] >= 3600  # covers the first attempt
    assert len(res) == 3000 and res[-1] == {"id": 2999, "name": "row 2999"}


def test_a_result_parsed_while_it_arrives_says_it_was_not_cached(server: Any) -> None:
    with redash(server) as src:
        res = src.query("SELECT id, name FROM t")
    assert res.meta.cached is False and res.meta.result_id == 5


def test_a_small_result_is_read_whole_before_it_is_parsed(server: Any) -> None:
    """Below 64 KB a reader thread costs more than it saves."""
    server.rows = 10
    before = (STREAM_STATS.streamed, STREAM_STATS.whole)
    with redash(server) as src:
        res = src.query("SELECT id, name FROM t")
    assert (STREAM_STATS.streamed, STREAM_STATS.whole) == before  # never handed to it
    assert len(res) == 10 and res.meta.cached is False


class _Recording(requests.Session):
    """Remembers the (connect, read) timeout of each request."""

    def __init__(self) -> None:
        super().__init__()
        self.timeouts: list[Any] = []

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.timeouts.append(kwargs.get("timeout"))
        return super().request(method, url, *args, **kwargs)


def test_a_cut_result_is_logged_and_fetched_again_within_the_deadline(
    server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    server.cut_first = 1
    session = _Recording()
    caplog.set_level(logging.DEBUG, logger="thsources.sources.redash")
    with RedashSource(
        url=server.url,
        api_key=KEY,
        poll=PollSchedule(first=0.001, factor=0.01, cap=0.005),
        timeout=20,
        session=session,
    ) as src:
        res = src.query("SELECT id, name FROM t")
    assert len(res) == 3000 and server.result_gets == 2
    size = len(result_body("SELECT id, name FROM t"))
    assert (
        f"result 5: the body was cut (the connection closed after {size // 2} of {size} "
        "bytes); fetching it again"
    ) in [r.getMessage() for r in caplog.records]
    # 60 s is the read timeout without a deadline; a POST may take 5 s of grace.
    assert all(t[1] <= 25 for t in session.timeouts), session.timeouts


@pytest.mark.parametrize("rows", [3000, 10])  # parsed as it arrives, read whole
def test_a_result_without_an_id_keeps_the_jobs_result_id(server: Any, rows: int) -> None:
    server.without_id = True
    server.rows = rows
    with redash(server) as src:
        res = src.query("SELECT id, name FROM t")
    assert res.meta.result_id == 5 and len(res) == rows


@pytest.mark.parametrize("status", [300, 404])
def test_a_result_refused_when_fetched_again_after_a_cut_says_so(server: Any, status: int) -> None:
    server.cut_first = 1
    server.refetch_status = status
    with redash(server) as src, pytest.raises(SourceError) as info:
        src.query("SELECT id, name FROM t")
    url = f"{server.url}/api/query_results/5.json"
    assert (
        info.value.message
        == {
            300: f"GET {url} was redirected (HTTP 300) to elsewhere; the URL is probably wrong "
            "(http instead of https, or a missing path prefix?)",
            404: f"result 5: not found on {server.url} (HTTP 404: gone)",
        }[status]
    )
    assert server.result_gets == 2


def test_results_parsed_while_they_arrive_leave_the_connection_for_the_next_request(
    server: Any,
) -> None:
    with redash(server) as src:
        for _ in range(2):
            assert len(src.query("SELECT id, name FROM t")) == 3000
    assert server.result_gets == 2 and len(server.connections) == 1
