"""The Treeherder REST API as a source: entity methods returning typed Results.

Treeherder's REST API answers no SQL, so :meth:`TreeherderSource.query` raises
:class:`UnsupportedQuery`; data comes from entity methods (``pushes``, ``jobs``,
``failures``, ``performance_data``, ``alert_summaries``...) and from named queries whose
``rest.toml`` variant maps them to those methods. What it does better than ``thclient``:

- every request sends ``User-Agent: thsources/<version> ...`` (Treeherder answers 403 to
  ``python-requests/...``) and ``Accept: application/json; version=1.0``;
- each endpoint is paged its own correct way (``treeherder_paging``): pushes backwards by
  timestamp without losing tied pushes, jobs through ``/api/jobs/`` and its ``next`` links
  (ordered by id) rather than offsets over an unordered query, and all jobs, not 10;
- connection errors and 5xx are retried with backoff, honouring ``Retry-After``; requests are
  paced (``pace`` per second); one deadline (``timeout``) covers every page of a call;
- API errors are logged on the ``thsources.treeherder`` logger and raised as the documented
  exceptions with the server's message; DEBUG logging shows every request and its status.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote, urlsplit

import orjson
import requests

from ..errors import (
    ConfigError,
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    QueryTimeout,
    SourceError,
    ThsourcesError,
    UnsupportedQuery,
)
from ..http import DEFAULT_RETRY, HttpSession, RetryPolicy, Timeouts, user_agent
from ..polling import Deadline
from ..result import Column, Result, ResultMeta
from .base import DEFAULT_TIMEOUT, Job, Source, register
from .treeherder_paging import MAX_PUSH_COUNT, follow_next, pushes_backwards

__all__ = [
    "ALERT_COLUMNS",
    "ALERT_SUMMARY_COLUMNS",
    "DEFAULT_PACE",
    "DEFAULT_URL",
    "JOB_COLUMNS",
    "JOB_FILTERS",
    "PUSH_COLUMNS",
    "TreeherderSource",
]

log = logging.getLogger("thsources.treeherder")

DEFAULT_URL: Final = "https://treeherder.mozilla.org"
STAGE_URL: Final = "https://treeherder.allizom.org"
DEFAULT_PACE: Final = 5.0
"""Requests per second at most: polite to a service without throttling, fast enough to page."""
API_VERSIONS: Final = ("1.0", "1.1")
#: The largest page each paged endpoint gives (also the default): larger asks are refused (push)
#: or clamped (jobs, alert summaries). ``page_sizes=`` lowers them, e.g. to test paging.
PAGE_SIZES: Final = {"push": MAX_PUSH_COUNT, "jobs": 2000, "alertsummary": 100}
#: Statuses retried: overload, gateway failures, and 500 (Treeherder's database hiccups).
RETRY_STATUSES: Final = frozenset({429, 500, 502, 503, 504})

#: Filters ``/api/jobs/`` understands (django-filter ``JobFilter``); lookups go after ``__``.
JOB_FILTERS: Final = frozenset(
    {
        "id",
        "push_id",
        "task_id",
        "retry_id",
        "job_guid",
        "job_type_name",
        "job_type_symbol",
        "job_group_name",
        "job_group_symbol",
        "platform",
        "build_platform",
        "machine_name",
        "result",
        "state",
        "tier",
        "failure_classification_id",
        "who",
        "last_modified",
        "submit_time",
        "start_time",
        "end_time",
    }
)
_LOOKUPS: Final = frozenset({"", "in", "lt", "lte", "gt", "gte"})


def _cols(spec: str) -> tuple[Column, ...]:
    return tuple(Column(*item.split(":")) for item in spec.split())  # type: ignore[arg-type]


REPOSITORY_COLUMNS: Final = _cols(
    "id:integer name:string repository_group:string dvcs_type:string url:string "
    "branch:string codebase:string description:string active_status:string "
    "life_cycle_order:integer performance_alerts_enabled:boolean "
    "expire_performance_data:boolean is_try_repo:boolean tc_root_url:string"
)
PUSH_COLUMNS: Final = _cols(
    "push_id:integer revision:string author:string push_time:datetime "
    "revision_count:integer repository_id:integer revisions:json"
)
JOB_COLUMNS: Final = _cols(
    "job_id:integer push_id:integer push_revision:string task_id:string retry_id:integer "
    "label:string job_symbol:string group_name:string group_symbol:string platform:string "
    "platform_option:string result:string state:string tier:integer "
    "failure_classification_id:integer signature:string last_modified:datetime duration_s:float"
)
# job_property_names -> our column (None: computed)
_JOB_FIELDS: Final = {
    "job_id": "id",
    "push_id": "push_id",
    "push_revision": "push_revision",
    "task_id": "task_id",
    "retry_id": "retry_id",
    "label": "job_type_name",
    "job_symbol": "job_type_symbol",
    "group_name": "job_group_name",
    "group_symbol": "job_group_symbol",
    "platform": "platform",
    "platform_option": "platform_option",
    "result": "result",
    "state": "state",
    "tier": "tier",
    "failure_classification_id": "failure_classification_id",
    "signature": "signature",
    "last_modified": "last_modified",
}
JOB_LOG_COLUMNS: Final = _cols(
    "id:integer job_id:integer name:string url:string parse_status:string"
)
FAILURE_COLUMNS: Final = _cols("bug_id:integer bug_count:integer")
FAILURE_BY_BUG_COLUMNS: Final = _cols(
    "push_time:datetime platform:string revision:string test_suite:string tree:string "
    "build_type:string job_id:integer bug_id:integer machine_name:string task_id:string "
    "lines:json"
)
FAILURE_COUNT_COLUMNS: Final = _cols("date:date test_runs:integer failure_count:integer")
SIGNATURE_COLUMNS: Final = _cols(
    "signature_id:integer signature_hash:string framework_id:integer suite:string test:string "
    "platform:string option_collection_hash:string application:string "
    "lower_is_better:boolean has_subtests:boolean tags:json extra_options:json "
    "measurement_unit:string parent_signature:string"
)
PERF_DATA_COLUMNS: Final = _cols(
    "signature_hash:string signature_id:integer datum_id:integer job_id:integer "
    "push_id:integer revision:string push_time:datetime value:float"
)
ALERT_SUMMARY_COLUMNS: Final = _cols(
    "summary_id:integer created:datetime status:integer repository:string "
    "framework_id:integer push_id:integer prev_push_id:integer revision:string "
    "prev_revision:string push_time:datetime bug_number:integer notes:string "
    "alerts:json related_alerts:json"
)
ALERT_COLUMNS: Final = _cols(
    "alert_id:integer summary_id:integer related_summary_id:integer status:integer "
    "is_regression:boolean amount_pct:float amount_abs:float prev_value:float "
    "new_value:float t_value:float signature_id:integer signature_hash:string "
    "framework_id:integer suite:string test:string platform:string created:datetime"
)
FRAMEWORK_COLUMNS: Final = _cols("id:integer name:string")


class _Pacer:
    """At most ``rate`` request starts per second, shared by every thread using the source."""

    def __init__(self, rate: float, sleep: Callable[[float], None]) -> None:
        self.interval = 0.0 if math.isinf(rate) else 1.0 / rate
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next = 0.0

    def wait(self, deadline: Deadline) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        delay = start - now
        if delay > 0:
            if delay >= deadline.remaining():
                raise QueryTimeout("the deadline would pass while pacing requests to Treeherder")
            self._sleep(delay)


def _number_option(name: str, value: Any, default: float, source: str) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"option {name} must be a number, not {value!r}", source=source) from None
    if math.isnan(number) or number <= 0:
        raise ConfigError(f"option {name} must be a positive number, not {value!r}", source=source)
    return number


def _base_url(url: str | None, source: str) -> str:
    text = (url or DEFAULT_URL).strip().rstrip("/")
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"the treeherder url must start with https:// (or http://) and name a host, "
            f"not {text!r}",
            source=source,
        )
    if parts.query or parts.fragment:
        raise ConfigError(
            f"the treeherder url must not carry a query string: {text!r}", source=source
        )
    return text.removesuffix("/api")


def _day(name: str, value: dt.date | str) -> str:
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ParameterError(f"{name} must be a date (YYYY-MM-DD), got {value!r}") from None


def _unix(name: str, value: dt.datetime | dt.date | float | int) -> int | float:
    """Unix seconds of a datetime (naive = UTC), a date (its midnight) or a number."""
    if isinstance(value, bool):
        raise ParameterError(f"{name} must be a datetime or Unix seconds, got {value!r}")
    if isinstance(value, int | float):
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return int(aware.timestamp()) if aware.microsecond == 0 else aware.timestamp()
    if isinstance(value, dt.date):
        return int(dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp())
    raise ParameterError(f"{name} must be a datetime or Unix seconds, got {value!r}")


def _from_unix(value: Any) -> dt.datetime | None:
    if value is None or isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return dt.datetime.fromtimestamp(value, dt.UTC).replace(tzinfo=None)


def _positive(name: str, value: int | None) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ParameterError(f"{name} must be a positive integer or None, got {value!r}")
    return value


def _ids(name: str, values: Iterable[int] | int | None) -> list[int]:
    if values is None:
        return []
    items = [values] if isinstance(values, int) else list(values)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ParameterError(f"{name} must be integer ids, got {v!r}")
    return items


@register("treeherder")
class TreeherderSource(Source):
    """Treeherder's REST API (``url``: production by default, the stage server or a local one).

    ``pace`` is the most requests per second (default 5; ``inf`` for none), ``timeout`` the
    default deadline in seconds for one call however many pages it takes, ``api_version`` the
    version sent in ``Accept`` (1.0 or 1.1), ``retries`` the attempts per request.
    """

    dialect = "rest"

    def __init__(
        self,
        name: str | None = None,
        *,
        url: str | None = None,
        pace: float | str | None = None,
        timeout: float | str | None = None,
        api_version: str | None = None,
        retries: int | str | None = None,
        verify: bool | str | None = None,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        page_sizes: Mapping[str, int] | None = None,
    ) -> None:
        super().__init__(name)
        self.page_sizes = dict(PAGE_SIZES)
        for key, size in (page_sizes or {}).items():
            if key not in PAGE_SIZES:
                raise ConfigError(f"page_sizes keys are {', '.join(PAGE_SIZES)}, not {key!r}")
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise ConfigError(f"page size {key} must be a positive integer, not {size!r}")
            self.page_sizes[key] = min(size, PAGE_SIZES[key])
        self.url = _base_url(url, self.name)
        self.pace = _number_option("pace", pace, DEFAULT_PACE, self.name)
        self.default_timeout = _number_option("timeout", timeout, DEFAULT_TIMEOUT, self.name)
        version = str(api_version or "1.0").strip()
        if version not in API_VERSIONS:
            raise ConfigError(
                f"api_version must be one of {', '.join(API_VERSIONS)} (Treeherder rejects "
                f"others with HTTP 406), not {api_version!r}",
                source=self.name,
            )
        self.api_version = version
        policy = retry or DEFAULT_RETRY.with_statuses(RETRY_STATUSES)
        if retries is not None and retries != "":
            attempts = int(_number_option("retries", retries, 1, self.name))
            policy = policy.with_attempts(max(1, attempts))
        if isinstance(verify, str) and verify.strip().lower() in ("0", "false", "no", "off"):
            verify = False
        self._http = HttpSession(
            self.name,
            headers={"Accept": f"application/json; version={self.api_version}"},
            retry=policy,
            timeouts=timeouts or Timeouts(),
            verify=True if verify is None or verify in ("1", "true", "yes", "on") else verify,
            session=session,
            sleep=sleep,
        )
        self._pacer = _Pacer(self.pace, sleep)
        self._lock = threading.Lock()
        self._repo_ids: dict[str, int] | None = None
        self._framework_ids: dict[str, int] | None = None

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("url", "pace", "timeout", "api_version", "retries", "verify")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": self.kind, "url": self.url}

    def cache_identity(self) -> dict[str, Any]:
        return {"url": self._http.redactor.url(self.url), "api_version": self.api_version}

    def close(self) -> None:
        self._http.close()

    # -- SQL is not spoken here ---------------------------------------------------------------

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        raise UnsupportedQuery(
            "the treeherder source runs no SQL: Treeherder's REST API has no query language. "
            "Use a named query (thsources.run('pushes', {...}, source=src); `thsources queries` "
            "lists them) or an entity method (src.pushes(...), src.jobs(...), "
            "src.failures(...), src.performance_data(...), src.alert_summaries(...))",
            source=self.name,
        )

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Result:
        return self.submit(sql, params, max_age=max_age, timeout=timeout).result()

    # -- HTTP ---------------------------------------------------------------------------------

    def _deadline(self, timeout: float | None) -> Deadline:
        return Deadline(self.default_timeout if timeout is None else timeout)

    def get_json(self, path: str, params: Mapping[str, Any], deadline: Deadline) -> Any:
        """GET ``path`` (from ``/api/``) and return its JSON, or raise the documented error."""
        self._pacer.wait(deadline)
        url = self.url + path
        query = {k: _param_text(v) for k, v in params.items() if v is not None}
        try:
            response = self._http.get(url, params=query, deadline=deadline)
        except SourceError as exc:
            log.error("Treeherder API request failed: %s", exc.message)
            raise
        if response.status_code >= 400 or 300 <= response.status_code < 400:
            error = self._error(response, path)
            log.error("Treeherder API error: %s", error.message)
            raise error
        return self._http.json(response)

    def _error(self, response: requests.Response, path: str) -> ThsourcesError:
        status = response.status_code
        shown = self._http.redactor.url(response.url or path)
        detail = _server_message(response)
        text = f"HTTP {status} from {shown}" + (f": {detail}" if detail else "")
        if status == 400:
            return ParameterError(f"Treeherder rejected the request: {text}", source=self.name)
        if status == 403:
            return PermissionDenied(
                f"{text} (Treeherder refuses some User-Agents; this one was {user_agent()!r})",
                source=self.name,
                status_code=status,
            )
        if status == 404 and detail and "project" in detail.lower():
            return NotFound(
                f"{text}; `src.repositories()` lists the repositories",
                source=self.name,
                status_code=status,
            )
        if status == 406:
            return ProtocolError(
                f"{text} (api_version {self.api_version!r} not accepted by this server)",
                source=self.name,
                status_code=status,
            )
        return self._http.error_for(response, detail or None)

    def _fetch(self, deadline: Deadline) -> Callable[[str, Mapping[str, Any]], Any]:
        return lambda path, params: self.get_json(path, params, deadline)

    def _meta(self, what: str, started: Deadline, **extra: Any) -> ResultMeta:
        return ResultMeta(
            source=self.name,
            query=what,
            runtime_s=started.elapsed(),
            retrieved_at=dt.datetime.now(dt.UTC),
            extra=extra,
        )

    # -- reference data -----------------------------------------------------------------------

    def repositories(self, *, timeout: float | None = None) -> Result:
        """The active repositories (``/api/repository/``)."""
        deadline = self._deadline(timeout)
        body = _expect_list(self.get_json("/api/repository/", {}, deadline), "/api/repository/")
        rows: list[tuple[Any, ...]] = []
        for r in body:
            group = r.get("repository_group")
            rows.append(
                tuple(
                    (group.get("name") if isinstance(group, dict) else group)
                    if c.name == "repository_group"
                    else r.get(c.name)
                    for c in REPOSITORY_COLUMNS
                )
            )
        with self._lock:
            self._repo_ids = {str(r[1]): int(r[0]) for r in rows}
        return Result.from_rows(REPOSITORY_COLUMNS, rows, self._meta("repositories", deadline))

    def frameworks(self, *, timeout: float | None = None) -> Result:
        """Performance frameworks (``/api/performance/framework/``)."""
        deadline = self._deadline(timeout)
        path = "/api/performance/framework/"
        body = _expect_list(self.get_json(path, {}, deadline), path)
        rows = [(f.get("id"), f.get("name")) for f in body]
        with self._lock:
            self._framework_ids = {name: fid for fid, name in rows}
        return Result.from_rows(FRAMEWORK_COLUMNS, rows, self._meta("frameworks", deadline))

    def option_collections(self, *, timeout: float | None = None) -> dict[str, str]:
        """Option collection hash -> its options joined by spaces (e.g. ``"asan opt"``)."""
        deadline = self._deadline(timeout)
        path = "/api/optioncollectionhash/"
        body = _expect_list(self.get_json(path, {}, deadline), path)
        return {
            item["option_collection_hash"]: " ".join(
                sorted(o["name"] for o in item.get("options", []))
            )
            for item in body
        }

    def failure_classifications(self, *, timeout: float | None = None) -> Result:
        deadline = self._deadline(timeout)
        path = "/api/failureclassification/"
        body = _expect_list(self.get_json(path, {}, deadline), path)
        rows = [(f.get("id"), f.get("name")) for f in body]
        return Result.from_rows(
            FRAMEWORK_COLUMNS, rows, self._meta("failureclassification", deadline)
        )

    def repository_id(self, repository: str | int) -> int:
        """A repository's id from its name (looked up once per source)."""
        return self._id_of(
            repository, "_repo_ids", self.repositories, f"repository named {{!r}} on {self.url}"
        )

    def framework_id(self, framework: str | int) -> int:
        """A performance framework's id from its name (looked up once per source)."""
        return self._id_of(
            framework, "_framework_ids", self.frameworks, "performance framework named {!r}"
        )

    def _id_of(self, value: str | int, cache: str, load: Any, what: str) -> int:
        """``value``'s id: an int is taken as it is, a name is looked up in the ``cache``
        attribute, which ``load()`` fills (once, or again for a name it did not know)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        with self._lock:
            known = getattr(self, cache)
        if known is None or value not in known:
            load()
            with self._lock:
                known = getattr(self, cache) or {}
        try:
            return int(known[str(value)])
        except KeyError:
            raise NotFound(
                f"no {what.format(value)}; known: {', '.join(sorted(known))}",
                source=self.name,
            ) from None

    # -- pushes -------------------------------------------------------------------------------

    def push_dicts(
        self,
        repository: str,
        count: int | None = 10,
        *,
        revision: str | None = None,
        author: str | None = None,
        since: dt.datetime | dt.date | float | None = None,
        until: dt.datetime | dt.date | float | None = None,
        ids: Iterable[int] | None = None,
        before_id: int | None = None,
        deadline: Deadline | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """The pushes as Treeherder sends them (dicts), newest first; see :meth:`pushes`."""
        count = _positive("count", count)
        params: dict[str, Any] = dict(filters)
        for key in params:
            if key in ("count", "offset", "page"):
                raise ParameterError(
                    f"{key} is not a push filter: pass count=N (paging is done for you)"
                )
        if revision is not None:
            params["revision"] = revision
        if author is not None:
            params["author"] = author
        if since is not None:
            params["push_timestamp__gte"] = _unix("since", since)
        if until is not None:
            params["push_timestamp__lte"] = _unix("until", until)
        id_list = _ids("ids", ids)
        if id_list:
            params["id__in"] = ",".join(map(str, id_list))
        if before_id is not None:
            params["id__lt"] = _ids("before_id", before_id)[0]
        path = f"/api/project/{quote(repository, safe='')}/push/"
        fetch = self._fetch(deadline or self._deadline(None))
        return list(
            pushes_backwards(
                fetch, path, params, count, source=self.name, page_size=self.page_sizes["push"]
            )
        )

    def pushes(
        self,
        repository: str,
        count: int | None = 10,
        *,
        revision: str | None = None,
        author: str | None = None,
        since: dt.datetime | dt.date | float | None = None,
        until: dt.datetime | dt.date | float | None = None,
        ids: Iterable[int] | None = None,
        before_id: int | None = None,
        timeout: float | None = None,
        **filters: Any,
    ) -> Result:
        """Pushes to ``repository``, newest first, ``count`` of them (None: all that match).

        ``revision`` is the tip revision (a prefix if shorter than 40 characters), ``author``
        exact (a leading ``-`` excludes), ``since``/``until`` bound the push time (datetimes
        are UTC, or Unix seconds), ``ids`` picks pushes by id, ``before_id`` keeps ids below
        it; other Treeherder push filters pass through (``commit_revision``, ``fromchange``...).
        More than 1000 pushes are fetched in several requests without gaps or repeats.
        """
        deadline = self._deadline(timeout)
        pushes = self.push_dicts(
            repository,
            count,
            revision=revision,
            author=author,
            since=since,
            until=until,
            ids=ids,
            before_id=before_id,
            deadline=deadline,
            **filters,
        )
        rows = [
            (
                p.get("id"),
                p.get("revision"),
                p.get("author"),
                _from_unix(p.get("push_timestamp")),
                p.get("revision_count"),
                p.get("repository_id"),
                p.get("revisions"),
            )
            for p in pushes
        ]
        return Result.from_rows(
            PUSH_COLUMNS, rows, self._meta(f"pushes {repository}", deadline, requests=None)
        )

    # -- jobs ---------------------------------------------------------------------------------

    def jobs(
        self,
        push_id: int | None = None,
        *,
        push_ids: Iterable[int] | None = None,
        limit: int | None = None,
        timeout: float | None = None,
        **filters: Any,
    ) -> Result:
        """Jobs through ``/api/jobs/``, every page (ordered by job id), ``limit`` at most.

        ``push_id`` or ``push_ids`` select pushes; other filters are Treeherder's ``JobFilter``
        fields with optional lookups (``result="testfailed"``, ``tier__lt=3``,
        ``job_type_name="..."``). Unknown filter names raise :class:`ParameterError` (the
        server would silently ignore them and return everything). ``duration_s`` is the
        server's duration (whole minutes) in seconds, null while a job is not completed.
        """
        deadline = self._deadline(timeout)
        limit = _positive("limit", limit)
        params = self._job_params(push_id, push_ids, filters)
        fetch = self._fetch(deadline)
        columns: dict[str, list[Any]] = {c.name: [] for c in JOB_COLUMNS}
        seen: set[int] = set()
        pages = 0
        for body in follow_next(fetch, "/api/jobs/", params, source=self.name):
            pages += 1
            _append_jobs(body, columns, seen, self.name)
            if limit is not None and len(seen) >= limit:
                for values in columns.values():
                    del values[limit:]
                break
        return Result.from_columns(
            JOB_COLUMNS,
            [columns[c.name] for c in JOB_COLUMNS],
            self._meta("jobs", deadline, pages=pages),
        )

    def job_dicts(
        self,
        push_id: int | None = None,
        *,
        push_ids: Iterable[int] | None = None,
        limit: int | None = None,
        deadline: Deadline | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Jobs as dicts under Treeherder's own property names (``duration`` in minutes),
        every page in id order; see :meth:`jobs` for the filters."""
        limit = _positive("limit", limit)
        params = self._job_params(push_id, push_ids, filters)
        fetch = self._fetch(deadline or self._deadline(None))
        out: list[dict[str, Any]] = []
        seen: set[Any] = set()
        for body in follow_next(fetch, "/api/jobs/", params, source=self.name):
            names = body.get("job_property_names")
            if not isinstance(names, list) or "id" not in names:
                raise ProtocolError("/api/jobs/ sent no job_property_names", source=self.name)
            for row in body["results"]:
                job = dict(zip(names, row, strict=False))
                if job["id"] in seen:
                    continue
                seen.add(job["id"])
                out.append(job)
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def _job_params(
        self, push_id: int | None, push_ids: Iterable[int] | None, filters: Mapping[str, Any]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {"count": self.page_sizes["jobs"]}
        if push_id is not None:
            params["push_id"] = _ids("push_id", push_id)[0]
        ids = _ids("push_ids", push_ids)
        if ids:
            params["push_id__in"] = ",".join(map(str, ids))
        for key, value in filters.items():
            base, _, lookup = key.partition("__")
            if base not in JOB_FILTERS or lookup not in _LOOKUPS:
                raise ParameterError(
                    f"unknown job filter {key!r}: use one of {', '.join(sorted(JOB_FILTERS))}, "
                    "optionally with __in, __lt, __lte, __gt or __gte"
                )
            if lookup == "in" and not isinstance(value, str):
                value = ",".join(map(str, value))
            params[key] = value
        if len(params) == 1:
            raise ParameterError(
                "jobs() needs a filter (push_id, push_ids, or a job filter): Treeherder counts "
                "every matching job before answering, so an unfiltered call is refused here"
            )
        return params

    def job_log_urls(
        self, repository: str, job_ids: Iterable[int] | int, *, timeout: float | None = None
    ) -> Result:
        """The logs of some jobs (``/api/project/{repo}/job-log-url/``)."""
        deadline = self._deadline(timeout)
        ids = _ids("job_ids", job_ids)
        if not ids:
            raise ParameterError("job_log_urls() needs at least one job id")
        path = f"/api/project/{quote(repository, safe='')}/job-log-url/"
        body = _expect_list(self.get_json(path, {"job_id": ids}, deadline), path)
        rows = [tuple(r.get(c.name) for c in JOB_LOG_COLUMNS) for r in body]
        return Result.from_rows(JOB_LOG_COLUMNS, rows, self._meta("job-log-url", deadline))

    # -- failures -----------------------------------------------------------------------------

    def _window(self, startday: dt.date | str, endday: dt.date | str, tree: str) -> dict[str, Any]:
        if not tree:
            raise ParameterError("tree must be a repository name, all, trunk, ...")
        return {
            "startday": _day("startday", startday),
            "endday": _day("endday", endday),
            "tree": tree,
        }

    def failures(
        self,
        startday: dt.date | str,
        endday: dt.date | str,
        tree: str = "trunk",
        *,
        timeout: float | None = None,
    ) -> Result:
        """Bugs by how many failed jobs were linked to them (``/api/failures/``).

        ``tree`` is a repository name or ``all``, ``trunk``, ``firefox-releases``,
        ``comm-releases``; the window is of push times, both days included.
        """
        deadline = self._deadline(timeout)
        params = self._window(startday, endday, tree)
        body = _expect_list(self.get_json("/api/failures/", params, deadline), "/api/failures/")
        rows = [(r.get("bug_id"), r.get("bug_count")) for r in body]
        return Result.from_rows(FAILURE_COLUMNS, rows, self._meta("failures", deadline))

    def failures_by_bug(
        self,
        bug: int,
        startday: dt.date | str,
        endday: dt.date | str,
        tree: str = "trunk",
        *,
        timeout: float | None = None,
    ) -> Result:
        """Every failure linked to one Bugzilla bug (``/api/failuresbybug/``)."""
        deadline = self._deadline(timeout)
        params = self._window(startday, endday, tree)
        params["bug"] = _ids("bug", bug)[0]
        path = "/api/failuresbybug/"
        body = _expect_list(self.get_json(path, params, deadline), path)
        rows = [tuple(r.get(c.name) for c in FAILURE_BY_BUG_COLUMNS) for r in body]
        return Result.from_rows(FAILURE_BY_BUG_COLUMNS, rows, self._meta("failuresbybug", deadline))

    def failure_count(
        self,
        startday: dt.date | str,
        endday: dt.date | str,
        tree: str = "trunk",
        *,
        bug: int | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Per day: pushes and failures (of ``bug``, or all intermittent-classified jobs)."""
        deadline = self._deadline(timeout)
        params = self._window(startday, endday, tree)
        if bug is not None:
            params["bug"] = _ids("bug", bug)[0]
        path = "/api/failurecount/"
        body = _expect_list(self.get_json(path, params, deadline), path)
        rows = [(r.get("date"), r.get("test_runs"), r.get("failure_count")) for r in body]
        return Result.from_rows(FAILURE_COUNT_COLUMNS, rows, self._meta("failurecount", deadline))

    # -- performance --------------------------------------------------------------------------

    def _perf_window(
        self,
        params: dict[str, Any],
        interval: int | None,
        start_date: dt.datetime | dt.date | None,
        end_date: dt.datetime | dt.date | None,
    ) -> None:
        if interval is not None and (start_date is not None or end_date is not None):
            raise ParameterError("give interval or start_date/end_date, not both")
        if interval is not None:
            params["interval"] = _positive("interval", interval)
        for name, value in (("start_date", start_date), ("end_date", end_date)):
            if value is not None:
                if not isinstance(value, dt.date):
                    raise ParameterError(f"{name} must be a date or datetime, got {value!r}")
                params[name] = value.isoformat()

    def performance_signatures(
        self,
        repository: str,
        *,
        framework: str | int | None = None,
        platform: str | None = None,
        signature: str | None = None,
        interval: int | None = None,
        start_date: dt.datetime | dt.date | None = None,
        end_date: dt.datetime | dt.date | None = None,
        subtests: bool = True,
        timeout: float | None = None,
    ) -> Result:
        """Performance signatures of a repository (``.../performance/signatures/``)."""
        deadline = self._deadline(timeout)
        params: dict[str, Any] = {}
        if framework is not None:
            params["framework"] = self.framework_id(framework)
        if platform is not None:
            params["platform"] = platform
        if signature is not None:
            params["signature"] = signature
        if not subtests:
            params["subtests"] = 0
        self._perf_window(params, interval, start_date, end_date)
        path = f"/api/project/{quote(repository, safe='')}/performance/signatures/"
        body = self.get_json(path, params, deadline)
        if not isinstance(body, dict):
            raise ProtocolError(f"{path} did not answer a JSON object", source=self.name)
        rows = []
        for key, sig in body.items():
            rows.append(
                (
                    sig.get("id", int(key) if str(key).isdigit() else None),
                    sig.get("signature_hash"),
                    sig.get("framework_id"),
                    sig.get("suite"),
                    sig.get("test", ""),  # sparse: absent means the suite summary
                    sig.get("machine_platform"),
                    sig.get("option_collection_hash"),
                    sig.get("application"),
                    sig.get("lower_is_better", True),
                    sig.get("has_subtests", False),
                    sig.get("tags", []),
                    sig.get("extra_options", []),
                    sig.get("measurement_unit"),
                    sig.get("parent_signature"),
                )
            )
        rows.sort(key=lambda r: r[0] if r[0] is not None else -1)
        return Result.from_rows(SIGNATURE_COLUMNS, rows, self._meta("signatures", deadline))

    def performance_data(
        self,
        repository: str,
        *,
        signature_ids: Iterable[int] | int | None = None,
        signature_hashes: Iterable[str] | str | None = None,
        push_ids: Iterable[int] | int | None = None,
        job_ids: Iterable[int] | int | None = None,
        framework: str | int | None = None,
        interval: int | None = None,
        start_date: dt.datetime | dt.date | None = None,
        end_date: dt.datetime | dt.date | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Performance data points (``.../performance/data/``), by signature, push or job."""
        deadline = self._deadline(timeout)
        params: dict[str, Any] = {}
        for key, values in (
            ("signature_id", _ids("signature_ids", signature_ids)),
            ("push_id", _ids("push_ids", push_ids)),
            ("job_id", _ids("job_ids", job_ids)),
        ):
            if values:
                params[key] = values
        if signature_hashes is not None:
            hashes = (
                [signature_hashes] if isinstance(signature_hashes, str) else list(signature_hashes)
            )
            if hashes:
                params["signatures"] = hashes
        if not params:
            raise ParameterError(
                "performance_data() needs signature_ids, signature_hashes, push_ids or job_ids"
            )
        if framework is not None:
            params["framework"] = self.framework_id(framework)
        self._perf_window(params, interval, start_date, end_date)
        path = f"/api/project/{quote(repository, safe='')}/performance/data/"
        body = self.get_json(path, params, deadline)
        if not isinstance(body, dict):
            raise ProtocolError(f"{path} did not answer a JSON object", source=self.name)
        rows = [
            (
                sig_hash,
                d.get("signature_id"),
                d.get("id"),
                d.get("job_id"),
                d.get("push_id"),
                d.get("revision"),
                _from_unix(d.get("push_timestamp")),
                d.get("value"),
            )
            for sig_hash, data in body.items()
            for d in data
        ]
        rows.sort(key=lambda r: (r[6] or dt.datetime.min, r[2] or 0))
        return Result.from_rows(PERF_DATA_COLUMNS, rows, self._meta("performance data", deadline))

    def alert_summary_dicts(
        self,
        *,
        repository: str | int | None = None,
        framework: str | int | None = None,
        status: int | None = None,
        summary_id: int | None = None,
        limit: int | None = None,
        deadline: Deadline | None = None,
        **filters: Any,
    ) -> list[dict[str, Any]]:
        """Alert summaries as Treeherder sends them, newest first; see :meth:`alert_summaries`."""
        limit = _positive("limit", limit)
        deadline = deadline or self._deadline(None)
        params: dict[str, Any] = dict(filters)
        size = self.page_sizes["alertsummary"]
        params["limit"] = min(size, limit or size)
        if repository is not None:
            params["repository"] = self.repository_id(repository)
        if framework is not None:
            params["framework"] = self.framework_id(framework)
        if status is not None:
            params["status"] = status
        if summary_id is not None:
            params["id"] = summary_id
        out: list[dict[str, Any]] = []
        seen: set[Any] = set()
        path = "/api/performance/alertsummary/"
        for body in follow_next(self._fetch(deadline), path, params, source=self.name):
            for s in body["results"]:
                if s.get("id") in seen:
                    continue
                seen.add(s.get("id"))
                out.append(s)
                if limit is not None and len(out) >= limit:
                    return out
        return out

    def alert_summaries(
        self,
        *,
        repository: str | int | None = None,
        framework: str | int | None = None,
        status: int | None = None,
        summary_id: int | None = None,
        limit: int | None = None,
        timeout: float | None = None,
        **filters: Any,
    ) -> Result:
        """Perf alert summaries, newest first, with their alerts as json (``limit`` at most).

        ``repository`` and ``framework`` take names or ids. Pages of 100 (the server's
        maximum ``limit``) are followed until ``limit`` summaries (None: all) are read.
        """
        deadline = self._deadline(timeout)
        summaries = self.alert_summary_dicts(
            repository=repository,
            framework=framework,
            status=status,
            summary_id=summary_id,
            limit=limit,
            deadline=deadline,
            **filters,
        )
        rows = [
            (
                s.get("id"),
                s.get("created"),
                s.get("status"),
                s.get("repository"),
                s.get("framework"),
                s.get("push_id"),
                s.get("prev_push_id"),
                s.get("revision"),
                s.get("prev_push_revision"),
                _from_unix(s.get("push_timestamp")),
                s.get("bug_number"),
                s.get("notes"),
                s.get("alerts", []),
                s.get("related_alerts", []),
            )
            for s in summaries
        ]
        return Result.from_rows(ALERT_SUMMARY_COLUMNS, rows, self._meta("alertsummary", deadline))

    def alerts(
        self,
        *,
        summary_id: int | None = None,
        series_signature: int | None = None,
        status: int | None = None,
        limit: int | None = None,
        timeout: float | None = None,
    ) -> Result:
        """Perf alerts, newest (highest id) first, following the cursor (``limit`` at most)."""
        deadline = self._deadline(timeout)
        limit = _positive("limit", limit)
        params: dict[str, Any] = {}
        for key, value in (
            ("summary_id", summary_id),
            ("series_signature", series_signature),
            ("status", status),
        ):
            if value is not None:
                params[key] = value
        rows: list[tuple[Any, ...]] = []
        seen: set[Any] = set()
        path = "/api/performance/alert/"
        for body in follow_next(self._fetch(deadline), path, params, source=self.name):
            for a in body["results"]:
                if a.get("id") in seen:
                    continue
                seen.add(a.get("id"))
                rows.append(alert_row(a))
            if limit is not None and len(rows) >= limit:
                rows = rows[:limit]
                break
        return Result.from_rows(ALERT_COLUMNS, rows, self._meta("alert", deadline))

    # -- named queries ------------------------------------------------------------------------

    def run_rest(
        self,
        spec: Mapping[str, Any],
        params: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> Result:
        """Run a named query's REST variant (its parsed ``rest.toml``) with bound params."""
        from .treeherder_named import run_variant

        return run_variant(self, spec, params, self._deadline(timeout))


def alert_row(a: Mapping[str, Any]) -> tuple[Any, ...]:
    sig = a.get("series_signature") or {}
    return (
        a.get("id"),
        a.get("summary_id"),
        a.get("related_summary_id"),
        a.get("status"),
        a.get("is_regression"),
        a.get("amount_pct"),
        a.get("amount_abs"),
        a.get("prev_value"),
        a.get("new_value"),
        a.get("t_value"),
        sig.get("id"),
        sig.get("signature_hash"),
        sig.get("framework_id"),
        sig.get("suite"),
        sig.get("test", ""),
        sig.get("machine_platform"),
        a.get("created"),
    )


def _append_jobs(
    body: Mapping[str, Any], columns: dict[str, list[Any]], seen: set[int], source: str
) -> None:
    """Zip one page's compact lists with ``job_property_names`` into the columns."""
    names = body.get("job_property_names")
    if not isinstance(names, list):
        raise ProtocolError("/api/jobs/ sent no job_property_names", source=source)
    index = {n: i for i, n in enumerate(names)}
    for required in ("id", "duration", "state"):
        if required not in index:
            raise ProtocolError(f"/api/jobs/ sent no {required!r} property", source=source)
    picks = [(col, index.get(prop)) for col, prop in _JOB_FIELDS.items()]
    i_id, i_duration, i_state = index["id"], index["duration"], index["state"]
    for row in body["results"]:
        job_id = row[i_id]
        if job_id in seen:
            continue  # a job moved across a page boundary: keep the first copy
        seen.add(job_id)
        for col, i in picks:
            columns[col].append(None if i is None else row[i])
        minutes = row[i_duration]
        completed = row[i_state] == "completed" and isinstance(minutes, int | float)
        columns["duration_s"].append(float(minutes) * 60.0 if completed else None)


def _param_text(value: Any) -> Any:
    """Query values as Treeherder parses them (lists repeat the argument)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list | tuple):
        return [_param_text(v) for v in value]
    return value


def _server_message(response: requests.Response) -> str:
    """The server's own words: DRF ``detail``, or django-filter's ``{field: [messages]}``."""
    ctype = response.headers.get("Content-Type", "").lower()
    if "json" in ctype:
        try:
            data = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            return response.text.strip()[:200]
        if isinstance(data, dict):
            if isinstance(data.get("detail"), str):
                return str(data["detail"])
            parts = []
            for key, value in data.items():
                text = " ".join(map(str, value)) if isinstance(value, list) else str(value)
                parts.append(f"{key}: {text}")
            return "; ".join(parts)[:300]
        return str(data)[:200]
    if "html" in ctype:
        return "an HTML error page"
    return response.text.strip().replace("\n", " ")[:200]


def _expect_list(body: Any, path: str) -> Sequence[Any]:
    if not isinstance(body, list):
        raise ProtocolError(f"{path} did not answer a JSON list")
    return body
