"""Every source's ``query`` and ``submit`` through the local result cache.

:class:`~thsources.sources.base.Source` wraps the ``query`` and ``submit`` each kind defines
(``__init_subclass__``), so a kind written without a thought for caching still honours
``max_age``: a stored result young enough comes back at once, with no request; a result
fetched with ``max_age > 0`` is stored; ``max_age=0`` never reads the cache, and refreshes an
entry that already exists for the same key so the cache keeps the newest answer.

A kind takes part by saying what tells its data apart (``cache_identity()``); the default,
None, keeps its results out. A call made while another is under way on the same thread (a
kind's ``query`` calling its own ``submit``) goes straight through: the outer call caches.
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..polling import check_timeout
from ..result import Result
from ..result_cache import (
    CacheKey,
    ResultCache,
    check_max_age,
    default_cache,
    make_key,
    results_dir,
)
from .base import DEFAULT_TIMEOUT, CompletedJob, Job

if TYPE_CHECKING:
    from ..polling import JobState
    from .base import Source

__all__ = ["cached_query", "cached_submit", "file_identity", "lookup", "stored"]

log = logging.getLogger(__name__)

_INSIDE: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "thsources_cache_inside", default=False
)


class _Plan:
    """One call's dealings with the cache: the key, the hit if any, whether to store."""

    def __init__(self, source: Source, query: Any, params: Any, max_age: float) -> None:
        self.source = source
        self.cache: ResultCache | None = None
        self.key: CacheKey | None = None
        self.hit: Result | None = None
        identity = source.cache_identity()
        if identity is None:
            return
        try:
            key = make_key({"kind": source.kind, **identity}, query, params)
        except TypeError:
            return  # a value with no stable form: the source reports it, or answers fresh
        if max_age <= 0 and not ResultCache(results_dir()).path_of(key.digest).exists():
            return  # max_age=0 adds nothing new (it only refreshes what is there): no more work
        cache = default_cache()
        if not cache.enabled:
            return
        self.cache, self.key = cache, key
        hit = cache.get(key, max_age)
        if hit is not None:
            extra = {**hit.meta.extra, "local_cache": True}
            self.hit = hit.with_meta(source=source.name, cached=True, extra=extra)

    def store(self, result: Result) -> None:
        if self.cache is None or self.key is None:
            return
        try:
            self.cache.put(self.key, result, kind=self.source.kind, source=self.source.name)
        except Exception:  # a cache that cannot be written must not fail the query
            log.warning("result cache: storing failed", exc_info=True)


def lookup(source: Source, query: Any, params: Any, max_age: Any) -> _Plan:
    """The cache's answer for a call (``plan.hit``), and the way to store the fresh one."""
    return _Plan(source, query, params, check_max_age(max_age))


class _StoringJob(Job):
    """A remote job whose result is stored once it arrives; everything else is the job's."""

    def __init__(self, job: Job, plan: _Plan) -> None:
        self.id = job.id
        self._job = job
        self._plan = plan
        self._stored = False

    @property
    def state(self) -> JobState:
        return self._job.state

    def result(self, timeout: float | None = None) -> Result:
        result = self._job.result(timeout)
        if not self._stored:
            self._stored = True
            self._plan.store(result)
        return result

    def cancel(self) -> None:
        self._job.cancel()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._job, name)

    def __repr__(self) -> str:
        return repr(self._job)


Method = Callable[..., Any]


def cached_query(method: Method) -> Method:
    """``query`` answered from the cache when it may be, and its fresh result stored."""

    @functools.wraps(method)
    def query(
        self: Source,
        sql: Any,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: Any = 0,
        timeout: float | None = None,
        **options: Any,
    ) -> Any:
        if _INSIDE.get():
            return method(self, sql, params, max_age=max_age, timeout=timeout, **options)
        check_timeout(timeout, DEFAULT_TIMEOUT)
        plan = lookup(self, sql, params, max_age)
        if plan.hit is not None:
            return plan.hit
        token = _INSIDE.set(True)
        try:
            result = method(self, sql, params, max_age=max_age, timeout=timeout, **options)
        finally:
            _INSIDE.reset(token)
        plan.store(result)
        return result

    return query


def cached_submit(method: Method) -> Method:
    """``submit`` handing back a done job on a hit, and a job that stores its result."""

    @functools.wraps(method)
    def submit(
        self: Source,
        sql: Any,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: Any = 0,
        timeout: float | None = None,
        **options: Any,
    ) -> Any:
        if _INSIDE.get():
            return method(self, sql, params, max_age=max_age, timeout=timeout, **options)
        check_timeout(timeout, DEFAULT_TIMEOUT)
        plan = lookup(self, sql, params, max_age)
        if plan.hit is not None:
            return CompletedJob(plan.hit, plan.hit.meta.job_id)
        token = _INSIDE.set(True)
        try:
            job = method(self, sql, params, max_age=max_age, timeout=timeout, **options)
        finally:
            _INSIDE.reset(token)
        if plan.cache is None:
            return job
        if isinstance(job, CompletedJob) and job.done():
            plan.store(job.result())
            return job
        return _StoringJob(job, plan)

    return submit


def file_identity(path: Path) -> dict[str, Any]:
    """A database file as a cache identity: its path, size and modification time, so a
    file rewritten since (a new pull, a rebuilt sample) answers afresh."""
    where = os.path.abspath(path)
    try:
        st = os.stat(where)
    except OSError:
        return {"path": where, "missing": True}
    return {"path": where, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def stored(
    source: Source, query: Any, params: Any, max_age: Any, run: Callable[[], Result]
) -> Result:
    """``run()`` through the cache, for calls that are not ``query``/``submit`` (a REST
    variant of a named query): a hit instead of running, the fresh result stored."""
    plan = lookup(source, query, params, max_age)
    if plan.hit is not None:
        return plan.hit
    result = run()
    plan.store(result)
    return result
