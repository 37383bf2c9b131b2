"""A small real HTTP server on 127.0.0.1 for emulators: record each request, let a function answer.

Emulators differ in what they answer, not in how they listen: this module holds the listening
part (threaded server, keep-alive, no Nagle delay, quiet logs, request recording, connection
resets on demand) so that each emulator only writes ``answer(request) -> Reply``.
"""

from __future__ import annotations

import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

__all__ = ["LocalServer", "Recorded", "Reply", "Request"]


@dataclass(frozen=True)
class Request:
    """What an emulator's answer function sees: header names are lower-case."""

    method: str
    path: str
    query: str
    args: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""

    def arg(self, name: str) -> str | None:
        """The last value of query argument ``name`` (as Django's ``QueryDict.get`` gives)."""
        values = self.args.get(name)
        return values[-1] if values else None


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)
    reset: bool = False  # drop the connection instead of answering


@dataclass
class Recorded:
    """One request as the server received it, and the status it was answered with."""

    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    time: float
    status: int = 0


Answer = Callable[[Request], Reply]


class LocalServer:
    """Serves ``answer`` on ``host:port`` (0: any free port) in a background thread."""

    def __init__(self, answer: Answer, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.answer = answer
        self.host = host
        self.port = port
        self._lock = threading.Lock()
        self._requests: list[Recorded] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return f"http://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def start(self) -> None:
        if self._server is not None:
            return
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def requests(self) -> list[Recorded]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, record: Recorded) -> None:
        with self._lock:
            self._requests.append(record)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LocalServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up is not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return "gunicorn"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the server's ``requests``."""

    def _handle(self) -> None:
        owner = self.server.owner
        path, _, query = self.path.partition("?")
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        args = parse_qs(query, keep_blank_values=True)
        record = Recorded(self.command, path, query, args, dict(self.headers.items()), time.time())
        owner._record(record)
        request = Request(
            self.command, path, query, args, {k.lower(): v for k, v in self.headers.items()}, body
        )
        try:
            reply = owner.answer(request)
        except Exception:  # an unhandled error is a 500, as from Django
            reply = Reply(500, b"<h1>Server Error (500)</h1>", "text/html")
        if reply.reset:
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            return
        record.status = reply.status
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = _handle
    do_POST = _handle
    do_HEAD = _handle
