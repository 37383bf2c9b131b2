"""How Treeherder's endpoints are paged, as generators over a ``fetch(path, params)`` function.

Each endpoint pages differently, and each has a way to lose or repeat rows when done naively:

- ``/api/project/{repo}/push/`` has **no offset**, returns at most 1000 pushes, newest first,
  ordered by time only. Paging walks backwards with ``push_timestamp__lte`` set to the oldest
  timestamp seen, and drops pushes already seen: timestamps tie (``__lt`` would skip the rest
  of a tie), and ids are not in time order (``id__lt`` would skip or repeat pushes).
- ``/api/jobs/``, ``/api/performance/alertsummary/`` and ``/api/performance/alert/`` give a
  ``next`` link (page number or cursor); following it is the only correct way. Only its query
  string is used, against our own base URL, since a server behind a proxy may build ``next``
  with its internal host or scheme.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from ..errors import ProtocolError

__all__ = ["MAX_PUSH_COUNT", "Fetch", "follow_next", "pushes_backwards"]

MAX_PUSH_COUNT: Final = 1000
"""The push endpoint's largest ``count``; above it the server answers HTTP 400."""

Params = Mapping[str, Any]
Fetch = Callable[[str, Params], Any]


def pushes_backwards(
    fetch: Fetch,
    path: str,
    params: Params,
    count: int | None,
    *,
    source: str | None = None,
    page_size: int = MAX_PUSH_COUNT,
) -> Iterator[dict[str, Any]]:
    """Pushes newest first, up to ``count`` (None: all that match ``params``), each once.

    ``page_size`` (at most :data:`MAX_PUSH_COUNT`) is the most asked for in one request.

    A caller's own ``push_timestamp__lte``/``__lt`` bound is kept: the walk only ever
    tightens it.
    """
    seen: set[int] = set()
    delivered = 0
    bound: float | None = None
    tied = 0  # pushes seen at the boundary timestamp: they come back on the next page
    while count is None or delivered < count:
        # Ask for what is still wanted plus the pushes that will come back, within the limit.
        want = page_size if count is None else min(page_size, count - delivered + tied)
        query = dict(params)
        query["count"] = want
        if bound is not None:
            query["push_timestamp__lte"] = _tighter(params.get("push_timestamp__lte"), bound)
        body = fetch(path, query)
        results = _results(body, path, source)
        new = 0
        for push in results:
            pid = push.get("id")
            if not isinstance(pid, int) or isinstance(pid, bool):
                raise ProtocolError(f"a push without an integer id from {path}", source=source)
            if pid in seen:
                continue
            seen.add(pid)
            new += 1
            yield push
            delivered += 1
            if count is not None and delivered >= count:
                return
        if len(results) < want:
            return  # the server had no more
        if new == 0:
            raise ProtocolError(
                f"{page_size} or more pushes share the timestamp {bound}: they cannot "
                "all be fetched by timestamp; narrow the query with id__lt or dates",
                source=source,
            )
        oldest = min(_stamp(p, path, source) for p in results)
        tied = sum(1 for p in results if _stamp(p, path, source) == oldest)
        bound = oldest


def _tighter(user: Any, bound: float) -> float:
    if user is None:
        return bound
    try:
        return min(float(user), bound)
    except (TypeError, ValueError):
        return bound


def _stamp(push: Mapping[str, Any], path: str, source: str | None) -> float:
    value = push.get("push_timestamp")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProtocolError(f"a push without a numeric push_timestamp from {path}", source=source)
    return float(value)


def _results(body: Any, path: str, source: str | None) -> list[dict[str, Any]]:
    results = body.get("results") if isinstance(body, dict) else None
    if not isinstance(results, list):
        raise ProtocolError(f"the answer from {path} has no 'results' list", source=source)
    return results


def follow_next(
    fetch: Fetch, path: str, params: Params, *, source: str | None = None
) -> Iterator[dict[str, Any]]:
    """Each page's body, following ``next`` until it is null.

    A ``next`` link that points back to a page already fetched would loop forever on a
    misbehaving server; it raises :class:`ProtocolError` instead.
    """
    query: dict[str, Any] = dict(params)
    seen: set[tuple[tuple[str, str], ...]] = set()
    while True:
        key = tuple(sorted((k, str(v)) for k, v in query.items()))
        if key in seen:
            raise ProtocolError(f"{path} sent a 'next' link to a page already read", source=source)
        seen.add(key)
        body = fetch(path, query)
        _results(body, path, source)
        yield body
        nxt = body.get("next")
        if not nxt:
            return
        if not isinstance(nxt, str):
            raise ProtocolError(f"{path} sent a 'next' that is not a URL: {nxt!r}", source=source)
        query = dict(parse_qsl(urlsplit(nxt).query, keep_blank_values=True))
