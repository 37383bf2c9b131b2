"""The Treeherder emulator's endpoints: Treeherder's REST answers computed from the sample.

Each method takes the request's query arguments and returns ``(status, body)``, with the
server's own limits, orderings and error bodies (Django REST framework and django-filter
shapes). Only reads exist; the sample is opened read-only.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode

import duckdb

__all__ = [
    "JOB_PROPERTY_NAMES",
    "MAX_ALERTSUMMARY_LIMIT",
    "MAX_JOBS_COUNT",
    "MAX_PUSH_COUNT",
    "ApiError",
    "TreeherderData",
]

MAX_PUSH_COUNT: Final = 1000
MAX_JOBS_COUNT: Final = 2000
MAX_ALERTSUMMARY_LIMIT: Final = 100
ALERTS_PER_PAGE: Final = 10

#: The column names of the compact ``/api/jobs/`` lists, in Treeherder's order.
JOB_PROPERTY_NAMES: Final = (
    "failure_classification_id",
    "id",
    "job_group_name",
    "job_group_symbol",
    "job_type_name",
    "job_type_symbol",
    "last_modified",
    "platform",
    "push_id",
    "push_revision",
    "result",
    "signature",
    "state",
    "tier",
    "task_id",
    "retry_id",
    "duration",
    "platform_option",
)

# The API's repository groups (``REPO_GROUPS`` in webapp/api/utils.py), by repository id.
_TREES: Final[dict[str, tuple[int, ...]]] = {
    "trunk": (1, 2, 77),
    "firefox-releases": (6, 7),
    "comm-releases": (38, 135),
}
_PARSE_STATUS: Final = {0: "pending", 1: "parsed", 2: "failed", 3: "skipped-size"}
_EPOCH: Final = dt.datetime(1970, 1, 1)

_JOB_SELECT: Final = """
SELECT j.id, j.failure_classification_id, jg.name AS job_group_name,
       jg.symbol AS job_group_symbol, jt.name AS job_type_name, jt.symbol AS job_type_symbol,
       j.last_modified, mp.platform, j.push_id, p.revision AS push_revision, j.result,
       rds.signature, j.state, j.tier, tm.task_id, tm.retry_id, j.submit_time, j.start_time,
       j.end_time, j.option_collection_hash, j.guid, j.who, j.reason, m.name AS machine_name,
       bp.platform AS build_platform, bp.os_name AS build_os,
       bp.architecture AS build_architecture, mp.os_name AS machine_platform_os,
       mp.architecture AS machine_platform_architecture, jt.id AS job_type_id,
       jg.id AS job_group_id, rds.name AS ref_data_name, rds.build_system_type
FROM job j
JOIN push p ON p.id = j.push_id
JOIN repository r ON r.id = j.repository_id
JOIN job_type jt ON jt.id = j.job_type_id
JOIN job_group jg ON jg.id = j.job_group_id
JOIN machine_platform mp ON mp.id = j.machine_platform_id
JOIN build_platform bp ON bp.id = j.build_platform_id
JOIN machine m ON m.id = j.machine_id
JOIN reference_data_signatures rds ON rds.id = j.signature_id
LEFT JOIN taskcluster_metadata tm ON tm.job_id = j.id
"""

# django-filter fields of JobFilter: name -> (SQL expression, kind, lookup)
_INT, _STR, _TIME = "int", "str", "time"
_JOB_FILTERS: Final[dict[str, tuple[str, str]]] = {
    "id": ("j.id", _INT),
    "push_id": ("j.push_id", _INT),
    "task_id": ("tm.task_id", _STR),
    "retry_id": ("tm.retry_id", _INT),
    "job_guid": ("j.guid", _STR),
    "job_type_name": ("jt.name", _STR),
    "job_type_symbol": ("jt.symbol", _STR),
    "job_group_name": ("jg.name", _STR),
    "job_group_symbol": ("jg.symbol", _STR),
    "platform": ("mp.platform", _STR),
    "build_platform": ("bp.platform", _STR),
    "machine_name": ("m.name", _STR),
    "result": ("j.result", _STR),
    "state": ("j.state", _STR),
    "tier": ("j.tier", _INT),
    "failure_classification_id": ("j.failure_classification_id", _INT),
    "who": ("j.who", _STR),
    "last_modified": ("j.last_modified", _TIME),
    "submit_time": ("j.submit_time", _TIME),
    "start_time": ("j.start_time", _TIME),
    "end_time": ("j.end_time", _TIME),
}
_LOOKUPS: Final = {"": "=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">=", "in": "IN"}


class ApiError(Exception):
    """An error answer: ``status`` and a JSON body such as ``{"detail": ...}``."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status, body)
        self.status = status
        self.body = body


def _detail(status: int, text: str) -> ApiError:
    return ApiError(status, {"detail": text})


def timestamp(value: dt.datetime | None) -> int:
    """Unix seconds of a naive UTC datetime (the server's ``to_timestamp``)."""
    if value is None:
        return 0
    return int((value - _EPOCH).total_seconds())


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def duration_minutes(
    submit: dt.datetime, start: dt.datetime, end: dt.datetime, now: dt.datetime
) -> int:
    """``Job.get_duration``: minutes, at least 1, until now while the job runs."""
    end_time = end if end > _EPOCH else now
    start_time = start if start > _EPOCH else submit
    seconds = max((end_time - start_time).total_seconds(), 60)
    return round(seconds / 60)


def _int_filters(
    args: dict[str, list[str]],
    columns: tuple[tuple[str, str], ...],
    where: list[str],
    params: list[Any],
) -> bool:
    """Django-filter's integer filters: each ``key`` given (repeatable) adds ``expr IN (...)``.
    True when any was given."""
    given = False
    for key, expr in columns:
        values = [_int(key, v) for v in args.get(key, []) if v]
        if values:
            given = True
            where.append(f"{expr} IN ({','.join('?' * len(values))})")
            params.extend(values)
    return given


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ApiError(400, {name: ["Enter a whole number."]}) from None


def _date(name: str, value: str | None) -> dt.date:
    if value is None or value == "":
        raise ApiError(400, {name: ["This field is required."]})
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ApiError(
            400, {name: ["Date has wrong format. Use one of these formats instead: YYYY-MM-DD."]}
        ) from None


class TreeherderData:
    """Answers for each endpoint, read from a DuckDB file of Treeherder tables."""

    def __init__(
        self,
        database: str | Path,
        *,
        push_time_granularity: int = 1,
        shuffle_unordered: bool = True,
        now: dt.datetime | None = None,
    ) -> None:
        self._con = duckdb.connect(str(database), read_only=True)
        self._lock = threading.Lock()
        self.push_time_granularity = push_time_granularity
        self.shuffle_unordered = shuffle_unordered
        self.now = now
        self._shuffles = 0
        self._repos = {
            r["name"]: r
            for r in self._rows(
                "SELECT r.*, g.name AS group_name, g.description AS group_description "
                "FROM repository r JOIN repository_group g ON g.id = r.repository_group_id "
                "ORDER BY r.id"
            )
        }
        self._options = {
            h: opts
            for h, opts in self._con.execute(
                "SELECT oc.option_collection_hash, string_agg(o.name, ' ' ORDER BY o.name) "
                "FROM option_collection oc JOIN option o ON o.id = oc.option_id GROUP BY 1"
            ).fetchall()
        }

    def close(self) -> None:
        with self._lock:
            self._con.close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._con.execute(sql, list(params))
            names = [d[0] for d in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _now(self) -> dt.datetime:
        return self.now or dt.datetime.now(dt.UTC).replace(tzinfo=None)

    def repository(self, project: str) -> dict[str, Any]:
        try:
            return self._repos[project]
        except KeyError:
            raise _detail(404, f"No project with name {project}") from None

    # ------------------------------------------------------------------ reference data

    def repositories(self) -> list[dict[str, Any]]:
        return [
            {
                "id": r["id"],
                "repository_group": {
                    "name": r["group_name"],
                    "description": r["group_description"],
                },
                "name": r["name"],
                "dvcs_type": r["dvcs_type"],
                "url": r["url"],
                "branch": r["branch"],
                "codebase": r["codebase"],
                "description": r["description"],
                "active_status": r["active_status"],
                "life_cycle_order": r["life_cycle_order"],
                "performance_alerts_enabled": r["performance_alerts_enabled"],
                "expire_performance_data": r["expire_performance_data"],
                "is_try_repo": r["is_try_repo"],
                "tc_root_url": r["tc_root_url"],
            }
            for r in self._repos.values()
            if r["active_status"] == "active"
        ]

    def option_collection_hash(self) -> list[dict[str, Any]]:
        return [
            {"option_collection_hash": h, "options": [{"name": n} for n in opts.split(" ")]}
            for h, opts in sorted(self._options.items())
        ]

    def failure_classifications(self) -> list[dict[str, Any]]:
        return self._rows("SELECT id, name FROM failure_classification ORDER BY id")

    def frameworks(self) -> list[dict[str, Any]]:
        return self._rows("SELECT id, name FROM performance_framework WHERE enabled ORDER BY id")

    # ------------------------------------------------------------------ pushes

    def pushes(self, project: str, args: dict[str, list[str]]) -> dict[str, Any]:
        """``PushViewSet.list``: newest first, ``count`` <= 1000, no offset."""
        repo = self.repository(project)
        get = {k: v[-1] for k, v in args.items() if v}
        try:
            count = int(get.get("count", "10"))
        except ValueError:
            raise _detail(400, "Valid count value required") from None
        if count > MAX_PUSH_COUNT:
            raise _detail(400, f"Specified count exceeds api limit: {MAX_PUSH_COUNT}")
        if count < 1:
            raise _detail(400, f"count requires a positive integer, not: {count}")
        g = self.push_time_granularity
        stamp = f"(CAST(epoch(p.time) AS BIGINT) // {g}) * {g}"
        where = ["p.repository_id = ?"]
        params: list[Any] = [repo["id"]]
        for key, value in get.items():
            base, _, lookup = key.partition("__")
            if base == "push_timestamp" and lookup in ("lt", "lte", "gt", "gte"):
                try:
                    number = float(value)
                except ValueError:
                    raise _detail(400, f"Invalid timestamp for {key}: {value}") from None
                where.append(f"{stamp} {_LOOKUPS[lookup]} ?")
                params.append(number)
            elif base == "id" and lookup in ("", "lt", "lte", "gt", "gte"):
                where.append(f"p.id {_LOOKUPS[lookup]} ?")
                params.append(_int(key, value))
            elif key == "id__in":
                ids = [_int(key, v) for v in value.split(",") if v]
                where.append(f"p.id IN ({','.join('?' * len(ids)) or 'NULL'})")
                params.extend(ids)
            elif key == "revision":
                if len(value) < 40:
                    where.append("starts_with(p.revision, ?)")
                else:
                    where.append("p.revision = ?")
                params.append(value)
            elif key == "author":
                if value.startswith("-"):
                    where.append("p.author <> ?")
                    params.append(value[1:])
                else:
                    where.append("p.author = ?")
                    params.append(value)
            elif key == "author_contains":
                where.append("contains(p.author, ?)")
                params.append(value)
            elif key in ("startdate", "enddate"):
                day = _date(key, value)
                if key == "startdate":
                    where.append("p.time >= ?")
                    params.append(dt.datetime.combine(day, dt.time()))
                else:  # the server adds a day, so that the end date is included
                    where.append("p.time < ?")
                    params.append(dt.datetime.combine(day, dt.time()) + dt.timedelta(days=1))
        # Ordered by -time only: pushes with the same timestamp come in no particular order
        # (here: a hash of the id, so that ids are not in time order among them).
        rows = self._rows(
            f"SELECT p.id, p.revision, p.author, {stamp} AS push_timestamp, p.repository_id "
            f"FROM push p WHERE {' AND '.join(where)} "
            f"ORDER BY {stamp} DESC, hash(p.id) LIMIT {count}",
            params,
        )
        commits: dict[int, list[dict[str, Any]]] = {}
        if rows:
            ids = [r["id"] for r in rows]
            for c in self._rows(
                "SELECT push_id, revision, author, comments FROM commit "
                f"WHERE push_id IN ({','.join('?' * len(ids))}) ORDER BY push_id, id DESC",
                ids,
            ):
                commits.setdefault(c["push_id"], []).append(c)
        results = []
        for r in rows:
            revs = commits.get(r["id"], [])
            results.append(
                {
                    "id": r["id"],
                    "revision": r["revision"],
                    "author": r["author"],
                    "revisions": [
                        {
                            "result_set_id": r["id"],
                            "repository_id": r["repository_id"],
                            "revision": c["revision"],
                            "author": c["author"],
                            "comments": c["comments"],
                        }
                        for c in revs[:20]
                    ],
                    "revision_count": len(revs),
                    "push_timestamp": r["push_timestamp"],
                    "repository_id": r["repository_id"],
                }
            )
        return {
            "meta": {"count": len(results), "repository": project, "filter_params": get},
            "results": results,
        }

    # ------------------------------------------------------------------ jobs

    def _job_where(
        self, args: dict[str, list[str]], allowed: dict[str, tuple[str, str]]
    ) -> tuple[list[str], list[Any]]:
        where: list[str] = []
        params: list[Any] = []
        for key, values in args.items():
            if not values:
                continue
            value = values[-1]
            base, _, lookup = key.partition("__")
            if base not in allowed or lookup not in _LOOKUPS:
                continue  # django-filter ignores arguments it does not know
            expr, kind = allowed[base]
            items = value.split(",") if lookup == "in" else [value]
            converted: list[Any] = []
            for item in items:
                if kind == _INT:
                    converted.append(_int(key, item))
                elif kind == _TIME:
                    try:
                        converted.append(dt.datetime.fromisoformat(item).replace(tzinfo=None))
                    except ValueError:
                        raise ApiError(400, {key: ["Enter a valid date/time."]}) from None
                else:
                    converted.append(item)
            if lookup == "in":
                where.append(f"{expr} IN ({','.join('?' * len(converted)) or 'NULL'})")
                params.extend(converted)
            else:
                where.append(f"{expr} {_LOOKUPS[lookup]} ?")
                params.append(converted[0])
        return where, params

    def jobs(self, args: dict[str, list[str]], base_url: str, path: str) -> dict[str, Any]:
        """``JobsViewSet``: compact lists ordered by id, ``page`` + ``count`` (<= 2000)."""
        where, params = self._job_where(args, _JOB_FILTERS)
        get = {k: v[-1] for k, v in args.items() if v}
        size = MAX_JOBS_COUNT
        if "count" in get:
            try:
                size = max(1, min(int(get["count"]), MAX_JOBS_COUNT))  # DRF clamps silently
            except ValueError:
                size = MAX_JOBS_COUNT
        page_arg = get.get("page", "1")
        try:
            page = int(page_arg)
            if page < 1:
                raise ValueError
        except ValueError:
            raise _detail(404, "Invalid page.") from None
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        # Like Django's paginator, the total comes from counting every matching row.
        total = self._rows(
            f"SELECT count(*) AS n FROM ({_JOB_SELECT} {clause}) AS matching", params
        )[0]["n"]
        pages = max(1, -(-total // size))
        if page > pages:
            raise _detail(404, "Invalid page.")
        rows = self._rows(
            f"{_JOB_SELECT} {clause} ORDER BY j.id LIMIT {size} OFFSET {(page - 1) * size}",
            params,
        )
        now = self._now()
        results = [
            [
                r["failure_classification_id"],
                r["id"],
                r["job_group_name"],
                r["job_group_symbol"],
                r["job_type_name"],
                r["job_type_symbol"],
                _iso(r["last_modified"]),
                r["platform"],
                r["push_id"],
                r["push_revision"],
                r["result"],
                r["signature"],
                r["state"],
                r["tier"],
                r["task_id"],
                r["retry_id"],
                duration_minutes(r["submit_time"], r["start_time"], r["end_time"], now),
                self._options.get(r["option_collection_hash"], ""),
            ]
            for r in rows
        ]

        return {
            "count": total,
            **_page_links(base_url, path, get, page, pages),
            "results": results,
            "job_property_names": list(JOB_PROPERTY_NAMES),
        }

    def project_jobs(self, project: str, args: dict[str, list[str]]) -> dict[str, Any]:
        """The deprecated ``/api/project/{repo}/jobs/``: dicts, offset + count, no ORDER BY."""
        repo = self.repository(project)
        get = {k: v[-1] for k, v in args.items() if v}
        offset = _int("offset", get.get("offset", "0"))
        count = _int("count", get.get("count", "10"))
        if count > MAX_JOBS_COUNT:
            raise _detail(
                400, f"Specified count exceeds API MAX_JOBS_COUNT value: {MAX_JOBS_COUNT}"
            )
        legacy = dict(args)
        for key in list(legacy):
            if key.startswith("result_set_id"):
                legacy["push_id" + key[len("result_set_id") :]] = legacy.pop(key)
        where, params = self._job_where(legacy, _JOB_FILTERS)
        where.insert(0, "j.repository_id = ?")
        params.insert(0, repo["id"])
        # No ORDER BY on the server: the database returns rows in whatever order its plan
        # gives, which can change between two requests. The emulator makes that visible.
        with self._lock:
            self._shuffles += 1
            salt = self._shuffles if self.shuffle_unordered else 0
        rows = self._rows(
            f"{_JOB_SELECT} WHERE {' AND '.join(where)} "
            f"ORDER BY hash(j.id + {salt}) LIMIT {count} OFFSET {offset}",
            params,
        )
        now = self._now()
        results = []
        for r in rows:
            results.append(
                {
                    "id": r["id"],
                    "job_guid": r["guid"],
                    "push_id": r["push_id"],
                    "result_set_id": r["push_id"],
                    "build_architecture": r["build_architecture"],
                    "build_os": r["build_os"],
                    "build_platform": r["build_platform"],
                    "build_system_type": r["build_system_type"],
                    "machine_platform_architecture": r["machine_platform_architecture"],
                    "machine_platform_os": r["machine_platform_os"],
                    "platform": r["platform"],
                    "platform_option": self._options.get(r["option_collection_hash"], ""),
                    "option_collection_hash": r["option_collection_hash"],
                    "job_type_id": r["job_type_id"],
                    "job_type_name": r["job_type_name"],
                    "job_type_symbol": r["job_type_symbol"],
                    "job_group_id": r["job_group_id"],
                    "job_group_name": r["job_group_name"],
                    "job_group_symbol": r["job_group_symbol"],
                    "machine_name": r["machine_name"],
                    "ref_data_name": r["ref_data_name"],
                    "signature": r["signature"],
                    "reason": r["reason"],
                    "who": r["who"],
                    "result": r["result"],
                    "state": r["state"],
                    "tier": r["tier"],
                    "failure_classification_id": r["failure_classification_id"],
                    "submit_timestamp": timestamp(r["submit_time"]),
                    "start_timestamp": timestamp(r["start_time"]),
                    "end_timestamp": timestamp(r["end_time"]),
                    "last_modified": _iso(r["last_modified"]),
                    "duration": duration_minutes(
                        r["submit_time"], r["start_time"], r["end_time"], now
                    ),
                    "task_id": r["task_id"],
                    "retry_id": r["retry_id"],
                }
            )
        return {
            "results": results,
            "meta": {"repository": project, "offset": offset, "count": count},
        }

    def job_log_urls(self, project: str, args: dict[str, list[str]]) -> list[dict[str, Any]]:
        repo = self.repository(project)
        ids = [_int("job_id", v) for v in args.get("job_id", [])]
        if not ids:
            raise _detail(400, "The job_id parameter is mandatory for this endpoint")
        rows = self._rows(
            "SELECT l.id, l.job_id, l.name, l.url, l.status FROM job_log l "
            "JOIN job j ON j.id = l.job_id "
            f"WHERE j.repository_id = ? AND l.job_id IN ({','.join('?' * len(ids))}) "
            "ORDER BY l.id",
            [repo["id"], *ids],
        )
        return [
            {
                "id": r["id"],
                "job_id": r["job_id"],
                "name": r["name"],
                "url": r["url"],
                "parse_status": _PARSE_STATUS.get(r["status"], "pending"),
            }
            for r in rows
        ]

    # ------------------------------------------------------------------ failures

    def _window(self, args: dict[str, list[str]]) -> tuple[dt.datetime, dt.datetime, list[int]]:
        get = {k: v[-1] for k, v in args.items() if v}
        start = _date("startday", get.get("startday"))
        end = _date("endday", get.get("endday"))
        tree = get.get("tree")
        if not tree:
            raise ApiError(400, {"tree": ["This field is required."]})
        if tree == "all":
            repo_ids = [r["id"] for r in self._repos.values()]
        elif tree in _TREES:
            repo_ids = list(_TREES[tree])
        elif tree in self._repos:
            repo_ids = [self._repos[tree]["id"]]
        else:
            raise ApiError(400, {"tree": [f"{tree} is not a valid repository"]})
        return (
            dt.datetime.combine(start, dt.time()),
            dt.datetime.combine(end, dt.time()) + dt.timedelta(days=1),
            repo_ids,
        )

    def failures(self, args: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Intermittent bugs by how many jobs they were linked to, in a push-time window."""
        start, end, repos = self._window(args)
        return self._rows(
            "SELECT b.bugzilla_id AS bug_id, count(*) AS bug_count "
            "FROM bug_job_map bjm JOIN bugscache b ON b.id = bjm.bug_id "
            "JOIN job j ON j.id = bjm.job_id JOIN push p ON p.id = j.push_id "
            f"WHERE j.repository_id IN ({','.join('?' * len(repos))}) "
            "AND p.time >= ? AND p.time < ? AND b.bugzilla_id IS NOT NULL "
            "GROUP BY b.bugzilla_id ORDER BY bug_count DESC, b.bugzilla_id",
            [*repos, start, end],
        )

    def failures_by_bug(self, args: dict[str, list[str]]) -> list[dict[str, Any]]:
        start, end, repos = self._window(args)
        bug = args.get("bug", [""])[-1]
        if not bug:
            raise ApiError(400, {"bug": ["This field is required."]})
        bug_id = _int("bug", bug)
        rows = self._rows(
            "SELECT p.time AS push_time, mp.platform, p.revision, jt.name AS test_suite, "
            "r.name AS tree, j.option_collection_hash, j.id AS job_id, "
            "b.bugzilla_id AS bug_id, m.name AS machine_name, tm.task_id "
            "FROM bug_job_map bjm JOIN bugscache b ON b.id = bjm.bug_id "
            "JOIN job j ON j.id = bjm.job_id JOIN push p ON p.id = j.push_id "
            "JOIN repository r ON r.id = j.repository_id "
            "JOIN job_type jt ON jt.id = j.job_type_id "
            "JOIN machine_platform mp ON mp.id = j.machine_platform_id "
            "JOIN machine m ON m.id = j.machine_id "
            "LEFT JOIN taskcluster_metadata tm ON tm.job_id = j.id "
            f"WHERE j.repository_id IN ({','.join('?' * len(repos))}) "
            "AND p.time >= ? AND p.time < ? AND b.bugzilla_id = ? ORDER BY j.id",
            [*repos, start, end, bug_id],
        )
        lines: dict[int, list[str]] = {r["job_id"]: [] for r in rows}
        if rows:
            ids = list(lines)
            for e in self._rows(
                "SELECT job_id, line FROM text_log_error "
                f"WHERE job_id IN ({','.join('?' * len(ids))}) ORDER BY job_id, line_number",
                ids,
            ):
                lines[e["job_id"]].append(e["line"])
        return [
            {
                "push_time": r["push_time"].strftime("%Y-%m-%d %H:%M:%S"),
                "platform": r["platform"],
                "revision": r["revision"],
                "test_suite": r["test_suite"],
                "tree": r["tree"],
                "build_type": self._options.get(r["option_collection_hash"], ""),
                "job_id": r["job_id"],
                "bug_id": r["bug_id"],
                "machine_name": r["machine_name"],
                "lines": lines[r["job_id"]],
                "task_id": r["task_id"],
            }
            for r in rows
        ]

    def failure_count(self, args: dict[str, list[str]]) -> list[dict[str, Any]]:
        """Per day: pushes (``test_runs``) and failures (of one bug, or all intermittents)."""
        start, end, repos = self._window(args)
        bug = args.get("bug", [""])[-1]
        marks = ",".join("?" * len(repos))
        if bug:
            failures = self._rows(
                "SELECT CAST(p.time AS DATE) AS day, count(*) AS n "
                "FROM bug_job_map bjm JOIN bugscache b ON b.id = bjm.bug_id "
                "JOIN job j ON j.id = bjm.job_id JOIN push p ON p.id = j.push_id "
                f"WHERE j.repository_id IN ({marks}) AND p.time >= ? AND p.time < ? "
                "AND b.bugzilla_id = ? GROUP BY 1",
                [*repos, start, end, _int("bug", bug)],
            )
        else:
            failures = self._rows(
                "SELECT CAST(p.time AS DATE) AS day, count(*) AS n "
                "FROM job j JOIN push p ON p.id = j.push_id "
                f"WHERE j.repository_id IN ({marks}) AND p.time >= ? AND p.time < ? "
                "AND j.failure_classification_id = 4 GROUP BY 1",
                [*repos, start, end],
            )
        runs = self._rows(
            "SELECT CAST(p.time AS DATE) AS day, count(*) AS n FROM push p "
            f"WHERE p.repository_id IN ({marks}) AND p.time >= ? AND p.time < ? GROUP BY 1",
            [*repos, start, end],
        )
        by_day_fail = {r["day"]: r["n"] for r in failures}
        by_day_runs = {r["day"]: r["n"] for r in runs}
        out = []
        day = start.date()
        while day < end.date():
            out.append(
                {
                    "date": day.isoformat(),
                    "test_runs": by_day_runs.get(day, 0),
                    "failure_count": by_day_fail.get(day, 0),
                }
            )
            day += dt.timedelta(days=1)
        return out

    # ------------------------------------------------------------------ performance

    def _since(self, get: dict[str, str]) -> tuple[str, list[Any]]:
        if "interval" in get:
            seconds = _int("interval", get["interval"])
            return "d.push_timestamp > ?", [self._now() - dt.timedelta(seconds=seconds)]
        clauses, params = [], []
        if "start_date" in get:
            clauses.append("d.push_timestamp > ?")
            params.append(self._datetime("start_date", get["start_date"]))
        if "end_date" in get:
            clauses.append("d.push_timestamp <= ?")
            params.append(self._datetime("end_date", get["end_date"]))
        return " AND ".join(clauses), params

    @staticmethod
    def _datetime(name: str, value: str) -> dt.datetime:
        try:
            return dt.datetime.fromisoformat(value).replace(tzinfo=None)
        except ValueError:
            raise _detail(400, f"Invalid {name}: {value}") from None

    def signatures(self, project: str, args: dict[str, list[str]]) -> dict[str, Any]:
        repo = self.repository(project)
        get = {k: v[-1] for k, v in args.items() if v}
        where = ["s.repository_id = ?"]
        params: list[Any] = [repo["id"]]
        _int_filters(args, (("framework", "s.framework_id"),), where, params)
        if "platform" in get:
            where.append("mp.platform = ?")
            params.append(get["platform"])
        if "signature" in get:
            where.append("s.signature_hash = ?")
            params.append(get["signature"])
        if "id" in get:
            where.append("s.id = ?")
            params.append(_int("id", get["id"]))
        if "parent_signature" in get:
            where.append("parent.signature_hash = ?")
            params.append(get["parent_signature"])
        if get.get("subtests") == "0":
            where.append("s.parent_signature_id IS NULL")
        since, since_params = self._since(get)
        if since:
            where.append(
                "EXISTS (SELECT 1 FROM performance_datum d WHERE d.signature_id = s.id "
                f"AND d.repository_id = s.repository_id AND {since})"
            )
            params.extend(since_params)
        rows = self._rows(
            "SELECT s.*, mp.platform AS machine_platform, oc.option_collection_hash, "
            "parent.signature_hash AS parent_hash FROM performance_signature s "
            "JOIN machine_platform mp ON mp.id = s.platform_id "
            "JOIN option_collection oc ON oc.id = s.option_collection_id "
            "LEFT JOIN performance_signature parent ON parent.id = s.parent_signature_id "
            f"WHERE {' AND '.join(where)} ORDER BY s.id",
            params,
        )
        out: dict[str, Any] = {}
        for r in rows:
            sig: dict[str, Any] = {
                "id": r["id"],
                "signature_hash": r["signature_hash"],
                "framework_id": r["framework_id"],
                "option_collection_hash": r["option_collection_hash"],
                "machine_platform": r["machine_platform"],
                "suite": r["suite"],
                "has_subtests": r["has_subtests"],
                "measurement_unit": r["measurement_unit"],
                "suite_public_name": r["suite_public_name"],
                "test_public_name": r["test_public_name"],
                "application": r["application"],
            }
            # Sparse, as the server sends them: left out when empty or default.
            if r["test"]:
                sig["test"] = r["test"]
            if not r["lower_is_better"]:
                sig["lower_is_better"] = False
            if r["tags"]:
                sig["tags"] = r["tags"].split(" ")
            if r["extra_options"]:
                sig["extra_options"] = r["extra_options"].split(" ")
            if r["parent_hash"]:
                sig["parent_signature"] = r["parent_hash"]
            out[str(r["id"])] = sig
        return out

    def perf_data(self, project: str, args: dict[str, list[str]]) -> dict[str, Any]:
        repo = self.repository(project)
        get = {k: v[-1] for k, v in args.items() if v}
        where = ["d.repository_id = ?"]
        params: list[Any] = [repo["id"]]
        columns = (
            ("signature_id", "d.signature_id"),
            ("push_id", "d.push_id"),
            ("job_id", "d.job_id"),
        )
        keyed = _int_filters(args, columns, where, params)
        hashes = [h for h in args.get("signatures", []) if h]
        if hashes:
            keyed = True
            where.append(f"s.signature_hash IN ({','.join('?' * len(hashes))})")
            params.extend(hashes)
        if not keyed:
            raise _detail(
                400, "Must provide at least one of: signature_id, signatures, push_id, job_id"
            )
        _int_filters(args, (("framework", "s.framework_id"),), where, params)
        since, since_params = self._since(get)
        if since:
            where.append(since)
            params.extend(since_params)
        rows = self._rows(
            "SELECT s.signature_hash, d.id, d.signature_id, d.job_id, d.push_id, p.revision, "
            "d.push_timestamp, d.value FROM performance_datum d "
            "JOIN performance_signature s ON s.id = d.signature_id "
            "JOIN push p ON p.id = d.push_id "
            f"WHERE {' AND '.join(where)} ORDER BY d.push_timestamp, d.id",
            params,
        )
        out: dict[str, list[dict[str, Any]]] = {}
        for r in rows:
            out.setdefault(r["signature_hash"], []).append(
                {
                    "id": r["id"],
                    "signature_id": r["signature_id"],
                    "job_id": r["job_id"],
                    "push_id": r["push_id"],
                    "revision": r["revision"],
                    "push_timestamp": timestamp(r["push_timestamp"]),
                    "value": round(r["value"], 2),
                }
            )
        return out

    def _alerts(self, where: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        rows = self._rows(
            "SELECT a.*, s.signature_hash, s.framework_id, s.suite, s.test, "
            "s.lower_is_better, s.has_subtests, s.measurement_unit, mp.platform "
            "FROM performance_alert a "
            "JOIN performance_signature s ON s.id = a.series_signature_id "
            f"JOIN machine_platform mp ON mp.id = s.platform_id WHERE {where}",
            params,
        )
        return [
            {
                "id": r["id"],
                "status": r["status"],
                "series_signature": {
                    "id": r["series_signature_id"],
                    "signature_hash": r["signature_hash"],
                    "framework_id": r["framework_id"],
                    "machine_platform": r["platform"],
                    "suite": r["suite"],
                    "test": r["test"],
                    "lower_is_better": r["lower_is_better"],
                    "has_subtests": r["has_subtests"],
                    "measurement_unit": r["measurement_unit"],
                },
                "is_regression": r["is_regression"],
                "starred": r["starred"],
                "prev_value": r["prev_value"],
                "new_value": r["new_value"],
                "t_value": r["t_value"],
                "amount_abs": r["amount_abs"],
                "amount_pct": r["amount_pct"],
                "summary_id": r["summary_id"],
                "related_summary_id": r["related_summary_id"],
                "manually_created": r["manually_created"],
                "created": _iso(r["created"]),
                "first_triaged": _iso(r["first_triaged"]),
                "last_updated": _iso(r["last_updated"]),
                "noise_profile": r["noise_profile"],
            }
            for r in rows
        ]

    def alert_summaries(
        self, args: dict[str, list[str]], base_url: str, path: str
    ) -> dict[str, Any]:
        """``PerformanceAlertSummaryViewSet``: newest first, ``page`` + ``limit`` (<= 100)."""
        get = {k: v[-1] for k, v in args.items() if v}
        size = 10
        if "limit" in get:
            try:
                size = max(1, min(int(get["limit"]), MAX_ALERTSUMMARY_LIMIT))
            except ValueError:
                size = 10
        try:
            page = int(get.get("page", "1"))
            if page < 1:
                raise ValueError
        except ValueError:
            raise _detail(404, "Invalid page.") from None
        where: list[str] = []
        params: list[Any] = []
        columns = (
            ("id", "s.id"),
            ("status", "s.status"),
            ("framework", "s.framework_id"),
            ("repository", "s.repository_id"),
            ("push_id", "s.push_id"),
        )
        _int_filters(args, columns, where, params)
        if "created__gt" in get:
            where.append("s.created > ?")
            params.append(self._datetime("created__gt", get["created__gt"]))
        if "created__lte" in get:
            where.append("s.created <= ?")
            params.append(self._datetime("created__lte", get["created__lte"]))
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        total = self._rows(
            f"SELECT count(*) AS n FROM performance_alert_summary s {clause}", params
        )[0]["n"]
        pages = max(1, -(-total // size))
        if page > pages:
            raise _detail(404, "Invalid page.")
        rows = self._rows(
            "SELECT s.*, r.name AS repository, p.revision, pp.revision AS prev_push_revision, "
            "p.time AS push_time FROM performance_alert_summary s "
            "JOIN repository r ON r.id = s.repository_id JOIN push p ON p.id = s.push_id "
            f"JOIN push pp ON pp.id = s.prev_push_id {clause} "
            f"ORDER BY s.created DESC, s.id DESC LIMIT {size} OFFSET {(page - 1) * size}",
            params,
        )
        results = []
        for r in rows:
            results.append(
                {
                    "id": r["id"],
                    "push_id": r["push_id"],
                    "prev_push_id": r["prev_push_id"],
                    "created": _iso(r["created"]),
                    "first_triaged": _iso(r["first_triaged"]),
                    "triage_due_date": _iso(r["triage_due_date"]),
                    "repository": r["repository"],
                    "framework": r["framework_id"],
                    "alerts": self._alerts("a.summary_id = ? ORDER BY a.id", [r["id"]]),
                    "related_alerts": self._alerts(
                        "a.related_summary_id = ? ORDER BY a.id", [r["id"]]
                    ),
                    "status": r["status"],
                    "bug_number": r["bug_number"],
                    "bug_updated": _iso(r["bug_updated"]),
                    "issue_tracker": r["issue_tracker_id"],
                    "notes": r["notes"],
                    "revision": r["revision"],
                    "push_timestamp": timestamp(r["push_time"]),
                    "prev_push_revision": r["prev_push_revision"],
                }
            )

        return {
            "count": total,
            **_page_links(base_url, path, get, page, pages),
            "results": results,
        }

    def alerts(self, args: dict[str, list[str]], base_url: str, path: str) -> dict[str, Any]:
        """``PerformanceAlertViewSet``: cursor pagination ordered by ``-id``, 10 a page."""
        get = {k: v[-1] for k, v in args.items() if v}
        where = ["TRUE"]
        params: list[Any] = []
        columns = (
            ("id", "a.id"),
            ("summary_id", "a.summary_id"),
            ("series_signature", "a.series_signature_id"),
            ("status", "a.status"),
        )
        _int_filters(args, columns, where, params)
        cursor = get.get("cursor")
        if cursor is not None:
            # DRF encodes a position; here it is the last id seen, opaque to clients anyway.
            try:
                position = int(cursor, 16)
            except ValueError:
                raise _detail(404, "Invalid cursor") from None
            where.append("a.id < ?")
            params.append(position)
        rows = self._alerts(
            f"{' AND '.join(where)} ORDER BY a.id DESC LIMIT {ALERTS_PER_PAGE + 1}", params
        )
        more = len(rows) > ALERTS_PER_PAGE
        rows = rows[:ALERTS_PER_PAGE]
        nxt = None
        if more:
            query = {k: v for k, v in get.items() if k != "cursor"}
            query["cursor"] = format(rows[-1]["id"], "x")
            nxt = f"{base_url}{path}?{urlencode(query)}"
        return {"next": nxt, "previous": None, "results": rows}


def _page_links(
    base_url: str, path: str, get: dict[str, str], page: int, pages: int
) -> dict[str, str | None]:
    """django-rest-framework's ``next``/``previous``: the same query with another ``page``
    (left out for page 1), None past either end."""

    def link(n: int) -> str:
        query = {k: v for k, v in get.items() if k != "page"}
        if n > 1:
            query["page"] = str(n)
        return f"{base_url}{path}" + (f"?{urlencode(query)}" if query else "")

    return {
        "next": link(page + 1) if page < pages else None,
        "previous": link(page - 1) if page > 1 else None,
    }
