"""What the Redash emulator serves: data sources, users, saved queries, jobs, results, faults.

The public dataclasses are the emulator's configuration and may be changed while it runs (e.g.
``emu.data_sources[1].paused = True``). The ``*_dict`` functions give the exact JSON shapes of the
real server (key order included), as captured in the reference samples.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

__all__ = [
    "DEFAULT_SAVED_QUERIES",
    "DataSource",
    "Faults",
    "JobState",
    "RecordedRequest",
    "SavedQuery",
    "User",
    "generate_token",
]

_TOKEN_CHARS: Final = string.ascii_letters + string.digits


def generate_token(length: int = 40) -> str:
    """A random API key shaped like Redash's (40 letters and digits)."""
    return "".join(secrets.choice(_TOKEN_CHARS) for _ in range(length))


def iso_utc(value: dt.datetime) -> str:
    """Redash's JSON form of an aware timestamp: milliseconds and ``Z``."""
    text = value.astimezone(dt.UTC).isoformat()
    if value.microsecond:
        text = text[:23] + text[26:]
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def iso_naive(value: dt.datetime) -> str:
    """The naive form rq's ``started_at`` takes in a job's ``updated_at``."""
    text = value.replace(tzinfo=None).isoformat()
    return text[:23] + text[26:] if value.microsecond else text


@dataclass
class DataSource:
    """A data source: its SQL runs on DuckDB (``type`` picks the runner's error texts), or on
    the PostgreSQL (``pg``) or MySQL/MariaDB (``mysql``) database at ``url``."""

    id: int
    name: str
    type: str = "pg"
    paused: bool = False
    pause_reason: str | None = None
    #: The users' group has view-only access: ad-hoc SQL and unsafe saved queries are refused.
    view_only: bool = False
    #: Another DuckDB file for this source; None serves the emulator's database (unused
    #: when ``url`` is set).
    database: str | Path | None = None
    options: dict[str, Any] | None = None
    syntax: str = "sql"
    #: A database URL (``postgresql://...``, ``mysql://...``) to run the jobs on instead of
    #: DuckDB, as the real runner does; kept out of the repr since it may hold a password.
    url: str | None = field(default=None, repr=False)
    supports_auto_limit: bool = True
    queue_name: str = "queries"
    scheduled_queue_name: str = "scheduled_queries"

    def summary(self) -> dict[str, Any]:
        """The item of ``GET /api/data_sources``."""
        return {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "syntax": self.syntax,
            "paused": 1 if self.paused else 0,
            "pause_reason": self.pause_reason if self.paused else None,
            "supports_auto_limit": self.supports_auto_limit,
            "view_only": self.view_only,
        }

    def annotates_queries(self) -> bool:
        """Whether the runner prepends its metadata comment to the SQL (``should_annotate_query``):
        the BigQuery runner only with its ``useQueryAnnotation`` option, the others always."""
        if self.type == "bigquery":
            return bool((self.options or {}).get("useQueryAnnotation", False))
        return True

    def details(self, admin: bool) -> dict[str, Any]:
        """``GET /api/data_sources/<id>``: admins also see (masked) options and queues."""
        d = self.summary()
        view_only = d.pop("view_only")
        if admin:
            d["options"] = dict(sorted((self.options or self._default_options()).items()))
            d["queue_name"] = self.queue_name
            d["scheduled_queue_name"] = self.scheduled_queue_name
            d["groups"] = {"2": self.view_only}
        d["view_only"] = view_only
        return d

    def _default_options(self) -> dict[str, Any]:
        if self.url is not None:
            return self._url_options()
        if self.type == "bigquery":
            return {
                "jsonKeyFile": "--------",
                "loadSchema": True,
                "projectId": "moz-fx-data-shared-prod",
                "useStandardSql": True,
            }
        if self.type == "mysql":
            return {
                "db": "treeherder",
                "host": "127.0.0.1",
                "passwd": "--------",
                "port": 3306,
                "user": "th_reader",
            }
        return {
            "dbname": "treeherder",
            "host": "127.0.0.1",
            "password": "--------",
            "port": 5432,
            "user": "th_reader",
        }

    def _url_options(self) -> dict[str, Any]:
        """The runner's configuration for ``url``, the password masked as Redash masks it."""
        from sqlalchemy.engine import make_url

        u = make_url(self.url or "")
        if self.type == "mysql":
            options: dict[str, Any] = {"db": u.database, "host": u.host, "port": u.port or 3306}
            options.update({"user": u.username, "passwd": "--------" if u.password else None})
        else:
            options = {"dbname": u.database, "host": u.host, "port": u.port or 5432}
            options.update({"user": u.username, "password": "--------" if u.password else None})
        return {k: v for k, v in options.items() if v is not None}


@dataclass
class User:
    """A user and its API key (full access unless a data source says ``view_only``)."""

    id: int = 1
    name: str = "Admin"
    email: str = "admin@example.com"
    api_key: str = field(default_factory=generate_token)
    admin: bool = True
    disabled: bool = False
    groups: list[int] = field(default_factory=lambda: [1, 2])

    def to_dict(self, created: dt.datetime) -> dict[str, Any]:
        digest = hashlib.md5(self.email.lower().encode(), usedforsecurity=False).hexdigest()
        stamp = iso_utc(created)
        return {
            "id": self.id,
            "name": self.name,
            "email": self.email,
            "profile_image_url": f"https://www.gravatar.com/avatar/{digest}?s=40&d=identicon",
            "groups": list(self.groups),
            "updated_at": stamp,
            "created_at": stamp,
            "disabled_at": stamp if self.disabled else None,
            "is_disabled": self.disabled,
            "active_at": None,
            "is_invitation_pending": False,
            "is_email_verified": True,
            "auth_type": "password",
        }


@dataclass
class SavedQuery:
    """A saved query: SQL with ``{{ }}`` placeholders and its ``options.parameters`` schema."""

    id: int
    name: str
    query: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    data_source_id: int | None = 1
    #: The query's own API key; generated when None.
    api_key: str | None = None
    description: str | None = None
    #: Other ``options`` (e.g. ``{"apply_auto_limit": True}``); ``parameters`` lives above.
    options: dict[str, Any] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    is_archived: bool = False
    is_draft: bool = True
    schedule: dict[str, Any] | None = None
    version: int = 1
    user_id: int = 1
    #: Runtime state: the latest result whose hash matches this query's (Redash updates it).
    latest_query_data_id: int | None = None
    created_at: dt.datetime | None = None

    def all_options(self) -> dict[str, Any]:
        return {**self.options, "parameters": self.parameters}


def _q(id: int, name: str, sql: str, *params: dict[str, Any]) -> SavedQuery:
    return SavedQuery(id=id, name=name, query=sql, parameters=list(params))


#: The reference server's saved queries 1-5, plus a dropdown source (6), a multi-value enum (7)
#: and a query-based dropdown (8); all run on the Treeherder sample schema.
DEFAULT_SAVED_QUERIES: Final[tuple[SavedQuery, ...]] = (
    _q(
        1,
        "pushes by repo (text)",
        "SELECT p.id, p.revision, p.author FROM push p JOIN repository r ON r.id = p.repository_id"
        " WHERE r.name = '{{ repo }}' ORDER BY p.id",
        {"name": "repo", "type": "text", "title": "repo", "value": "mozilla-central"},
    ),
    _q(
        2,
        "jobs by push (number)",
        "SELECT id, guid, result FROM job WHERE push_id = {{ push_id }} ORDER BY id",
        {"name": "push_id", "type": "number", "title": "push_id", "value": 1},
    ),
    _q(
        3,
        "jobs by result (enum)",
        "SELECT id, guid, result FROM job WHERE result = '{{ result }}' ORDER BY id",
        {
            "name": "result",
            "type": "enum",
            "title": "result",
            "value": "success",
            "enumOptions": "success\ntestfailed\nbusted\nretry",
        },
    ),
    _q(
        4,
        "jobs in date range",
        "SELECT id, guid, start_time FROM job WHERE start_time >= '{{ period.start }}'"
        " AND start_time < '{{ period.end }}' ORDER BY id",
        {
            "name": "period",
            "type": "date-range",
            "title": "period",
            "value": {"end": "2024-05-02", "start": "2024-05-01"},
        },
    ),
    _q(
        5,
        "no default",
        "SELECT id FROM push WHERE author = '{{ who }}'",
        {"name": "who", "type": "text", "title": "who"},
    ),
    _q(6, "repository names", "SELECT name FROM repository ORDER BY name"),
    _q(
        7,
        "jobs by results (multi-value enum)",
        "SELECT id, guid, result FROM job WHERE result IN ({{ results }}) ORDER BY id",
        {
            "name": "results",
            "type": "enum",
            "title": "results",
            "value": ["success"],
            "enumOptions": "success\ntestfailed\nbusted\nretry",
            "multiValuesOptions": {"prefix": "'", "suffix": "'", "separator": ","},
        },
    ),
    _q(
        8,
        "pushes by repo (dropdown)",
        "SELECT p.id, p.revision FROM push p JOIN repository r ON r.id = p.repository_id"
        " WHERE r.name = '{{ repo }}' ORDER BY p.id",
        {
            "name": "repo",
            "type": "query",
            "title": "repo",
            "queryId": 6,
            "value": "mozilla-central",
        },
    ),
)


@dataclass
class Faults:
    """Failures to inject, settable while the emulator runs (``emu.faults.resets = 1``).

    Counters are consumed by the requests or jobs they hit; ``null_result_id_polls`` and
    ``hold_queue`` are settings that stay until changed. ``match_path`` (a regular expression
    searched in the path) and ``match_method`` restrict the HTTP-level faults (``html_200``,
    ``html_502``, ``resets``, ``slow``) to some requests.
    """

    #: Each job that finishes reads status 3 with a null result id on its first N polls (§12).
    null_result_id_polls: int = 0
    #: The next N job polls answer 500, as for an expired or unknown job.
    job_lost_polls: int = 0
    #: The next N new jobs read status 4 with error "" once started, yet complete and get cached.
    empty_error_jobs: int = 0
    #: Workers take no job while True: jobs stay at status 1 (no worker consuming the queue).
    hold_queue: bool = False
    #: The next N matching requests get the SPA page (200 text/html).
    html_200: int = 0
    #: The next N matching requests get a proxy error page (502 text/html).
    html_502: int = 0
    #: The next N matching requests have their connection closed without an answer.
    resets: int = 0
    #: The next N matching requests wait ``slow_seconds`` before being answered normally.
    slow: int = 0
    slow_seconds: float = 1.0
    match_path: str | None = None
    match_method: str | None = None

    def clear(self) -> None:
        """Back to no faults at all."""
        for name, value in Faults().__dict__.items():
            setattr(self, name, value)


@dataclass
class RecordedRequest:
    """One request as the emulator received it (for assertions in tests)."""

    method: str
    path: str
    query: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    json: Any
    body: bytes
    time: float
    #: The status answered; 0 when the connection was reset, None while being handled.
    status: int | None = None


@dataclass(frozen=True)
class JobState:
    """A snapshot of one job, as the server holds it (faults aside)."""

    id: str
    state: str  # queued, started, finished, failed, cancelled
    status: int  # what a poll would report without injected faults
    data_source_id: int
    query: str
    query_hash: str
    query_id: str
    result_id: int | None
    error: str | None
    #: Wall-clock times (``time.time()``).
    created_at: float
    started_at: float | None
    ended_at: float | None
