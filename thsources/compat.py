"""A drop-in for ``thclient`` (treeherder-client): same classes, constructors and method names.

Migrating is one line::

    from thclient import TreeherderClient, PerfherderClient            # before
    from thsources.compat import TreeherderClient, PerfherderClient    # after

The answers are the dicts and lists thclient returns, fetched through the ``treeherder``
source, which fixes thclient's pitfalls:

- ``get_jobs`` returns **every** matching job (thclient returns 10 unless given ``count``):
  the one intended change of behaviour. It reads ``/api/jobs/`` in id order, following its
  pages, instead of offset-paging the deprecated project endpoint, whose rows have no order
  (pages could overlap or skip jobs);
- ``get_pushes(count=None)`` or ``count > 1000`` pages backwards by timestamp instead of
  sending ``count=2000`` (HTTP 400 from Treeherder);
- requests are retried with backoff (connection errors, 5xx, ``Retry-After``) and paced.

Differences a caller may notice: errors are thsources exceptions (``thsources.NotFound``,
``thsources.ParameterError``, ``thsources.SourceUnavailable``..., all ``ThsourcesError``), not
``requests.HTTPError``; job dicts carry the keys of ``/api/jobs/`` (``id``, ``push_id`` and
its old name ``result_set_id``, ``job_type_name``, ``job_type_symbol``, ``job_group_name``,
``job_group_symbol``, ``platform``, ``platform_option``, ``result``, ``state``, ``tier``,
``task_id``, ``retry_id``, ``failure_classification_id``, ``signature``, ``last_modified``,
``push_revision``, ``duration`` in minutes), not the deprecated endpoint's ``job_guid``,
``*_timestamp``, ``machine_name`` and ``build_*``; jobs are selected by push (``push_id``,
``result_set_id``, ``push_id__in``) or job id, not restricted to ``project`` otherwise.
"""

from __future__ import annotations

from typing import Any, Final

from .errors import ParameterError
from .http import Timeouts
from .polling import Deadline
from .sources.treeherder import DEFAULT_URL, TreeherderSource

__all__ = [
    "PerfherderClient",
    "PerformanceSeries",
    "PerformanceSignatureCollection",
    "TreeherderClient",
]

_LEGACY_JOB_FILTERS: Final = {"result_set_id": "push_id", "result_set_id__in": "push_id__in"}


class TreeherderClient:
    """``thclient.TreeherderClient``: Treeherder's REST API as dicts and lists."""

    API_VERSION = "1.0"
    MAX_COUNT = 2000

    def __init__(
        self, server_url: str = DEFAULT_URL, timeout: float = 30, *, pace: float | None = None
    ) -> None:
        """``timeout`` bounds each request, as in thclient; ``pace`` (an addition) is the
        most requests per second (default 5; ``float("inf")`` for none)."""
        self.server_url = server_url
        self.timeout = timeout
        self._source = TreeherderSource(
            url=server_url, timeouts=Timeouts(connect=timeout, read=timeout), pace=pace
        )

    def _deadline(self) -> Deadline:
        return Deadline(self._source.default_timeout)

    def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._source.get_json(path, params or {}, self._deadline())

    def get_repositories(self) -> list[dict[str, Any]]:
        """The active repositories."""
        result: list[dict[str, Any]] = self._get("/api/repository/")
        return result

    def get_option_collection_hash(self) -> dict[str, list[dict[str, str]]]:
        """Option collection hash -> its options (``[{"name": "debug"}, ...]``)."""
        body = self._get("/api/optioncollectionhash/")
        return {item["option_collection_hash"]: item["options"] for item in body}

    def get_failure_classifications(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/api/failureclassification/")
        return result

    def get_pushes(self, project: str, **params: Any) -> list[dict[str, Any]]:
        """Pushes newest first: ``count`` of them (default 10; None: every match, paged)."""
        count = params.pop("count", 10)
        if count is not None:
            count = int(count)
        return self._source.push_dicts(project, count, deadline=self._deadline(), **params)

    def get_jobs(self, project: str, **params: Any) -> list[dict[str, Any]]:
        """Every matching job, in id order (``count``/``offset`` slice that list)."""
        count = params.pop("count", None)
        offset = int(params.pop("offset", 0) or 0)
        filters = {_LEGACY_JOB_FILTERS.get(k, k): v for k, v in params.items()}
        limit = None if count is None else offset + int(count)
        jobs = self._source.job_dicts(limit=limit, deadline=self._deadline(), **filters)
        for job in jobs:
            job.setdefault("result_set_id", job.get("push_id"))
        return jobs[offset:]

    def get_job_log_url(self, project: str, **params: Any) -> list[dict[str, Any]]:
        """Logs of the jobs in ``job_id`` (one id or a list)."""
        ids = params.pop("job_id", None)
        if ids is None:
            raise ParameterError("get_job_log_url needs job_id=<id or list of ids>")
        if params:
            raise ParameterError(f"get_job_log_url takes only job_id, not {sorted(params)}")
        job_ids = [ids] if isinstance(ids, int | str) else list(ids)
        result = self._source.job_log_urls(project, [int(i) for i in job_ids])
        return result.records()


class PerformanceSignatureCollection(dict[str, dict[str, Any]]):
    """Signatures keyed by id, with thclient's helpers."""

    def filter(self, *args: tuple[str, Any]) -> PerformanceSignatureCollection:
        """Signatures whose property ``name`` equals ``value`` for every ``(name, value)``."""
        return PerformanceSignatureCollection(
            (key, sig) for key, sig in self.items() if all(sig.get(n) == v for n, v in args)
        )

    def get_signature_hashes(self) -> list[str]:
        return [sig["signature_hash"] for sig in self.values()]

    def get_property_names(self) -> set[str]:
        return {name for sig in self.values() for name in sig}

    def get_property_values(self, property_name: str) -> set[Any]:
        values: set[Any] = set()
        for sig in self.values():
            value = sig.get(property_name)
            if isinstance(value, list):
                values.update(value)
            elif value is not None:
                values.add(value)
        return values


class PerformanceSeries(list[dict[str, Any]]):
    """Data points of one signature; ``series["value"]`` is the list of one property."""

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return [point.get(key) for point in self]
        return super().__getitem__(key)


class PerfherderClient(TreeherderClient):
    """``thclient.PerfherderClient``: performance signatures and data."""

    def get_performance_signatures(
        self, project: str, **params: Any
    ) -> PerformanceSignatureCollection:
        body = self._get(f"/api/project/{project}/performance/signatures/", params)
        return PerformanceSignatureCollection(body)

    def get_performance_data(self, project: str, **params: Any) -> dict[str, PerformanceSeries]:
        body = self._get(f"/api/project/{project}/performance/data/", params)
        return {key: PerformanceSeries(points) for key, points in body.items()}

    def get_performance_frameworks(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._get("/api/performance/framework/")
        return result
