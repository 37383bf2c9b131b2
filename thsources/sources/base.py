"""What every source is: a small, verb-shaped contract and a registry of kinds.

A source runs SQL (or its own query language) and returns a :class:`~thsources.result.Result`.
``submit`` hands back a :class:`Job`; synchronous sources return one that is already done,
so callers never need to know which kind answered. A job that runs on in the background
announces itself (``job_started``) to whoever ``watch_jobs`` on that thread: ``run_many``.
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Final, TypeVar

from ..errors import ConfigError, QueryCancelled, UnsupportedQuery
from ..polling import Deadline, JobState, check_timeout
from ..result import Result

__all__ = [
    "DEFAULT_TIMEOUT",
    "CompletedJob",
    "Job",
    "JobState",
    "Source",
    "job_started",
    "known_kinds",
    "register",
    "source_class",
    "watch_jobs",
]

DEFAULT_TIMEOUT: Final = 600.0
"""Seconds a query may take when the caller gives no ``timeout``."""

# Kinds shipped with the package, imported on first use so that `import thsources` stays light.
_BUILTIN: Final[dict[str, str]] = {
    "activedata": "thsources.sources.activedata",
    "history": "thsources.sources.history",
    "local": "thsources.sources.local",
    "redash": "thsources.sources.redash",
    "treeherder": "thsources.sources.treeherder",
    "sql": "thsources.sources.sql",
}
_REGISTRY: dict[str, type[Source]] = {}
_LOCK = threading.Lock()

S = TypeVar("S", bound="type[Source]")


class Job(ABC):
    """A handle on a query that may still be running somewhere."""

    id: str | None = None

    @property
    @abstractmethod
    def state(self) -> JobState:
        """The job's state, asking the source if needed."""

    @abstractmethod
    def result(self, timeout: float | None = None) -> Result:
        """Wait (up to ``timeout`` s, cancelling the remote job when it passes) and return."""

    @abstractmethod
    def cancel(self) -> None:
        """Cancel the job where the source and credentials allow; later ``result`` raises."""

    def done(self) -> bool:
        return self.state.finished


class CompletedJob(Job):
    """The job of a synchronous source: the result is already there."""

    def __init__(self, result: Result, job_id: str | None = None) -> None:
        self.id = job_id
        self._result = result
        self._cancelled = False

    @property
    def state(self) -> JobState:
        return JobState.CANCELLED if self._cancelled else JobState.DONE

    def result(self, timeout: float | None = None) -> Result:
        check_timeout(timeout, DEFAULT_TIMEOUT)  # nothing to wait for, but refused alike
        if self._cancelled:
            raise QueryCancelled("the job was cancelled", source=self._result.meta.source)
        return self._result

    def cancel(self) -> None:
        self._cancelled = True


_JOB_WATCHER: contextvars.ContextVar[Callable[[Job], None] | None] = contextvars.ContextVar(
    "thsources_job_watcher", default=None
)


@contextlib.contextmanager
def watch_jobs(watcher: Callable[[Job], None]) -> Iterator[None]:
    """Tell ``watcher`` of each job a source starts in this context (on this thread), even
    inside a ``query`` or a named query: how ``run_many`` reaches a running statement to
    ``cancel()`` it."""
    token = _JOB_WATCHER.set(watcher)
    try:
        yield
    finally:
        _JOB_WATCHER.reset(token)


def job_started(job: Job) -> None:
    """Called by a job that runs on in the background once it has started (see watch_jobs)."""
    watcher = _JOB_WATCHER.get()
    if watcher is not None:
        watcher(job)


class Source(ABC):
    """A place Treeherder data can be queried. Thread-safe; a context manager."""

    kind: ClassVar[str]
    dialect: str = "postgresql"
    """The SQL dialect parameters are bound in."""

    def __init__(self, name: str | None = None) -> None:
        self.name = name or self.kind

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Route the ``query``/``submit`` a kind defines through the local result cache
        (``max_age``; see sources/caching.py), so every kind honours it alike."""
        super().__init_subclass__(**kwargs)
        from .caching import cached_query, cached_submit

        for name, wrap in (("query", cached_query), ("submit", cached_submit)):
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "_thsources_cached", False):
                wrapped = wrap(method)
                wrapped._thsources_cached = True  # type: ignore[attr-defined]
                setattr(cls, name, wrapped)

    def cache_identity(self) -> Mapping[str, Any] | None:
        """What tells this source's data apart from another's, for the result cache: the
        server or file and the data source, never a secret. None keeps results uncached."""
        return None

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        """Options this kind accepts from a profile, the environment or keywords."""
        return ()

    @classmethod
    def secret_options(cls) -> tuple[str, ...]:
        """Options whose values are secrets: masked wherever they are shown."""
        return ()

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, Any]) -> Source:
        return cls(name=name, **options)

    # -- running queries ----------------------------------------------------------------------

    @abstractmethod
    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        """Start a query and return its handle."""

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Result:
        """Run a query to the end (or ``timeout`` s; ``inf`` for no limit) and return its result.

        ``timeout`` goes through :func:`~thsources.polling.check_timeout` first, so 0,
        negative numbers and NaN are a ``ParameterError`` on every source.
        """
        deadline = Deadline(check_timeout(timeout, DEFAULT_TIMEOUT))
        job = self.submit(sql, params, max_age=max_age, timeout=deadline.timeout)
        if isinstance(job, CompletedJob):
            # Already answered within the deadline: no time left must not refuse its result.
            return job.result()
        return job.result(deadline.remaining())

    def tables(self) -> Result:
        """The schema: one row per column, ``table_name``, ``column_name``, ``data_type``
        (strings), ordered by table and column position. Sources without a listing raise
        ``UnsupportedQuery``."""
        raise UnsupportedQuery(
            f"source {self.name!r} ({self.kind}) has no schema listing", source=self.name
        )

    def describe(self) -> dict[str, Any]:
        """What this source is, for listings: no secrets."""
        return {"name": self.name, "kind": self.kind}

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release connections."""

    def __enter__(self: Any) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


def register(kind: str) -> Callable[[S], S]:
    """Class decorator: make a source class available to ``connect(kind)``."""

    def deco(cls: S) -> S:
        cls.kind = kind
        with _LOCK:
            _REGISTRY[kind] = cls
        return cls

    return deco


def known_kinds() -> list[str]:
    return sorted(set(_BUILTIN) | set(_REGISTRY))


def source_class(kind: str) -> type[Source]:
    """The class registered for ``kind``, importing built-in kinds on first use."""
    if kind not in _REGISTRY and kind in _BUILTIN:
        importlib.import_module(_BUILTIN[kind])
    try:
        return _REGISTRY[kind]
    except KeyError:
        raise ConfigError(
            f"unknown source kind {kind!r}; known kinds are {', '.join(known_kinds())}"
        ) from None
