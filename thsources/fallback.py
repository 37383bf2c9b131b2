"""A list profile as one source: each call goes to the first listed source that answers.

``[profiles.anywhere] sources = ["stmo", "treeherder", "local"]`` makes ``connect("anywhere")``
a :class:`Fallback`. A call moves on to the next source when one is unreachable or cannot
run it (``SourceUnavailable``, ``AuthenticationError``, ``PermissionDenied``,
``ProtocolError``, ``UnsupportedQuery`` — a named query without a variant for its dialect —
or a ``ConfigError`` while connecting it, such as an unset key variable). Errors that are
the query's own fault (``ParameterError``, ``QueryError`` and its timeout, ``NotFound``)
are raised at once: another source would only fail the same way, later.

The composition lives here, above the sources: members are connected through factories the
public API hands in, so no source module imports another.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, TypeVar

from .errors import (
    AuthenticationError,
    ConfigError,
    PermissionDenied,
    ProtocolError,
    QueryTimeout,
    SourceUnavailable,
    ThsourcesError,
    UnsupportedQuery,
)
from .polling import Deadline, check_timeout
from .result import Result
from .sources.base import DEFAULT_TIMEOUT, Job, Source

__all__ = ["FALLS_THROUGH", "Fallback"]

T = TypeVar("T")

FALLS_THROUGH: Final = (
    SourceUnavailable,
    AuthenticationError,
    PermissionDenied,
    ProtocolError,
    UnsupportedQuery,
)
"""What a source raises when it is unreachable or cannot run a query: try the next one."""


class Fallback(Source):
    """The sources of a list profile, tried in order; ``meta.source`` names the one that
    answered and ``meta.extra["skipped"]`` why the ones before it did not (``{}`` when the
    first answered)."""

    kind = "fallback"
    dialect = "fallback"

    def __init__(self, name: str, members: Sequence[tuple[str, Callable[[], Source]]]) -> None:
        super().__init__(name)
        if not members:
            raise ConfigError(f"profile {name!r} lists no sources")
        self._factories = list(members)
        self._connected: dict[str, Source] = {}
        self._lock = threading.Lock()

    @property
    def members(self) -> list[str]:
        return [name for name, _ in self._factories]

    def _member(self, name: str, factory: Callable[[], Source]) -> Source:
        with self._lock:
            if name not in self._connected:
                self._connected[name] = factory()
            return self._connected[name]

    def first_answer(
        self, attempt: Callable[[Source, float], T], *, timeout: float | None = None
    ) -> T:
        """``attempt(source, seconds_left)`` on each member until one answers.

        The deadline is shared: a member that was slow to fail leaves the next one less.
        """
        deadline = Deadline(check_timeout(timeout, DEFAULT_TIMEOUT))
        skipped: dict[str, str] = {}
        failures: list[ThsourcesError] = []
        for name, factory in self._factories:
            try:
                source = self._member(name, factory)
            except ConfigError as exc:  # unset key variable, missing package: cannot run it
                skipped[name] = _one_line(exc)
                failures.append(exc)
                continue
            if deadline.expired:
                break
            try:
                answer = attempt(source, deadline.remaining())
            except FALLS_THROUGH as exc:
                skipped[name] = _one_line(exc)
                failures.append(exc)
                continue
            if isinstance(answer, Result):  # "skipped" is there, empty or not
                extra = {**answer.meta.extra, "skipped": dict(skipped)}
                meta = dataclasses.replace(answer.meta, extra=extra)
                return Result(answer.columns, answer.to_arrow(), meta)  # type: ignore[return-value]
            return answer
        reasons = "; ".join(f"{name}: {why}" for name, why in skipped.items())
        if len(skipped) < len(self._factories):  # the deadline ended the search
            raise QueryTimeout(
                f"the timeout passed before a source of profile {self.name!r} answered ({reasons})",
                source=self.name,
            )
        error = (
            UnsupportedQuery
            if all(isinstance(e, UnsupportedQuery) for e in failures)
            else (SourceUnavailable)
        )
        raise error(
            f"no source of profile {self.name!r} could answer ({reasons})", source=self.name
        )

    # -- the Source contract, each call on the first member that answers ---------------------

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        return self.first_answer(
            lambda src, left: src.submit(sql, params, max_age=max_age, timeout=left),
            timeout=timeout,
        )

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Result:
        return self.first_answer(
            lambda src, left: src.query(sql, params, max_age=max_age, timeout=left),
            timeout=timeout,
        )

    def tables(self) -> Result:
        return self.first_answer(lambda src, _left: src.tables())

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "sources": self.members}

    def close(self) -> None:
        with self._lock:
            connected, self._connected = list(self._connected.values()), {}
        for source in connected:
            source.close()


def _one_line(exc: BaseException) -> str:
    text = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
    return f"{type(exc).__name__}: {text}"
