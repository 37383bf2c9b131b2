"""Redash's wire format: job statuses, error answers, ``max_age``, URLs and options.

Pure functions over what the server sends and expects, kept apart from the source's control
flow so each rule of ``reference/redash-api.md`` can be read (and tested) on its own.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import requests

from ..errors import (
    AuthenticationError,
    ConfigError,
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    SourceError,
    SourceUnavailable,
    ThsourcesError,
)
from ..http import HttpSession
from .base import JobState

__all__ = [
    "CANCEL_TEXTS",
    "DIALECTS",
    "clean_error",
    "dialect_for_type",
    "error_for",
    "job_fields",
    "normalise_url",
    "parse_time",
    "query_id",
    "same_text",
    "stored_text",
    "widened",
    "wire_max_age",
]

DIALECTS: Final = {
    "pg": "postgresql",
    "postgres": "postgresql",
    "postgresql": "postgresql",
    "redshift": "postgresql",
    "redshift_iam": "postgresql",
    "cockroach": "postgresql",
    "mysql": "mysql",
    "rds_mysql": "mysql",
    "memsql": "mysql",
    "bigquery": "bigquery",
}
CANCEL_TEXTS: Final = ("Query cancelled by user.", "Query execution cancelled.")
LOGIN_TEXT: Final = "Couldn't find resource. Please login"

_INT_STATES: Final = {
    1: JobState.QUEUED,  # queued
    2: JobState.RUNNING,  # started
    3: JobState.DONE,  # finished (only with a result id)
    4: JobState.FAILED,  # failed, and also cancelled (error "Query cancelled by user.")
    5: JobState.CANCELLED,  # documented, practically never sent
    6: JobState.QUEUED,  # deferred
    7: JobState.QUEUED,  # scheduled
}
# rq's own names, sent by Redash dev builds of April-May 2024 (getredash/redash#6913).
_STR_STATES: Final = {
    "queued": JobState.QUEUED,
    "deferred": JobState.QUEUED,
    "scheduled": JobState.QUEUED,
    "started": JobState.RUNNING,
    "finished": JobState.DONE,
    "failed": JobState.FAILED,
    "canceled": JobState.CANCELLED,
    "cancelled": JobState.CANCELLED,
    "stopped": JobState.CANCELLED,
}
_ANNOTATION: Final = re.compile(r"/\* Username: [^\n]*?Scheduled: (?:True|False) \*/ ?")
_ANNOTATION_TAIL: Final = re.compile(r"Scheduled: (?:True|False) \*/ ?")


# Enough of sqlparse's lexer to find statements and their trailing comments: strings (with
# '' and \' escapes, as sqlparse reads them in every dialect), dollar quotes, identifiers.
_TOKEN: Final = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\r\n]*|\#\ [^\r\n]*|/\*[\s\S]*?(?:\*/|$))
  | (?P<string>[EeBbXxNn]?'(?:''|\\.|[^'\\])*(?:'|$))
  | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$[\s\S]*?(?:\$(?P=tag)\$|$))
  | (?P<ident>"(?:""|[^"])*(?:"|$)|`[^`]*(?:`|$))
  | (?P<semi>;)
  | (?P<other>[^\s;'"`$\-/#]+|.)
    """,
    re.VERBOSE,
)


def stored_text(sql: str) -> str:
    """The text Redash runs and stores for ad-hoc SQL on a SQL data source.

    ``BaseSQLQueryRunner.apply_auto_limit`` splits the text into statements, drops each one's
    trailing comments and semicolon, drops empty statements and joins the rest with ``";\n"``
    (whether or not it adds a LIMIT). This follows it closely; where it does not, a result is
    only taken for another text and run again (see ``same_text``), never wrongly accepted.
    """
    statements: list[list[tuple[str, str]]] = [[]]
    for m in _TOKEN.finditer(sql):
        kind = m.lastgroup or "other"
        kind = "dollar" if kind == "tag" else kind
        statements[-1].append((kind, m.group(0)))
        if kind == "semi":
            statements.append([])
    out = []
    for stmt in statements:
        while stmt and stmt[-1][0] in ("ws", "comment"):
            stmt.pop()
        if stmt and stmt[-1][0] == "semi":
            stmt.pop()
        text = "".join(t for _, t in stmt).strip()
        if any(kind not in ("ws", "comment") for kind, _ in stmt):
            out.append(text)
    return ";\n".join(out)


def same_text(ran: str, sent: str) -> bool:
    """True when ``ran`` (a result's ``query``) is ``sent`` as Redash would store it.

    Redash's cache key ignores every whitespace character and ``/* */`` comment, string
    literals included, so a result (cached, or of a job merged with ours) can belong to
    another text: ``'a b'`` and ``'ab'`` share one. Only what the server itself strips is
    forgiven here.
    """
    return ran == sent or ran == stored_text(sent) or stored_text(ran) == stored_text(sent)


def dialect_for_type(ds_type: str | None) -> str | None:
    """The SQL dialect of a Redash data source type, or None when it is not known."""
    return DIALECTS.get((ds_type or "").lower())


def wire_max_age(max_age: float | None) -> int:
    """``max_age`` as Redash wants it: whole seconds; ``math.inf`` means any age (-1).

    None is the default, 0 (run now): Redash's own default, any age, is never implied.
    """
    if max_age is None:
        return 0
    if isinstance(max_age, float) and math.isinf(max_age) and max_age > 0:
        return -1
    if isinstance(max_age, bool) or not isinstance(max_age, int | float) or math.isnan(max_age):
        raise ParameterError(f"max_age must be a number of seconds, not {max_age!r}")
    if max_age < 0:
        raise ParameterError(
            "max_age must be 0 (run now), a number of seconds, or math.inf (any age)"
        )
    return math.ceil(max_age)


def widened(body: dict[str, Any], since_wall: float) -> dict[str, Any]:
    """``body`` with a ``max_age`` reaching back to ``since_wall`` (plus a second of slack).

    Re-posting a query with it either joins the first job (Redash merges identical SQL while
    a job is pending) or finds that job's stored result, so it never runs the query twice
    for nothing; a result it picks up was retrieved after the caller asked.
    """
    age = body.get("max_age", 0)
    if age == -1:
        return dict(body)
    needed = math.ceil(max(0.0, time.time() - since_wall)) + 1
    return {**body, "max_age": max(int(age), needed)}


def clean_error(text: str) -> str:
    """The server's error text without the ``/* Username: ... */`` comment Redash prepends.

    PostgreSQL quotes the failing line with a caret under the error position; the comment is
    cut out of that line and the caret moved with it.
    """
    lines = text.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.match(r"(LINE (\d+): )", line)
        end = _annotation_end(line, m.group(1), m.group(2) == "1") if m else None
        if m and end is not None:
            prefix = m.group(1)
            removed = end - len(prefix)
            out.append(prefix + line[end:])
            nxt = lines[i + 1] if i + 1 < len(lines) else ""
            if nxt.strip() == "^":
                out.append(" " * max(len(prefix), nxt.index("^") - removed) + "^")
                i += 2
                continue
        else:
            out.append(_ANNOTATION.sub("", line))
        i += 1
    return "\n".join(out).strip()


def _annotation_end(line: str, prefix: str, first_line: bool) -> int | None:
    """Where the runner's annotation ends in a ``LINE n:`` excerpt, or None if it is absent.

    PostgreSQL shows at most 60 characters around the error: on a long first line the
    excerpt starts with ``...`` in the middle of the annotation (``...uled: False */``,
    ``...se */``), which is then what is left of it before its ``*/``.
    """
    tail = _ANNOTATION_TAIL.search(line, len(prefix))
    if tail is not None:
        return tail.end()
    if not (first_line and line.startswith("...", len(prefix))):
        return None
    close = line.find("*/", len(prefix) + 3)
    if close < 0:
        return None
    left = line[len(prefix) + 3 : close]
    if not ("Scheduled: False ".endswith(left) or "Scheduled: True ".endswith(left)):
        return None
    end = close + 2
    return end + 1 if line.startswith(" ", end) else end


def job_fields(
    job: Any, redact: Callable[[object], str]
) -> tuple[JobState, int | str | None, str, str | None]:
    """(canonical state, result id, error text, job id) of a Redash job object.

    Integer and string statuses are accepted, and the result id under ``query_result_id``,
    ``result_id`` or ``result``. A finished job without a result id is still running (rq
    writes the status before the id).
    """
    if not isinstance(job, dict):
        raise ProtocolError(redact(f"Redash sent a job of the wrong shape: {job!r}")[:300])
    raw = job.get("status")
    state: JobState | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        state = _INT_STATES.get(raw)
    elif isinstance(raw, str):
        state = _INT_STATES.get(int(raw)) if raw.isdigit() else _STR_STATES.get(raw.lower())
    if state is None:
        raise ProtocolError(redact(f"Redash sent an unknown job status {raw!r}"))
    rid: Any = None
    for key in ("query_result_id", "result_id", "result"):
        value = job.get(key)
        if isinstance(value, int | str) and not isinstance(value, bool) and value != "":
            rid = value
            break
    error = job.get("error") or ""
    jid = job.get("id")
    return state, rid, str(error), (str(jid) if jid not in (None, "") else None)


def parse_time(value: Any) -> dt.datetime | None:
    """An aware datetime from Redash's ISO text (naive means UTC)."""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC) if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.astimezone(dt.UTC) if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def error_for(
    http: HttpSession, response: requests.Response, *, what: str, base_url: str
) -> ThsourcesError:
    """The error a non-2xx Redash answer means (reference §7.3, §8).

    Both body shapes are read: ``{"job": {"error": ...}}`` and ``{"message": ...}``.
    """
    status = response.status_code
    source = http.source
    redact = http.redactor
    body: Any = None
    ctype = response.headers.get("Content-Type", "").lower()
    if "json" in ctype:
        try:
            body = response.json()
        except ValueError:
            body = None
    job_error = message = None
    if isinstance(body, dict):
        if isinstance(body.get("job"), dict):
            job_error = str(body["job"].get("error") or "")
        if isinstance(body.get("message"), str):
            message = body["message"]
    text = redact(job_error or message or "")
    if status == 404 and "json" not in ctype:
        # Redash answers JSON on every /api/ path, a bad key included: this is another server.
        return ProtocolError(
            f"{redact(base_url)} does not look like a Redash server: {what} answered HTTP 404 "
            f"with {ctype.split(';')[0] or 'no content type'} where Redash answers JSON; check "
            "the url (the server's base URL, like https://sql.telemetry.mozilla.org)",
            source=source,
            status_code=status,
        )
    if status == 404 and text.startswith(LOGIN_TEXT):
        return AuthenticationError(
            f'Redash refused the API key (HTTP 404 "{text}"): check api_key; a query API '
            "key only works for run_saved() of its own query",
            source=source,
            status_code=status,
        )
    if status == 404:
        return NotFound(
            f"{what}: not found on {base_url} (HTTP 404{': ' + text if text else ''})",
            source=source,
            status_code=status,
        )
    if status == 403:
        return PermissionDenied(
            f"Redash refused {what}: {text or 'HTTP 403 Forbidden'}",
            source=source,
            status_code=status,
        )
    if status == 401:
        if job_error is not None:
            # Redash's 401 with a job body is about the data source, not the credentials.
            return NotFound(
                f"data source problem: {text} (check the data_source option)",
                source=source,
                status_code=status,
            )
        return AuthenticationError(
            f"Redash refused the request (HTTP 401{': ' + text if text else ''})",
            source=source,
            status_code=status,
        )
    if status == 400:
        if text.startswith("Missing parameter value") or "incompatible with their def" in text:
            return ParameterError(text, source=source, status_code=status)
        if "is paused" in text:
            return SourceUnavailable(text, source=source, status_code=status)
        return SourceError(
            f"Redash rejected {what} (HTTP 400): {text or 'Bad Request'}",
            source=source,
            status_code=status,
        )
    if status >= 500:
        kind = "an HTML page" if "html" in ctype else (text or "no details")
        return SourceUnavailable(
            f"Redash failed on {what}: HTTP {status} ({kind})", source=source, status_code=status
        )
    return http.error_for(response, text or None)


def normalise_url(url: str | None) -> str:
    """The server's base URL: http(s), no trailing slash, no ``/api`` suffix, no query."""
    if not url or not str(url).strip():
        raise ConfigError(
            "the redash source needs a url: pass url=... or set it in the profile, e.g. "
            'url = "https://sql.telemetry.mozilla.org"'
        )
    text = str(url).strip()
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            "the redash url must start with https:// (or http://) and name a host, not "
            f"{_shown_url(text)!r}"
        )
    if parts.username is not None or parts.password is not None:
        bare = urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[1], parts.path, "", ""))
        # requests would turn them into an "Authorization: Basic" header that replaces the
        # API key's "Authorization: Key", and the server would refuse the key.
        raise ConfigError(
            "the redash url must not carry a user name or password (user:password@): Redash "
            f"authenticates with the API key alone: use {bare!r}"
        )
    if parts.query or parts.fragment:
        if "api_key" in parts.query:
            raise ConfigError(
                "do not put the API key in the url (it would end up in logs and override "
                "the header): pass it as api_key=..."
            )
        raise ConfigError(
            f"the redash url must not carry a query string or fragment: {_shown_url(text)!r}"
        )
    path = parts.path.rstrip("/")
    if path.endswith("/api"):
        path = path[: -len("/api")]
    segments = path.split("/")
    if "api" in segments or "queries" in segments or "dashboards" in segments:
        raise ConfigError(
            "the redash url should be the server's base URL (like "
            f"https://sql.telemetry.mozilla.org), not a page or API path: {_shown_url(text)!r}"
        )
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _shown_url(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def float_option(name: str, value: float | str | None, default: float, source: str) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(
            f"option {name} must be a number of seconds, not {value!r}", source=source
        ) from None
    if math.isnan(number) or number < 0:
        raise ConfigError(f"option {name} must be a non-negative number", source=source)
    return number


def data_source_option(value: str | int | None) -> str | int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ConfigError(f"data_source must be a name or an id, not {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    return int(text) if text.isdigit() else text


def verify_option(value: bool | str | None) -> bool | str:
    """TLS verification: on by default; a bool, a boolean word (profiles hold strings), or
    the path of a CA bundle (a PEM file or a directory of certificates)."""
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    lowered = text.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    if not text or not Path(text).exists():
        raise ConfigError(
            "option verify must be true, false, or the path of a CA bundle (a PEM file or a "
            f"directory of certificates); {text!r} is not a boolean and no such file exists"
        )
    return text


def query_id(value: int | str) -> int:
    """A saved query's id from a number, a digit string or a query's URL."""
    if isinstance(value, bool):
        raise ParameterError(f"a saved query id is a number, not {value!r}")
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    m = re.search(r"/queries/(\d+)", text)
    if m:
        return int(m.group(1))
    raise ParameterError(f"a saved query id is a number (or a query URL), not {value!r}")
