"""Named queries on Treeherder's REST API: each recipe builds, from entity-method calls, the
records the query's SQL variant gives on a database.

A named query's ``rest.toml`` names a recipe here (``method``), maps the query's parameters to
the recipe's arguments (``[params]``) and may rename the recipe's columns (``[columns]``).
Recipes keep the SQL's rules: windows ending at ``until`` (default: the latest push of any
repository), epoch-0 job times as null, the declared row order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from ..errors import ConfigError, NotFound, ProtocolError
from ..polling import Deadline
from ..result import Column, Result, ResultMeta

if TYPE_CHECKING:
    from .treeherder import TreeherderSource

__all__ = ["RECIPES", "run_variant"]

Recipe = Callable[["TreeherderSource", Deadline, Mapping[str, Any]], Result]
_ID_CHUNK: Final = 100  # push ids per /api/jobs/ request (keeps URLs short)


def run_variant(
    source: TreeherderSource, spec: Mapping[str, Any], params: Mapping[str, Any], deadline: Deadline
) -> Result:
    """Run the recipe a ``rest.toml`` names, with its parameter and column mappings."""
    method = spec.get("method")
    recipe = RECIPES.get(str(method))
    if recipe is None:
        raise ConfigError(
            f"rest.toml names an unknown method {method!r}; known: {', '.join(sorted(RECIPES))}"
        )
    mapping: Mapping[str, str] = spec.get("params", {})
    args = {mapping.get(name, name): value for name, value in params.items()}
    result = recipe(source, deadline, args)
    renames: Mapping[str, str] = spec.get("columns", {})
    if not renames:
        return result
    table = result.to_arrow()
    columns = [Column(renames.get(c.name, c.name), c.type) for c in result.columns]
    return Result(columns, table.rename_columns([c.name for c in columns]), result.meta)


def _meta(source: TreeherderSource, what: str, deadline: Deadline) -> ResultMeta:
    return ResultMeta(
        source=source.name,
        query=what,
        runtime_s=deadline.elapsed(),
        retrieved_at=dt.datetime.now(dt.UTC),
    )


def _naive(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _until(source: TreeherderSource, deadline: Deadline, until: dt.datetime | None) -> dt.datetime:
    """``until`` as naive UTC, by default the latest push of any repository (as the SQL's
    ``(SELECT max(time) FROM push)``)."""
    if until is not None:
        return _naive(until)
    latest: dt.datetime | None = None
    for name in source.repositories(timeout=deadline.remaining()).column("name"):
        newest = source.push_dicts(name, 1, deadline=deadline)
        if newest:
            when = dt.datetime.fromtimestamp(newest[0]["push_timestamp"], dt.UTC)
            latest = when if latest is None else max(latest, when)
    if latest is None:
        raise NotFound("the server has no pushes in any repository", source=source.name)
    return latest.replace(tzinfo=None)


def _stamp(value: dt.datetime) -> int:
    return int(value.replace(tzinfo=dt.UTC).timestamp())


# ------------------------------------------------------------------------------ pushes

PUSH_OUTCOME_COLUMNS: Final = (
    Column("push_id", "integer"),
    Column("revision", "string"),
    Column("author", "string"),
    Column("push_time", "datetime"),
    Column("jobs", "integer"),
    Column("succeeded", "integer"),
    Column("failed", "integer"),
    Column("exceptions", "integer"),
    Column("retried", "integer"),
    Column("unfinished", "integer"),
)


def pushes_with_outcomes(
    source: TreeherderSource, deadline: Deadline, args: Mapping[str, Any]
) -> Result:
    """Pushes of a window with their jobs (tier <= ``max_tier``) counted by outcome."""
    until = _until(source, deadline, args.get("until"))
    lower = until - dt.timedelta(days=int(args["days"]))
    pushes = source.push_dicts(
        str(args["repository"]),
        None,
        until=until,
        push_timestamp__gt=_stamp(lower),
        deadline=deadline,
    )
    counts: dict[int, list[int]] = {p["id"]: [0, 0, 0, 0, 0, 0] for p in pushes}
    ids = sorted(counts)
    for start in range(0, len(ids), _ID_CHUNK):
        for job in source.job_dicts(
            push_ids=ids[start : start + _ID_CHUNK],
            tier__lte=int(args["max_tier"]),
            deadline=deadline,
        ):
            c = counts[job["push_id"]]
            c[0] += 1
            result = job["result"]
            c[1] += result == "success"
            c[2] += result in ("testfailed", "busted")
            c[3] += result == "exception"
            c[4] += result == "retry"
            c[5] += job["state"] != "completed"
    rows = [
        (
            p["id"],
            p["revision"],
            p["author"],
            dt.datetime.fromtimestamp(p["push_timestamp"], dt.UTC).replace(tzinfo=None),
            *counts[p["id"]],
        )
        for p in pushes
    ]
    rows.sort(key=lambda r: (r[3], r[0]), reverse=True)
    return Result.from_rows(PUSH_OUTCOME_COLUMNS, rows, _meta(source, "pushes", deadline))


# ------------------------------------------------------------------------------ jobs of a push

PUSH_JOB_COLUMNS: Final = (
    Column("job_id", "integer"),
    Column("task_id", "string"),
    Column("retry_id", "integer"),
    Column("label", "string"),
    Column("job_symbol", "string"),
    Column("group_symbol", "string"),
    Column("platform", "string"),
    Column("platform_option", "string"),
    Column("result", "string"),
    Column("state", "string"),
    Column("tier", "integer"),
    Column("classification", "string"),
    Column("submit_time", "datetime"),
    Column("start_time", "datetime"),
    Column("end_time", "datetime"),
    Column("duration_s", "float"),
)


def _time(stamp: Any) -> dt.datetime | None:
    """Unix seconds as naive UTC; 0 (Treeherder's "not known yet") as null."""
    if not isinstance(stamp, int | float) or stamp <= 86400:
        return None
    return dt.datetime.fromtimestamp(stamp, dt.UTC).replace(tzinfo=None)


def jobs_for_push(source: TreeherderSource, deadline: Deadline, args: Mapping[str, Any]) -> Result:
    """Every job of one push with exact times: ``/api/jobs/`` (the complete, id-ordered list)
    joined with the project jobs endpoint (the only one with submit/start/end times)."""
    push_id = int(args["push_id"])
    jobs = source.job_dicts(push_id, deadline=deadline)
    times: dict[int, tuple[Any, Any, Any]] = {}
    if jobs:
        repo = _repository_of_push(source, deadline, push_id)
        path = f"/api/project/{repo}/jobs/"
        body = source.get_json(path, {"push_id": push_id, "count": 2000}, deadline)
        for job in body.get("results", []):
            times[job["id"]] = (
                job.get("submit_timestamp"),
                job.get("start_timestamp"),
                job.get("end_timestamp"),
            )
        missing = [j["id"] for j in jobs if j["id"] not in times]
        if missing:
            raise ProtocolError(
                f"{path} lacks the times of {len(missing)} jobs of push {push_id} (more than "
                "its 2000-job page?)",
                source=source.name,
            )
    classes = dict(source.failure_classifications(timeout=deadline.remaining()).rows())
    rows = []
    for j in jobs:
        submit, start, end = (_time(t) for t in times.get(j["id"], (None, None, None)))
        duration = (end - start).total_seconds() if end and start else None
        rows.append(
            (
                j["id"],
                j["task_id"],
                j["retry_id"],
                j["job_type_name"],
                j["job_type_symbol"],
                j["job_group_symbol"],
                j["platform"],
                j["platform_option"] or None,
                j["result"],
                j["state"],
                j["tier"],
                classes.get(j["failure_classification_id"]),
                submit,
                start,
                end,
                duration,
            )
        )
    return Result.from_rows(PUSH_JOB_COLUMNS, rows, _meta(source, "jobs-for-push", deadline))


def _repository_of_push(source: TreeherderSource, deadline: Deadline, push_id: int) -> str:
    for name in source.repositories(timeout=deadline.remaining()).column("name"):
        if source.push_dicts(name, 1, ids=[push_id], deadline=deadline):
            return str(name)
    raise NotFound(f"push {push_id} is in no repository", source=source.name)


# ------------------------------------------------------------------------------ performance

SERIES_COLUMNS: Final = (
    Column("push_time", "datetime"),
    Column("push_id", "integer"),
    Column("revision", "string"),
    Column("value", "float"),
    Column("job_id", "integer"),
)


def perf_series(source: TreeherderSource, deadline: Deadline, args: Mapping[str, Any]) -> Result:
    """One signature's data in a window. Treeherder rounds values to 2 decimals."""
    until = _until(source, deadline, args.get("until"))
    lower = until - dt.timedelta(days=int(args["days"]))
    # The server's date bounds are asked a day wider, then applied exactly here.
    data = source.performance_data(
        str(args["repository"]),
        signature_hashes=str(args["signature_hash"]),
        framework=str(args["framework"]),
        start_date=lower - dt.timedelta(days=1),
        end_date=until + dt.timedelta(days=1),
        timeout=deadline.remaining(),
    )
    rows = [
        (r["push_time"].replace(tzinfo=None), r["push_id"], r["revision"], r["value"], r["job_id"])
        for r in data
        if lower < r["push_time"].replace(tzinfo=None) <= until
    ]
    rows.sort(key=lambda r: (r[0], r[1]))
    return Result.from_rows(SERIES_COLUMNS, rows, _meta(source, "perf-series", deadline))


ALERT_ROW_COLUMNS: Final = (
    Column("summary_id", "integer"),
    Column("created", "datetime"),
    Column("summary_status", "integer"),
    Column("alert_id", "integer"),
    Column("is_regression", "boolean"),
    Column("alert_status", "integer"),
    Column("amount_pct", "float"),
    Column("prev_value", "float"),
    Column("new_value", "float"),
    Column("signature_hash", "string"),
    Column("suite", "string"),
    Column("test", "string"),
    Column("platform", "string"),
    Column("revision", "string"),
    Column("prev_revision", "string"),
)


def perf_alerts(source: TreeherderSource, deadline: Deadline, args: Mapping[str, Any]) -> Result:
    """One row per alert of the summaries created in the window (own alerts only)."""
    until = _until(source, deadline, args.get("until"))
    lower = until - dt.timedelta(days=int(args["days"]))
    summaries = source.alert_summary_dicts(
        repository=str(args["repository"]), framework=str(args["framework"]), deadline=deadline
    )
    rows: list[tuple[Any, ...]] = []
    for s in summaries:
        created = _naive(dt.datetime.fromisoformat(s["created"]))
        if not lower < created <= until:
            continue
        for a in _own_alerts(s):
            sig = a.get("series_signature") or {}
            rows.append(
                (
                    s["id"],
                    created,
                    s.get("status"),
                    a["id"],
                    a.get("is_regression"),
                    a.get("status"),
                    a.get("amount_pct"),
                    a.get("prev_value"),
                    a.get("new_value"),
                    sig.get("signature_hash"),
                    sig.get("suite"),
                    sig.get("test", ""),
                    sig.get("machine_platform"),
                    s.get("revision"),
                    s.get("prev_push_revision"),
                )
            )
    rows.sort(key=lambda r: r[3])
    rows.sort(key=lambda r: r[1], reverse=True)  # stable: created DESC, then alert_id
    return Result.from_rows(ALERT_ROW_COLUMNS, rows, _meta(source, "perf-alerts", deadline))


def _own_alerts(summary: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    alerts = summary.get("alerts", [])
    return [a for a in alerts if a.get("summary_id", summary["id"]) == summary["id"]]


RECIPES: Final[dict[str, Recipe]] = {
    "pushes_with_outcomes": pushes_with_outcomes,
    "jobs_for_push": jobs_for_push,
    "perf_series": perf_series,
    "perf_alerts": perf_alerts,
}
