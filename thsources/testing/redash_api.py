"""The Redash HTTP API of the emulator: routing, API-key auth and one function per endpoint.

Every answer copies the server's (``redash/handlers/*.py`` at the reference version): the two
error shapes (``{"job": {"status": 4, "error": ...}}`` for execution refusals, ``{"message":
...}`` for aborts), a 404 JSON for a bad key on ``/api/``, a 500 for unknown jobs or data sources,
the SPA page for a mistyped path with a valid key, and the order in which checks are made.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import quote

import orjson

from thsources.testing.httpserver import Reply, Request
from thsources.testing.redash_model import DataSource, SavedQuery, User, iso_utc
from thsources.testing.redash_mustache import MustacheError
from thsources.testing.redash_params import (
    InvalidParameterError,
    QueryDetachedError,
    is_safe,
    missing_params,
    render,
    validate,
)
from thsources.testing.redash_results import data_to_dsv
from thsources.testing.redash_sql import apply_auto_limit as auto_limit
from thsources.testing.redash_sql import combine_statements

if TYPE_CHECKING:
    from thsources.testing.redash import RedashEmulator, _Result

__all__ = ["Reply", "Request", "handle", "html_fault_reply", "http_fault", "internal_error"]

LOGIN_MESSAGE: Final = "Couldn't find resource. Please login and try again."
NOT_FOUND_MESSAGE: Final = (
    "The requested URL was not found on the server. If you entered the URL manually please check"
    " your spelling and try again."
)
FORBIDDEN_MESSAGE: Final = (
    "You don't have the permission to access the requested resource. It is either"
    " read-protected or not readable by the server."
)
NO_CACHED_RESULT: Final = "No cached result found for this query."
UNSAFE_WHEN_SHARED: Final = (
    "This query contains potentially unsafe parameters and cannot be executed on a shared"
    " dashboard or an embedded visualization."
)
UNSAFE_ON_VIEW_ONLY: Final = (
    "This query contains potentially unsafe parameters and cannot be executed with read-only"
    " access to this data source."
)
NO_PERMISSION: Final = "You do not have permission to run queries with this data source."
ONE_YEAR: Final = int(60 * 60 * 24 * 365.25)

SPA_PAGE: Final = (
    b'<!DOCTYPE html>\n<html lang="en" translate="no">\n  <head>\n    <meta charset="UTF-8" />\n'
    b"    <title>Redash</title>\n  </head>\n  <body>\n"
    b'    <section class="app-wrapper"></section>\n  </body>\n</html>\n'
)
PROXY_502_PAGE: Final = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
METHOD_NOT_ALLOWED_PAGE: Final = (
    b"<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n"
    b"<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n"
)
HTML: Final = "text/html; charset=utf-8"


@dataclass
class _Principal:
    """Who is calling: a user, or a saved query's own API key (Redash's ``ApiUser``)."""

    user: User | None = None
    query: SavedQuery | None = None

    @property
    def is_api_user(self) -> bool:
        return self.query is not None

    @property
    def username(self) -> str:
        if self.query is not None:
            return f"<ApiKey: Query {self.query.id}>"
        assert self.user is not None
        return self.user.email


def _json(status: int, payload: Any) -> Reply:
    return Reply(status, orjson.dumps(payload))


def _message(status: int, text: str) -> Reply:
    return _json(status, {"message": text})


def _job_error(status: int, text: str) -> Reply:
    return _json(status, {"job": {"status": 4, "error": text}})


def internal_error() -> Reply:
    """What Flask answers for an unhandled exception."""
    return _message(500, "Internal Server Error")


def html_fault_reply(kind: str) -> Reply:
    if kind == "html_502":
        return Reply(502, PROXY_502_PAGE, "text/html")
    return Reply(200, SPA_PAGE, HTML)


def http_fault(emulator: RedashEmulator, method: str, path: str) -> str | None:
    """The HTTP-level fault this request suffers, consuming one unit of its counter."""
    faults = emulator.faults
    if faults.match_method and method.upper() != faults.match_method.upper():
        return None
    if faults.match_path and not re.search(faults.match_path, path):
        return None
    for name in ("resets", "html_502", "html_200", "slow"):
        if emulator._take(name):
            return "reset" if name == "resets" else name
    return None


class _Abort(Exception):
    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


def _login_required(request: Request) -> Reply:
    if "/api/" in request.path:
        return _message(404, LOGIN_MESSAGE)
    target = "/login?next=" + quote(request.path, safe="")
    body = (
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n"
        "<p>You should be redirected automatically to the target URL: "
        f'<a href="{target}">{target}</a>. If not, click the link.\n'
    ).encode()
    return Reply(302, body, HTML, [("Location", target)])


def _api_key(request: Request) -> str | None:
    """``get_api_key_from_request``: ``?api_key=`` wins; else the header minus one ``"Key "``."""
    if "api_key" in request.args:
        return request.args["api_key"][0]
    header = request.headers.get("authorization")
    if header:
        return header.replace("Key ", "", 1)
    return None


def _saved_query(emulator: RedashEmulator, query_id: str) -> SavedQuery | None:
    try:
        number = int(query_id)
    except ValueError as e:  # the database rejects the id: an unhandled error
        raise _Abort(internal_error()) from e
    return emulator.saved_queries.get(number)


def _authenticate(
    emulator: RedashEmulator, request: Request, query_id: str | None
) -> _Principal | None:
    key = _api_key(request)
    if not key:
        return None
    user = emulator._user_by_key(key)
    if user is not None:
        return _Principal(user=user)
    if query_id is not None:
        query = _saved_query(emulator, query_id)
        if query is None:  # Query.get_by_id_and_org raises, uncaught: a 500
            raise _Abort(internal_error())
        if query.api_key == key:
            return _Principal(query=query)
    return None


def _max_age(value: Any) -> int:
    if value is None:
        return -1
    try:
        return int(value)
    except (TypeError, ValueError) as e:
        raise _Abort(internal_error()) from e


def _data_source(emulator: RedashEmulator, value: Any) -> DataSource:
    try:
        ds = emulator.data_sources.get(int(value))
    except (TypeError, ValueError) as e:
        raise _Abort(internal_error()) from e
    if ds is None:  # .one() raises NoResultFound, uncaught: a 500, not a 404
        raise _Abort(internal_error())
    return ds


def _run_query(
    emulator: RedashEmulator,
    who: _Principal,
    template: str,
    schema: list[dict[str, Any]],
    parameters: Any,
    ds: DataSource,
    query_id: str,
    limit: bool,
    max_age: int,
) -> Reply:
    """``run_query`` in ``handlers/query_results.py``: checks, cache lookup or a job."""
    if ds.paused:
        reason = f" ({ds.pause_reason})" if ds.pause_reason else ""
        return _job_error(400, f"{ds.name} is paused{reason}. Please try later.")
    if not isinstance(parameters, dict):
        return internal_error()
    try:
        validate(schema, parameters, emulator._dropdown_values)
        text = render(template, parameters, schema)
    except (InvalidParameterError, QueryDetachedError) as e:
        return _message(400, str(e))
    except (MustacheError, TypeError):
        return internal_error()
    if ds.supports_auto_limit:  # a SQL runner: BaseSQLQueryRunner.apply_auto_limit
        text = auto_limit(text) if limit else combine_statements(text)
    missing = missing_params(template, parameters)
    if missing:
        return _job_error(400, "Missing parameter value for: " + ", ".join(missing))
    result = None if max_age == 0 else emulator._latest_result(ds.id, text, max_age)
    if result is not None:
        with emulator._lock:
            emulator.cache_hits += 1
        return _json(200, {"query_result": result.to_dict(restricted=who.is_api_user)})
    job = emulator._enqueue(ds, text, query_id, who.username)
    return _json(200, {"job": emulator._job_dict(job, poll=False)})


# ---------------------------------------------------------------------- endpoints

_Params = dict[str, Any]


def _list_data_sources(
    emulator: RedashEmulator, request: Request, who: _Principal, p: _Params
) -> Reply:
    items = [ds.summary() for ds in emulator.data_sources.values()]
    items.sort(key=lambda d: str(d["name"]).lower())
    return _json(200, items)


def _get_data_source(
    emulator: RedashEmulator, request: Request, who: _Principal, p: _Params
) -> Reply:
    try:
        ds = emulator.data_sources.get(int(p["data_source_id"]))
    except ValueError:
        return internal_error()
    if ds is None:
        return _message(404, NOT_FOUND_MESSAGE)
    return _json(200, ds.details(admin=who.user is not None and who.user.admin))


def _get_schema(emulator: RedashEmulator, request: Request, who: _Principal, p: _Params) -> Reply:
    """``DataSourceSchemaResource``: the cached schema (the emulator always has it cached)."""
    try:
        ds = emulator.data_sources.get(int(p["data_source_id"]))
    except ValueError:
        return internal_error()
    if ds is None:
        return _message(404, NOT_FOUND_MESSAGE)
    return _json(200, {"schema": emulator._schema(ds)})


def _post_query_results(
    emulator: RedashEmulator, request: Request, who: _Principal, p: _Params
) -> Reply:
    try:
        params = json.loads(request.body)
    except ValueError as e:
        return _message(400, f"Failed to decode JSON object: {e}")
    if not isinstance(params, dict) or not isinstance(params.get("query"), str):
        return internal_error()  # params["query"] fails: KeyError/TypeError
    max_age = _max_age(params.get("max_age", -1))
    query_id = params.get("query_id", "adhoc")
    if "parameters" in params:
        parameters = params["parameters"]
    else:  # collect_parameters_from_request: p_<name> URL arguments
        parameters = {k[2:]: v[0] for k, v in request.args.items() if k.startswith("p_")}
    limit = bool(params.get("apply_auto_limit"))
    if not params.get("data_source_id"):
        return _job_error(401, "Please select data source to run this query.")
    ds = _data_source(emulator, params["data_source_id"])
    if ds.view_only:
        return _job_error(403, NO_PERMISSION)
    return _run_query(
        emulator, who, params["query"], [], parameters, ds, str(query_id), limit, max_age
    )


def _post_saved_query(
    emulator: RedashEmulator, request: Request, who: _Principal, p: _Params
) -> Reply:
    try:
        params = json.loads(request.body) or {}
    except ValueError:
        params = {}  # get_json(silent=True)
    if not isinstance(params, dict):
        return internal_error()
    parameters = params.get("parameters", {})
    max_age = _max_age(params.get("max_age", -1))
    query = _saved_query(emulator, p["query_id"])
    if query is None:
        return _message(404, NOT_FOUND_MESSAGE)
    ds = emulator.data_sources.get(query.data_source_id) if query.data_source_id else None
    if ds is None:
        return _job_error(401, "Target data source not available.")
    safe = is_safe(query.parameters)
    if "apply_auto_limit" in params:
        limit = bool(params["apply_auto_limit"])
    else:
        limit = bool(query.options.get("apply_auto_limit", False))
    allowed = (who.query is query and safe) if who.is_api_user else (safe or not ds.view_only)
    if not allowed:
        if not safe:
            return _job_error(403, UNSAFE_WHEN_SHARED if who.is_api_user else UNSAFE_ON_VIEW_ONLY)
        return _job_error(403, NO_PERMISSION)
    return _run_query(
        emulator, who, query.query, query.parameters, parameters, ds, p["query_id"], limit, max_age
    )


def _refresh(emulator: RedashEmulator, request: Request, who: _Principal, p: _Params) -> Reply:
    if who.is_api_user:
        return _message(403, "Please use a user API key.")
    query = _saved_query(emulator, p["query_id"])
    if query is None:
        return _message(404, NOT_FOUND_MESSAGE)
    ds = emulator.data_sources.get(query.data_source_id) if query.data_source_id else None
    if ds is None:
        return _job_error(401, "Target data source not available.")
    if ds.view_only:
        return _message(403, FORBIDDEN_MESSAGE)
    parameters = {k[2:]: v[0] for k, v in request.args.items() if k.startswith("p_")}
    limit = bool(query.options.get("apply_auto_limit", False))
    # No schema: /refresh does not validate parameter values.
    return _run_query(emulator, who, query.query, [], parameters, ds, str(query.id), limit, 0)


def _get_job(emulator: RedashEmulator, request: Request, who: _Principal, p: _Params) -> Reply:
    if emulator._take("job_lost_polls"):
        return internal_error()
    job = emulator._live_job(p["job_id"])
    if job is None:  # NoSuchJobError, uncaught
        return internal_error()
    return _json(200, {"job": emulator._job_dict(job, poll=True)})


def _delete_job(emulator: RedashEmulator, request: Request, who: _Principal, p: _Params) -> Reply:
    job = emulator._live_job(p["job_id"])
    if job is None:
        return internal_error()
    emulator._cancel(job)
    return _json(200, None)


def _to_filename(name: str) -> str:
    name = re.sub(r'[<>:"\\\/|?*]+', " ", name)
    return re.sub(r"\s+", "_", name).strip("_")


_TOKEN_CHARS: Final = frozenset(
    "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
)


def _content_disposition(filename: str) -> str:
    if filename and set(filename) <= _TOKEN_CHARS:
        return f"attachment; filename={filename}"
    escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
    return f'attachment; filename="{escaped}"'


def _result_reply(result: _Result, query: SavedQuery | None, filetype: str, cache: bool) -> Reply:
    if filetype == "json":
        reply = _json(200, {"query_result": result.to_dict()})
    elif filetype == "csv":
        reply = Reply(200, data_to_dsv(result.data(), ",").encode(), "text/csv; charset=UTF-8")
    elif filetype == "tsv":
        body = data_to_dsv(result.data(), "\t").encode()
        reply = Reply(200, body, "text/tab-separated-values; charset=UTF-8")
    else:  # xlsx is not emulated; unknown types are a KeyError (500) on the server too
        return internal_error()
    if cache:
        reply.headers.append(("Cache-Control", f"private,max-age={ONE_YEAR}"))
    if query is not None:
        stem = _to_filename(query.name) if query.name != "" else str(query.id)
    else:
        stem = str(result.id)
    filename = f"{stem}_{result.retrieved_at.strftime('%Y_%m_%d')}.{filetype}"
    reply.headers.append(("Content-Disposition", _content_disposition(filename)))
    return reply


def _get_result(emulator: RedashEmulator, request: Request, who: _Principal, p: _Params) -> Reply:
    result = emulator._result(int(p["result_id"]))
    if result is None:
        return _message(404, NOT_FOUND_MESSAGE)
    query = None
    if p.get("query_id") is not None:
        query = _saved_query(emulator, p["query_id"])
        if query is None:
            return _message(404, NOT_FOUND_MESSAGE)
        if who.is_api_user and emulator._saved_query_hash(query) != result.query_hash:
            return _message(404, NO_CACHED_RESULT)
    return _result_reply(result, query, p.get("filetype") or "json", cache=True)


def _get_latest_result(
    emulator: RedashEmulator, request: Request, who: _Principal, p: _Params
) -> Reply:
    query = _saved_query(emulator, p["query_id"])
    if query is None:
        return _message(404, NOT_FOUND_MESSAGE)
    result = None
    if query.latest_query_data_id is not None:
        result = emulator._result(query.latest_query_data_id)
        if result is None:
            return _message(404, NOT_FOUND_MESSAGE)
        if who.is_api_user and emulator._saved_query_hash(query) != result.query_hash:
            return _message(404, NO_CACHED_RESULT)
    if result is None:
        return _message(404, NO_CACHED_RESULT)
    return _result_reply(result, query, p.get("filetype") or "json", cache=False)


def _user_dict(emulator: RedashEmulator, user_id: int) -> dict[str, Any]:
    user = next((u for u in emulator.users if u.id == user_id), None) or User(
        id=user_id, api_key=""
    )
    return user.to_dict(emulator.created_at)


def _query_dict(
    emulator: RedashEmulator, query: SavedQuery, *, stats: bool, full: bool
) -> dict[str, Any]:
    """``serialize_query``: ``full`` for one query (visualizations), ``stats`` for listings."""
    created = iso_utc(query.created_at or emulator.created_at)
    d: dict[str, Any] = {
        "id": query.id,
        "latest_query_data_id": query.latest_query_data_id,
        "name": query.name,
        "description": query.description,
        "query": query.query,
        "query_hash": emulator._saved_query_hash(query),
        "schedule": query.schedule,
        "api_key": query.api_key,
        "is_archived": query.is_archived,
        "is_draft": query.is_draft,
        "updated_at": created,
        "created_at": created,
        "data_source_id": query.data_source_id,
        "options": query.all_options(),
        "version": query.version,
        "tags": list(query.tags),
        "is_safe": is_safe(query.parameters),
        "user": _user_dict(emulator, query.user_id),
    }
    if full:
        d["last_modified_by"] = _user_dict(emulator, query.user_id)
    else:
        d["last_modified_by_id"] = query.user_id
    if stats:
        latest = (
            emulator._result(query.latest_query_data_id) if query.latest_query_data_id else None
        )
        d["retrieved_at"] = iso_utc(latest.retrieved_at) if latest else None
        d["runtime"] = latest.runtime if latest else None
    if full:
        d["visualizations"] = [
            {
                "id": query.id,
                "type": "TABLE",
                "name": "Table",
                "description": "",
                "options": {},
                "updated_at": created,
                "created_at": created,
            }
        ]
    return d


def _get_query(emulator: RedashEmulator, request: Request, who: _Principal, p: _Params) -> Reply:
    query = _saved_query(emulator, p["query_id"])
    if query is None:
        return _message(404, NOT_FOUND_MESSAGE)
    d = _query_dict(emulator, query, stats=False, full=True)
    if who.user is not None:
        d["is_favorite"] = False
    d["can_edit"] = who.user is not None and (who.user.id == query.user_id or who.user.admin)
    return _json(200, d)


def _int_arg(request: Request, name: str, default: int) -> int:
    value = request.first(name)
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


_ORDERS: Final[dict[str, Callable[[SavedQuery], Any]]] = {
    "name": lambda q: q.name.lower(),
    "created_at": lambda q: (q.created_at, q.id),
}


def _list_queries(emulator: RedashEmulator, request: Request, who: _Principal, p: _Params) -> Reply:
    queries = [q for q in emulator.saved_queries.values() if not q.is_archived]
    term = (request.first("q") or "").strip().lower()
    if term:

        def matches(q: SavedQuery) -> bool:
            text = " ".join((str(q.id), q.name, q.description or "", q.query)).lower()
            return all(word in text for word in term.split())

        queries = [q for q in queries if matches(q)]
    tags = request.args.get("tags") or []
    if tags:
        queries = [q for q in queries if set(tags) <= set(q.tags)]
    order = (request.first("order") or "").strip()
    key = _ORDERS.get(order.lstrip("-"))
    if key is None:
        order, key = "-created_at", _ORDERS["created_at"]
    queries.sort(key=key, reverse=order.startswith("-"))

    page = _int_arg(request, "page", 1)
    page_size = _int_arg(request, "page_size", 25)
    count = len(queries)
    if page < 1:
        return _message(400, "Page must be positive integer.")
    if (page - 1) * page_size + 1 > count > 0:
        return _message(400, "Page is out of range.")
    if page_size > 250 or page_size < 1:
        return _message(400, "Page size is out of range (1-250).")
    items = []
    for q in queries[(page - 1) * page_size : page * page_size]:
        d = _query_dict(emulator, q, stats=True, full=False)
        d["is_favorite"] = False
        items.append(d)
    return _json(200, {"count": count, "page": page, "page_size": page_size, "results": items})


# ---------------------------------------------------------------------- routing

_Endpoint = Callable[["RedashEmulator", Request, _Principal, _Params], Reply]

_ROUTE_TABLE: Final[tuple[tuple[str, dict[str, _Endpoint]], ...]] = (
    (r"/api/data_sources", {"GET": _list_data_sources}),
    (r"/api/data_sources/(?P<data_source_id>[^/]+)", {"GET": _get_data_source}),
    (r"/api/data_sources/(?P<data_source_id>[^/]+)/schema", {"GET": _get_schema}),
    (r"/api/query_results", {"POST": _post_query_results}),
    (r"/api/query_results/(?P<result_id>\d+)(?:\.(?P<filetype>[^/.]+))?", {"GET": _get_result}),
    (r"/api/queries", {"GET": _list_queries}),
    (r"/api/queries/(?P<query_id>[^/]+)", {"GET": _get_query}),
    (
        r"/api/queries/(?P<query_id>[^/]+)/results",
        {"GET": _get_latest_result, "POST": _post_saved_query},
    ),
    (
        r"/api/queries/(?P<query_id>[^/]+)/results\.(?P<filetype>[^/.]+)",
        {"GET": _get_latest_result},
    ),
    (
        r"/api/queries/(?P<query_id>[^/]+)/results/(?P<result_id>\d+)\.(?P<filetype>[^/.]+)",
        {"GET": _get_result},
    ),
    (r"/api/queries/(?P<query_id>[^/]+)/refresh", {"POST": _refresh}),
    (
        r"/api/queries/(?P<query_id>[^/]+)/jobs/(?P<job_id>[^/]+)",
        {"GET": _get_job, "DELETE": _delete_job},
    ),
    (r"/api/jobs/(?P<job_id>[^/]+)", {"GET": _get_job, "DELETE": _delete_job}),
)
_ROUTES: Final = tuple((re.compile(pattern), methods) for pattern, methods in _ROUTE_TABLE)


def handle(emulator: RedashEmulator, request: Request) -> Reply:
    """Answer one request the way the Redash server would."""
    method = "GET" if request.method == "HEAD" else request.method
    try:
        for pattern, methods in _ROUTES:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            if method == "OPTIONS":  # Flask answers these itself
                allowed = sorted(
                    {*methods, "HEAD", "OPTIONS"} if "GET" in methods else {*methods, "OPTIONS"}
                )
                return Reply(200, b"", HTML, [("Allow", ", ".join(allowed))])
            endpoint = methods.get(method)
            if endpoint is None:
                return _message(405, "The method is not allowed for the requested URL.")
            params = match.groupdict()
            who = _authenticate(emulator, request, params.get("query_id"))
            if who is None:
                return _login_required(request)
            return endpoint(emulator, request, who, params)
        # The single-page app's catch-all route answers any other GET.
        if method != "GET":
            return Reply(405, METHOD_NOT_ALLOWED_PAGE, HTML, [("Allow", "GET, HEAD, OPTIONS")])
        if _authenticate(emulator, request, None) is None:
            return _login_required(request)
        return Reply(200, SPA_PAGE, HTML)
    except _Abort as abort:
        return abort.reply
