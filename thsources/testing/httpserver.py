"""A small real HTTP server on 127.0.0.1 for emulators: record each request, let a function answer.

Emulators differ in what they answer, not in how they listen: this module holds the listening
part (threaded server, keep-alive, no Nagle delay, quiet logs, request recording, chunked
bodies, TLS, connection resets on demand, a restart that drops kept-alive connections) so that
each emulator only writes ``answer(request) -> Reply`` and says how a request is recorded;
:class:`Emulator` gives them the same URL, request log, context manager and ``serve_forever``.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import sys
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Generic, Protocol, Self, TypeVar
from urllib.parse import parse_qs

import orjson

__all__ = ["Emulator", "LocalServer", "Recorded", "Reply", "Request", "json_or_none"]


@dataclass(frozen=True)
class Request:
    """What an emulator's answer function sees: header names are lower-case."""

    method: str
    path: str
    query: str
    args: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes = b""
    #: The headers with their names as the client wrote them (what request logs keep).
    raw_headers: dict[str, str] = field(default_factory=dict)
    #: When the request was read (``time.time()``).
    received: float = 0.0

    def arg(self, name: str) -> str | None:
        """The last value of query argument ``name`` (as Django's ``QueryDict.get`` gives)."""
        values = self.args.get(name)
        return values[-1] if values else None

    def first(self, name: str) -> str | None:
        """The first value of query argument ``name`` (as Flask's ``request.args.get`` gives)."""
        values = self.args.get(name)
        return values[0] if values else None


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

    @classmethod
    def of(cls, request: Request) -> Recorded:
        return cls(
            request.method,
            request.path,
            request.query,
            request.args,
            request.raw_headers,
            request.received,
        )


class Record(Protocol):
    """What a request log entry needs: the answered status is written into it (0: reset)."""

    status: Any


R = TypeVar("R", bound=Record)
Answer = Callable[[Request], Reply]


def json_or_none(body: bytes) -> Any:
    """The body as JSON, or None when empty or not JSON (for request logs)."""
    try:
        return orjson.loads(body) if body else None
    except orjson.JSONDecodeError:
        return None


def _django_500(request: Request) -> Reply:
    return Reply(500, b"<h1>Server Error (500)</h1>", "text/html")


class LocalServer(Generic[R]):
    """Serves ``answer`` on ``host:port`` (0: any free port) in a background thread.

    ``record`` makes the log entry of each request (kept in :attr:`requests`) before it is
    answered; ``on_error`` answers when ``answer`` raises. ``tls`` is ``(certfile, keyfile)``
    to serve HTTPS. ``server_header`` is the ``Server`` header (None: Python's own).
    """

    def __init__(
        self,
        answer: Answer,
        record: Callable[[Request], R],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[str | Path, str | Path] | None = None,
        methods: Iterable[str] = ("GET", "POST", "HEAD"),
        server_header: str | None = "gunicorn",
        on_error: Callable[[Request], Reply] = _django_500,
        name: str = "local-http",
    ) -> None:
        self.answer = answer
        self.record = record
        self.host = host
        self.port = port
        self.tls = tls
        self.methods = frozenset(methods)
        self.server_header = server_header
        self.on_error = on_error
        self.name = name
        self._lock = threading.Lock()
        self._requests: list[R] = []
        # Start, stop and a restart's return take turns; ``_stopped`` keeps a pending
        # restart from listening again after stop().
        self._listen_lock = threading.Lock()
        self._stopped = threading.Event()
        self._down = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL without a trailing slash; also while a restart has the listener down."""
        if self._server is None and not self._down:
            raise RuntimeError("the emulator is not started")
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._server is not None

    def wait_stopped(self, timeout: float) -> bool:
        """Whether :meth:`stop` was called (waiting up to ``timeout`` seconds for it)."""
        return self._stopped.wait(timeout)

    def start(self) -> None:
        with self._listen_lock:
            self._stopped.clear()
            if self._server is None:
                self._listen()

    def stop(self) -> None:
        """Stop listening and drop the open connections (idempotent)."""
        self._stopped.set()
        with self._listen_lock:
            self._close()

    def restart(self, down: float) -> threading.Thread:
        """Close the listener and its connections; listen on the same port after ``down`` s.

        Returns at once; the returned thread brings the listener back (join it to wait).
        """
        with self._listen_lock:
            if self._server is None:
                raise RuntimeError("the emulator is not started")
            self._down = True
            self._close()

        def back() -> None:
            if not self._stopped.wait(down):
                with self._listen_lock:
                    if not self._stopped.is_set():
                        self._listen()
            with self._listen_lock:
                self._down = False

        thread = threading.Thread(target=back, name=f"{self.name}-restart", daemon=True)
        thread.start()
        return thread

    def _listen(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        if self.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(self.tls[0]), str(self.tls[1]))
            server.socket = context.wrap_socket(server.socket, server_side=True)
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._server = server
        self._thread.start()

    def _close(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
            server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def requests(self) -> list[R]:
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def _record(self, request: Request) -> R:
        record = self.record(request)
        with self._lock:
            self._requests.append(record)
        return record


class Emulator(ABC, Generic[R]):
    """What every emulator does around its :class:`LocalServer` (set as ``_server``).

    A subclass names itself in ``name`` and writes :meth:`start` (ending with
    ``self._server.start()``) and :meth:`stop` (with ``self._server.stop()``).
    """

    name: ClassVar[str]
    _server: LocalServer[R]

    @property
    def host(self) -> str:
        return self._server.host

    @property
    def port(self) -> int:
        """The port listened on (once started, the one chosen when 0 was asked for)."""
        return self._server.port

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. ``http://127.0.0.1:54321``."""
        return self._server.url

    @property
    def running(self) -> bool:
        return self._server.running

    @property
    def requests(self) -> list[R]:
        """Every request received so far, oldest first (a copy)."""
        return self._server.requests

    def clear_requests(self) -> None:
        self._server.clear_requests()

    @abstractmethod
    def start(self) -> Emulator[R]: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _banner(self) -> list[str]:
        """What :meth:`serve_forever` prints after the URL."""
        return []

    def serve_forever(self) -> None:
        """Serve until Ctrl-C (or :meth:`stop`), after printing the URL."""
        self.start()
        print(f"{self.name} emulator listening on {self.url}", flush=True)
        for line in self._banner():
            print(line, flush=True)
        print("Press Ctrl-C to stop.", flush=True)
        try:
            while not self._server.wait_stopped(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: LocalServer[Any]

    def server_activate(self) -> None:
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().server_activate()

    def drop_connections(self) -> None:
        """Close the kept-alive connections too, as a web server's restart does."""
        with self.connections_lock:
            connections, self.connections = list(self.connections), set()
        for connection in connections:
            with contextlib.suppress(OSError):  # the client may have gone already
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (e.g. after a timeout) is not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Reads a request, records it, lets the owner's function answer, writes the reply."""

    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)
        # Headers and body go out in separate writes: without this, Nagle's algorithm and the
        # client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def finish(self) -> None:
        with self.server.connections_lock:
            self.server.connections.discard(self.connection)
        super().finish()

    def version_string(self) -> str:
        header = self.server.owner.server_header
        return super().version_string() if header is None else header

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the request log is the server's ``requests``."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        owner = self.server.owner
        if self.command not in owner.methods:  # what http.server answers a method it lacks
            self.send_error(501, f"Unsupported method ({self.command!r})")
            return
        path, _, query = self.path.partition("?")
        body = self._read_body()
        raw_headers = dict(self.headers.items())
        request = Request(
            self.command,
            path,
            query,
            parse_qs(query, keep_blank_values=True),
            {k.lower(): v for k, v in raw_headers.items()},
            body,
            raw_headers,
            time.time(),
        )
        record = owner._record(request)
        try:
            reply = owner.answer(request)
        except Exception:
            reply = owner.on_error(request)
        if reply.reset:
            record.status = 0
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
    do_PUT = _handle
    do_PATCH = _handle
    do_DELETE = _handle
    do_HEAD = _handle
    do_OPTIONS = _handle
