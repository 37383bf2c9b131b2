"""Decoding a Redash result while it downloads: the fast path of :mod:`thsources.jsonrows`,
fed by the socket instead of by a finished body.

A real Redash server produces a result whole before sending its first byte, so what a client
controls is everything after that: reading the body, parsing it, typing it. Done one after
the other, the end-to-end time is the download plus the decode. Here Arrow's parser starts on
the first rows while the rest is still arriving, and the body is read once, straight from the
socket into one buffer (:class:`thsources.httpbody.Incoming`).

The answer is exactly :func:`~thsources.jsonrows.decode_query_result`'s on the complete body:
the columns and the rows' start are read from the first bytes, and once the body is complete
everything taken from the prefix is checked against the whole (where the rows array ends,
the column list, that no separator was judged on bytes past the rows' end). Anything this
path cannot vouch for (untyped or json columns, no ``rows`` key early in the body, a parse
error, a failed check) hands the complete body to ``decode_query_result``, whose own fast
path or fallback then answers as always.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

import orjson

from . import jsonrows as _jr
from .errors import ProtocolError
from .jsonrows import (
    _WS,
    REDASH_ROWS_PATH,
    STATS,
    ColumnSpec,
    _checked_table,
    _Fallback,
    _has_redash_columns,
    _parse_type,
    _read_ndjson,
    _redash_columns,
    _result,
    _row_separators,
    decode_query_result,
    locate_array,
)
from .result import Result

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt
    import pyarrow as pa

__all__ = ["STREAM_STATS", "Growing", "StreamStats", "decode_query_result_incoming"]

LOOKAHEAD: Final = 2 * _jr._MAX_WS_RUN + 8
"""Bytes past a chunk that deciding its separators may look at (``_row_separators``)."""
_SLICE: Final = 0.1
"""Seconds between checks for Ctrl-C while the rows are parsed."""
_PREFIX_STEP: Final = 64 << 10
_MAX_PREFIX: Final = 4 << 20
"""The ``rows`` key must appear within this many bytes, else the complete body is decoded."""
_ROWS_KEY: Final = re.compile(
    re.escape(orjson.dumps(REDASH_ROWS_PATH[-1])) + rb"[ \t\n\r]*:[ \t\n\r]*\["
)
_COLUMNS_KEY: Final = re.compile(rb'"columns"[ \t\n\r]*:[ \t\n\r]*\[')


@dataclass
class StreamStats:
    """How many bodies were parsed while arriving, how many whole, and why the last one was."""

    streamed: int = 0
    whole: int = 0
    last_reason: str = ""

    def _record(self, reason: str | None) -> None:
        if reason is None:
            self.streamed += 1
            self.last_reason = ""
        else:
            self.whole += 1
            self.last_reason = reason


STREAM_STATS: Final = StreamStats()
"""Process-wide counters (tests and benchmarks read them)."""


class Growing(Protocol):
    """A body arriving into ``buffer`` (``size`` bytes once complete, ``filled`` so far)."""

    buffer: bytearray
    size: int
    filled: int

    def fill_to(self, n: int) -> int: ...

    def fill(self) -> bytearray: ...

    def abandon(self) -> None: ...


def decode_query_result_incoming(incoming: Growing) -> tuple[dict[str, Any], Result]:
    """``decode_query_result`` of the complete body, parsing rows while the rest arrives.

    A transport failure part-way propagates from ``incoming.fill_to`` as it raised it.
    """
    try:
        envelope, columns, table = _stream_fast(incoming)
    except _Fallback as why:
        STREAM_STATS._record(str(why))
        return decode_query_result(_as_bytes(incoming.fill()))
    STREAM_STATS._record(None)
    STATS._record("fast")
    qr = envelope["query_result"]
    del qr["data"]["rows"]
    return qr, _result(table, columns, qr)


def _as_bytes(buf: bytearray) -> bytes:
    """The buffer for functions typed ``bytes``: they only index, slice, search and hand it to
    orjson/numpy, which read a bytearray alike; copying 70 MB to please the checker would not."""
    return cast(bytes, buf)


def _stream_fast(incoming: Growing) -> tuple[Any, list[ColumnSpec], pa.Table]:
    """The fast path's answer, parsed as the body arrives; ``_Fallback`` says why not."""
    import pyarrow as pa

    buf = incoming.buffer
    start = _rows_start(incoming)
    columns = _prefix_columns(buf, start)
    names = [n for n, _ in columns]
    i = start + 1
    while incoming.fill_to(i + 1) > i and buf[i] in _WS:
        i += 1
    if i >= incoming.size or buf[i] != 0x7B:
        raise _Fallback("rows: not an array of objects")
    if incoming.size - i < _jr._MIN_FAST_BYTES:
        raise _Fallback(f"small: a body of {incoming.size} bytes")
    schema = pa.schema([pa.field(n, _parse_type(t or "")) for n, t in columns])
    least = (incoming.size - i) // (4 * pa.cpu_count()) + 1
    chunk = min(_jr._MAX_CHUNK, max(_jr._MIN_CHUNK, least))
    stream = _GrowingNDJSON(incoming, start, i, chunk)
    try:
        table = _parse_on_worker(stream, schema, chunk)
    except _Fallback as exc:
        if stream.error is not None:
            raise stream.error from None
        raise _Fallback(stream.fallback or str(exc)) from None
    if stream.error is not None:
        raise stream.error
    if stream.fallback:
        raise _Fallback(stream.fallback)
    envelope = stream.verify(columns)
    return envelope, columns, _checked_table(table, stream.separators, stream.ascii, columns, names)


def _parse_on_worker(stream: _GrowingNDJSON, schema: pa.Schema, chunk: int) -> pa.Table:
    """Arrow's reader on a worker thread while this one waits in short slices.

    Arrow's C++ does not see Python signals, and the download runs inside it: on the
    caller's thread Ctrl-C would wait for the last byte. Here ``KeyboardInterrupt`` stops the
    stream (its next read ends it and drops the connection) and propagates at once.
    """
    outcome: list[Any] = []
    done = threading.Event()

    def work() -> None:
        try:
            outcome.append(_read_ndjson(stream, schema, chunk))
        except BaseException as exc:  # handed to the waiting thread
            outcome.append(exc)
        finally:
            done.set()

    threading.Thread(target=work, name="thsources-json-stream", daemon=True).start()
    try:
        while not done.wait(_SLICE):
            pass
    except BaseException:
        stream.stop()
        raise
    if isinstance(outcome[0], BaseException):
        raise outcome[0]
    table: pa.Table = outcome[0]
    return table


def _rows_start(incoming: Growing) -> int:
    """Where the rows array's ``[`` is, read from as few first bytes as possible."""
    n = 0
    while True:
        n = incoming.fill_to(n + _PREFIX_STEP)
        match = _ROWS_KEY.search(incoming.buffer, 0, n)
        if match is not None:
            return match.end() - 1
        if n >= incoming.size or n >= _MAX_PREFIX:
            raise _Fallback(f"prefix: no rows key in the first {n} bytes")


def _prefix_columns(buf: bytearray, start: int) -> list[ColumnSpec]:
    """``data.columns`` when it precedes the rows (as Redash writes it), all typed."""
    match = _COLUMNS_KEY.search(buf, 0, start)
    if match is None:
        raise _Fallback("prefix: no columns before the rows")
    first = match.end() - 1
    k = first
    for _ in range(_jr._MAX_END_TRIES):
        k = buf.find(b"]", k + 1, start)
        if k < 0:
            break
        try:
            raw = orjson.loads(memoryview(buf)[first : k + 1])
        except orjson.JSONDecodeError:
            continue
        try:
            columns = _redash_columns(raw)
        except ProtocolError as exc:
            raise _Fallback(f"prefix: {exc.message}") from None
        names = [n for n, _ in columns]
        if len(set(names)) != len(names):
            raise _Fallback("columns: duplicate names")
        if any(t in (None, "json") for _, t in columns):
            raise _Fallback("prefix: an untyped or json column")
        return columns
    raise _Fallback("prefix: the columns array could not be read")


class _GrowingNDJSON:
    """``jsonrows._NDJSONStream`` over a body still arriving (each chunk a copy in which the
    row-separating commas read as newlines, as there).

    Until the body is complete a chunk ends at the last separator found at least
    ``LOOKAHEAD`` bytes before what has arrived; once complete, where the rows end is known
    (``locate_array`` on the whole body) and the rest is cut as the finished-body path does.
    """

    closed = False

    def __init__(self, incoming: Growing, start: int, i: int, chunk: int) -> None:
        import numpy as np

        self._incoming = incoming
        self._buffer = incoming.buffer
        self._mv = memoryview(incoming.buffer)
        self._view: npt.NDArray[np.uint8] = np.frombuffer(incoming.buffer, dtype=np.uint8)
        self._start = start
        self._i = i
        self._pos = i
        self._chunk = chunk
        self._end: int | None = None  # the rows' end, once the body is complete
        self._envelope: Any = None
        self._max_hi = 0  # the furthest chunk end judged before the body was complete
        self.separators = 0
        self.ascii = True
        self.error: BaseException | None = None
        self.fallback = ""

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    def stop(self) -> None:
        """End the stream at its next read and drop the connection (the caller gave up)."""
        self.error = self.error or KeyboardInterrupt()
        self._incoming.abandon()

    def read(self, size: int = -1) -> bytearray:
        if self.error is not None or self.fallback:
            return bytearray()
        try:
            return self._next()
        except _Fallback as exc:
            self.fallback = str(exc)
        except BaseException as exc:  # BodyLost, Ctrl-C: the caller's thread raises it
            self.error = exc
        return bytearray()

    def _next(self) -> bytearray:
        pos, chunk, view = self._pos, self._chunk, self._view
        if self._end is None:
            hi = pos + chunk
            filled = self._incoming.fill_to(hi + LOOKAHEAD)
            while filled < self._incoming.size:
                commas = _row_separators(view, pos, hi, filled)
                if len(commas):
                    self._max_hi = max(self._max_hi, hi)
                    return self._emit(pos, int(commas[-1]) + 1, commas)
                hi += chunk  # a row longer than a chunk: extend
                filled = self._incoming.fill_to(hi + LOOKAHEAD)
            self._complete()
        end = self._end
        assert end is not None
        if pos >= end:
            return bytearray()
        hi = min(pos + chunk, end)
        while True:
            commas = _row_separators(view, pos, hi, end)
            if hi >= end or len(commas):
                break
            hi = min(hi + chunk, end)
        return self._emit(pos, end if hi >= end else int(commas[-1]) + 1, commas)

    def _emit(self, pos: int, stop: int, commas: npt.NDArray[np.intp]) -> bytearray:
        import numpy as np

        out = bytearray(self._mv[pos:stop])
        np.frombuffer(out, dtype=np.uint8)[commas - pos] = 0x0A
        self.separators += len(commas)
        if self.ascii and not out.isascii():
            self.ascii = False
        self._pos = stop
        return out

    def _complete(self) -> None:
        """The body is all here: find where the rows end, as the finished-body path does."""
        located = locate_array(_as_bytes(self._buffer), REDASH_ROWS_PATH, check=_has_redash_columns)
        if located is None or located[1][0] != self._start:
            raise _Fallback("stream: the rows are not where the prefix said")
        self._envelope, (_, end) = located
        j = end - 1
        while j > self._i and self._buffer[j - 1] in _WS:
            j -= 1
        if self._buffer[j - 1] != 0x7D or j - self._i < _jr._MIN_FAST_BYTES:
            raise _Fallback("stream: rows end unlike the finished-body path's")
        if self._max_hi + LOOKAHEAD > j or self._pos > j:
            raise _Fallback("stream: a separator was judged past the rows' end")
        self._end = j

    def verify(self, columns: Sequence[ColumnSpec]) -> Any:
        """The envelope, once every chunk was cut as the finished-body path cuts them."""
        if self._end is None or self._pos != self._end:
            raise _Fallback("stream: the parser stopped before the rows' end")
        qr = self._envelope["query_result"]
        if _redash_columns(qr["data"]["columns"]) != list(columns):
            raise _Fallback("stream: data.columns differs from the one read first")
        return self._envelope
