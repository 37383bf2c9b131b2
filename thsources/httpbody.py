"""A large response body read from the socket straight into one buffer of its announced size.

``requests`` reads a body in 10 KB pieces, each a new ``bytes`` object, then joins them into
one more copy. For a result of tens of MB that is thousands of small reads and an extra pass
over the body. :class:`Incoming` instead preallocates ``Content-Length`` bytes and lets the
socket write into them (``readinto``), as far as the caller needs: a decoder can start on the
first megabytes while the rest is still arriving.

Only plain bodies qualify: a compressed or chunked one (no ``Content-Length``) is left to
``requests``, which decodes it (:meth:`Incoming.of` returns None).
"""

from __future__ import annotations

import http.client
import threading
from typing import Any, Final

import requests

__all__ = ["BodyLost", "Incoming"]

STEP: Final = 1 << 20
"""Bytes asked of the socket per read at least: few system calls, yet an early start."""


class BodyLost(Exception):
    """The body stopped arriving (connection closed or reset, read timeout) part-way.

    Not a user-facing error: the caller fetches again through the retrying session, which
    raises the error the failure deserves.
    """


class Incoming:
    """The body of ``response`` (sent with ``stream=True``), filled on demand.

    ``buffer`` holds ``size`` bytes once complete; ``filled`` says how many have arrived.
    """

    def __init__(self, response: requests.Response, readinto: Any, size: int) -> None:
        self._response = response
        self._readinto = readinto
        self.size = size
        self.buffer = bytearray(size)
        self._view = memoryview(self.buffer)
        self.filled = 0
        self._reading = threading.Lock()
        self._abandoned = False

    @classmethod
    def of(cls, response: requests.Response, min_size: int = 0) -> Incoming | None:
        """An ``Incoming`` over a plain body of at least ``min_size`` bytes with a length, not
        read yet; else None (then ``response.content`` reads it as usual)."""
        headers = response.headers
        encoding = headers.get("Content-Encoding", "").strip().lower()
        length = headers.get("Content-Length", "").strip()
        raw = response.raw
        fp = getattr(raw, "_fp", None)  # urllib3's http.client response: no decoder between
        readinto = getattr(fp, "readinto", None)
        if (
            encoding not in ("", "identity")
            or not length.isdigit()
            or int(length) < min_size
            or "chunked" in headers.get("Transfer-Encoding", "").lower()
            or readinto is None
            or getattr(response, "_content_consumed", True)
            or getattr(raw, "_fp_bytes_read", 1) != 0
        ):
            return None
        return cls(response, readinto, int(length))

    @property
    def complete(self) -> bool:
        return self.filled >= self.size

    def fill_to(self, n: int) -> int:
        """Read until at least ``min(n, size)`` bytes have arrived; returns ``filled``.

        Raises :class:`BodyLost` when the connection ends or fails first, or was abandoned.
        One thread reads at a time (a decoder's reader thread, usually).
        """
        with self._reading:
            want = min(n, self.size)
            while self.filled < want:
                if self._abandoned:
                    self._close()
                    raise BodyLost(f"abandoned after {self.filled} of {self.size} bytes")
                stop = min(self.size, max(want, self.filled + STEP))
                try:
                    got = self._readinto(self._view[self.filled : stop])
                except (OSError, http.client.HTTPException, ValueError) as exc:
                    self._close()
                    raise BodyLost(f"{type(exc).__name__} after {self.filled} bytes") from exc
                if not got:
                    self._close()
                    raise BodyLost(
                        f"the connection closed after {self.filled} of {self.size} bytes"
                    )
                self.filled += got
            if self.complete:
                self._response.raw.release_conn()  # fully read: the connection can be reused
            return self.filled

    def fill(self) -> bytearray:
        """The whole body."""
        self.fill_to(self.size)
        return self.buffer

    def settle(self) -> bytes:
        """The whole body as bytes, also given to ``response.content``: for an answer that
        turned out not to need the buffer (it is read through the usual helpers then)."""
        body = bytes(self.fill())
        self._response._content = body
        self._response._content_consumed = True  # type: ignore[attr-defined]
        return body

    def abandon(self) -> None:
        """Close the connection: a half-read body cannot be followed by another request.

        From another thread while a read is under way, the reading thread closes it as soon
        as that read returns (closing a socket under a blocked read is not safe).
        """
        self._abandoned = True
        if self._reading.acquire(blocking=False):
            try:
                self._close()
            finally:
                self._reading.release()

    def _close(self) -> None:
        self._response.close()
