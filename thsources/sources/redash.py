"""The ``redash`` source: SQL through a Redash server's HTTP API (e.g. sql.telemetry.mozilla.org).

Redash runs queries asynchronously: a POST answers with either a cached result or a job, the
job is polled until it has a result id, and the result is fetched. Every existing client gets
some of that wrong (``reference/redash-api.md`` §14); this one follows §15 of that page:
explicit ``max_age``, both answer shapes, an adaptive poll, the status-3-without-id race, lost
jobs and the empty-error anomaly recovered by re-posting with a ``max_age`` that picks up the
first run, cancellation of every job the caller gives up on, parameters bound client-side
(Redash pastes them in raw), and no key in any URL, message or log line.

Execution and polling are this module's own; the management calls that ``redash-toolbelt``
covers (data sources, query definitions) go through its client, with its ``session`` replaced
by the project's hardened one so they get the same timeouts, retries and error mapping.
"""

from __future__ import annotations

import contextvars
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit

import requests
from redash_toolbelt import Redash

from ..errors import (
    AuthenticationError,
    ConfigError,
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    QueryCancelled,
    QueryError,
    QueryTimeout,
    SourceError,
    SourceUnavailable,
    ThsourcesError,
)
from ..http import DEFAULT_RETRY, HttpSession, RetryPolicy, Timeouts
from ..httpbody import BodyLost, Incoming
from ..polling import (
    DEFAULT_POLL,
    Deadline,
    Pending,
    PollSchedule,
    ProgressCallback,
    check_timeout,
    wait_or_cancel,
)
from ..result import Column, Result, ResultMeta
from ..sqlbind import bind
from .base import DEFAULT_TIMEOUT, Job, JobState, Source, register
from .redash_params import ParamDef, parse_schema, prepare, protect_mustache
from .redash_wire import (
    CANCEL_TEXTS,
    clean_error,
    data_source_option,
    dialect_for_type,
    error_for,
    float_option,
    job_fields,
    normalise_url,
    parse_time,
    same_text,
    verify_option,
    widened,
    wire_max_age,
)
from .redash_wire import query_id as _parse_query_id

__all__ = ["RedashJob", "RedashSource", "dialect_for_type"]

log = logging.getLogger("thsources.sources.redash")

_MAX_RECOVERIES: Final = 2
"""Re-posts after a lost job or an empty-error failure before giving up."""

_CANCEL_TIMEOUTS: Final = Timeouts(connect=5.0, read=10.0)
_CANCEL_RETRY: Final = RetryPolicy(attempts=3, initial=0.1, maximum=1.0)
_DIALECT_NAMES: Final = ("postgresql", "mysql", "bigquery")
_SUBMIT_GRACE: Final = 5.0
_STREAM_MIN: Final = 64 << 10
"""Answers from this size on are decoded while they arrive (see ``httpbody``); job answers
and small results are read whole, as before."""
_PEEK: Final = 64
"""Bytes of a POST answer read to tell a cached result (decoded as it arrives) from a job."""
"""Seconds a submission's answer may arrive after the deadline: the job id is needed to cancel."""

# The deadline of the call in progress, for management requests made through
# redash-toolbelt (whose methods take no deadline argument). Per thread, per context.
_DEADLINE: contextvars.ContextVar[Deadline | None] = contextvars.ContextVar(
    "thsources_redash_deadline", default=None
)


@dataclass(frozen=True, slots=True)
class _DataSource:
    id: int
    name: str | None
    type: str | None
    syntax: str | None = "sql"


def _passing(exc: SourceUnavailable) -> bool:
    """Whether an unavailable server may well be back soon: no answer, or a gateway's 5xx."""
    return exc.status_code in (None, 429, 502, 503, 504)


class _OtherText(Exception):
    """Redash answered with the result of another text that shares our query hash."""

    def __init__(self, ran: str) -> None:
        super().__init__(ran)
        self.ran = ran


_MARK: Final = "-- thsources run {}\n"
"""Put in front of a text to give it a query hash of its own (see ``RedashJob._rerun``)."""


@dataclass(frozen=True, slots=True)
class _Ready:
    """A finished job: either its result id (to fetch) or the result itself."""

    result_id: int | str | None = None
    result: Result | None = None


@dataclass(frozen=True)
class _Arriving:
    """A cached result arriving as the answer to a POST, and how to ask again if it is cut."""

    incoming: Incoming
    again: Callable[[], dict[str, Any] | bytes]


class _ToolbeltSession:
    """Stands in for ``redash_toolbelt.Redash.session``: our session, our error mapping."""

    def __init__(self, source: RedashSource) -> None:
        self._source = source

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        body = {"json": kwargs["json"]} if "json" in kwargs else {}
        response = self._source._http.request(
            method, url, params=kwargs.get("params"), deadline=_DEADLINE.get(), **body
        )
        self._source._answer(response, what=f"{method.upper()} {urlsplit(url).path}")
        return response


@register("redash")
class RedashSource(Source):
    """SQL on a Redash data source, with typed results and cancel-on-abandon.

    ``url`` is the server's base URL (``https://sql.telemetry.mozilla.org``; a trailing
    ``/api`` is accepted), ``api_key`` a user API key (a query API key only runs its own saved
    query, and cannot cancel), ``data_source`` a data source name or id (optional when the
    server has only one), ``timeout`` the default deadline in seconds, ``dialect`` overrides
    the dialect read from the data source type, ``verify`` is TLS verification (a bool or a
    CA bundle path). ``retry``, ``poll``, ``timeouts`` and ``session`` tune or replace the HTTP
    and polling policies (mostly for tests).
    """

    def __init__(
        self,
        name: str | None = None,
        *,
        url: str | None = None,
        api_key: str | None = None,
        data_source: str | int | None = None,
        timeout: float | str | None = None,
        dialect: str | None = None,
        verify: bool | str | None = None,
        retry: RetryPolicy = DEFAULT_RETRY,
        poll: PollSchedule = DEFAULT_POLL,
        timeouts: Timeouts | None = None,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(name)
        self.url = normalise_url(url)
        key = str(api_key or "").strip()
        if not key:
            raise ConfigError(
                "the redash source needs an API key: pass api_key=... or set it in the "
                "profile (in Redash: your user menu > Edit Profile > API Key)",
                source=self.name,
            )
        if any(c.isspace() or not c.isprintable() for c in key):
            raise ConfigError(
                "the API key contains spaces, line breaks or control characters: copy it again "
                "from Redash (user menu > Edit Profile > API Key)",
                source=self.name,
            )
        self.default_timeout = float_option("timeout", timeout, DEFAULT_TIMEOUT, self.name)
        self._data_source_option = data_source_option(data_source)
        if dialect is not None and dialect not in _DIALECT_NAMES:
            raise ConfigError(
                f"unknown dialect {dialect!r} for the redash source; use "
                + ", ".join(_DIALECT_NAMES),
                source=self.name,
            )
        self._dialect_option = dialect
        self._dialect_note: str | None = None
        self._poll = poll
        self._http = HttpSession(
            self.name,
            secrets=[key],
            headers={"Authorization": f"Key {key}", "Accept": "application/json"},
            retry=retry,
            timeouts=timeouts or Timeouts(),
            verify=verify_option(verify),
            session=session,
        )
        self._lock = threading.Lock()
        self._ds: _DataSource | None = None
        self._ds_types: dict[int, str | None] = {}
        # Only the toolbelt's paths and payloads are used: its own session (no timeout, no
        # retries, raise_for_status) is replaced before first use, and given no key.
        self._toolbelt = Redash(self.url, "")
        self._toolbelt.session = _ToolbeltSession(self)

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("url", "api_key", "data_source", "timeout", "dialect", "verify")

    @classmethod
    def secret_options(cls) -> tuple[str, ...]:
        return ("api_key",)

    @property
    def dialect(self) -> str:
        """The SQL dialect parameters are bound in, from the data source's type.

        Reading it looks the data source up on first use (one request).
        """
        if self._dialect_option is not None:
            return self._dialect_option
        return self._dialect_of(self._data_source().type)

    @dialect.setter
    def dialect(self, value: str) -> None:
        self._dialect_option = value

    def describe(self) -> dict[str, Any]:
        """What this source is, without a single character of the key (and no request)."""
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "url": self._http.redactor.url(self.url),
            "api_key": "(set)",
            "data_source": self._data_source_option,
            "timeout": self.default_timeout,
        }
        if self._ds is not None:
            out["data_source_id"] = self._ds.id
            out["data_source_type"] = self._ds.type
            out["dialect"] = self._dialect_option or dialect_for_type(self._ds.type)
        elif self._dialect_option is not None:
            out["dialect"] = self._dialect_option
        if self._dialect_note:
            out["note"] = self._dialect_note
        return out

    def cache_identity(self) -> dict[str, Any]:
        """The server and data source as configured (no key: results are per data source)."""
        return {
            "url": self._http.redactor.url(self.url),
            "data_source": self._data_source_option,
            "dialect": self._dialect_option,
        }

    def __repr__(self) -> str:
        return f"<RedashSource {self.name!r} {self._http.redactor.url(self.url)}>"

    def close(self) -> None:
        self._http.close()

    # -- ad-hoc SQL ---------------------------------------------------------------------------

    def submit(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> RedashJob:
        """POST the SQL and return its job (already done when Redash answered from cache).

        ``timeout`` bounds this call and is the default deadline of ``job.result()``.
        """
        deadline = self._deadline(timeout)
        return self._submit_adhoc(sql, params, max_age, deadline, progress)

    def query(
        self,
        sql: str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Result:
        """Run SQL to the end and return its typed result, all within one deadline.

        When ``timeout`` passes (or on Ctrl-C) the Redash job is cancelled with
        ``DELETE /api/jobs/<id>`` before :class:`QueryTimeout` (or ``KeyboardInterrupt``)
        propagates.
        """
        deadline = self._deadline(timeout)
        return self._submit_adhoc(sql, params, max_age, deadline, progress)._wait(deadline)

    def _submit_adhoc(
        self,
        sql: str,
        params: Mapping[str, Any] | None,
        max_age: float,
        deadline: Deadline,
        progress: ProgressCallback | None,
    ) -> RedashJob:
        if not isinstance(sql, str) or not sql.strip():
            raise ParameterError("no SQL given", source=self.name)
        wire_age = wire_max_age(max_age)
        token = _DEADLINE.set(deadline)
        try:
            ds = self._data_source()
        finally:
            _DEADLINE.reset(token)
        bound = bind(sql, params, self._dialect_option or self._dialect_of(ds.type))
        body = {
            "data_source_id": ds.id,
            "query": protect_mustache(bound),
            "max_age": wire_age,
            "parameters": {},
        }
        return self._start(
            f"{self.url}/api/query_results",
            body,
            deadline,
            progress,
            sql=bound,
            qid=None,
            markable=(ds.syntax or "sql") == "sql",
        )

    # -- the schema ---------------------------------------------------------------------------

    def tables(self) -> Result:
        """The data source's tables and columns, as Redash's schema browser lists them.

        One row per column: ``table_name`` (``schema.table`` outside PostgreSQL's public
        schema), ``column_name``, ``data_type`` (None where the runner gives none).
        Redash sorts tables and, within each, columns by name; it does not send column
        positions. ``GET /api/data_sources/<id>/schema`` answers from Redash's cache, or
        with a job that reads the schema (polled and, if abandoned, cancelled).
        """
        deadline = self._deadline(None)
        token = _DEADLINE.set(deadline)
        try:
            ds = self._data_source()
        finally:
            _DEADLINE.reset(token)
        what = "the schema"
        answer = self._answer(
            self._http.get(f"{self.url}/api/data_sources/{ds.id}/schema", deadline=deadline),
            what=what,
        )
        if isinstance(answer, dict) and isinstance(answer.get("job"), dict):
            answer = {"schema": self._schema_job(answer["job"], deadline)}
        schema = answer.get("schema") if isinstance(answer, dict) else None
        if not isinstance(schema, list):
            raise ProtocolError(
                self._http.redactor(f"{what}: unexpected answer {str(answer)[:200]}"),
                source=self.name,
            )
        names: list[str] = []
        columns: list[str] = []
        types: list[str | None] = []
        for table in schema:
            if not isinstance(table, dict) or not isinstance(table.get("name"), str):
                raise ProtocolError(f"{what}: a table of the wrong shape: {table!r}"[:300])
            for col in table.get("columns") or []:
                if isinstance(col, dict):
                    name, dtype = col.get("name"), col.get("type")
                else:
                    name, dtype = col, None
                names.append(table["name"])
                columns.append(str(name))
                types.append(None if dtype is None else str(dtype))
        return Result.from_columns(
            [
                Column("table_name", "string"),
                Column("column_name", "string"),
                Column("data_type", "string"),
            ],
            [names, columns, types],
            ResultMeta(source=self.name, extra={"data_source_id": ds.id}),
        )

    def _schema_job(self, job: dict[str, Any], deadline: Deadline) -> Any:
        """Wait for Redash's ``get_schema`` job; its ``result`` is the schema itself."""
        jid = job.get("id")
        if not isinstance(jid, str) or not jid:
            raise ProtocolError("the schema job has no id", source=self.name)

        def poll() -> Any:
            data = self._answer(
                self._http.get(f"{self.url}/api/jobs/{jid}", deadline=deadline),
                what=f"schema job {jid}",
            )
            current = data.get("job") if isinstance(data, dict) else None
            if not isinstance(current, dict):
                raise ProtocolError(f"schema job {jid}: unexpected answer", source=self.name)
            status, error = current.get("status"), current.get("error")
            if status == 4 or error:
                if isinstance(error, dict):  # {"code", "message", "details"}
                    error = ": ".join(str(error[k]) for k in ("message", "details") if error.get(k))
                raise QueryError(
                    self._http.redactor(f"Redash could not read the schema: {error}"),
                    source=self.name,
                    job_id=jid,
                )
            if status == 3 and isinstance(current.get("result"), list):
                return current["result"]
            return Pending(JobState.RUNNING if status == 2 else JobState.QUEUED, jid)

        return wait_or_cancel(
            poll,
            cancel=lambda: self._cancel_job(jid),
            deadline=deadline,
            schedule=self._poll,
            job_id=jid,
            source=self.name,
        )

    # -- saved queries ------------------------------------------------------------------------

    def run_saved(
        self,
        query_id: int | str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> Result:
        """Run saved query ``query_id`` with ``params``; stored defaults fill in the rest.

        Values are checked against the query's parameter definitions, relative dates such as
        ``d_last_7_days`` become concrete dates, and text values are escaped for where they
        land in the SQL, before ``POST /api/queries/<id>/results``. Works with the query's
        own API key, which cannot cancel the job, though.
        """
        from .caching import stored

        deadline = self._deadline(timeout)
        return stored(
            self,
            {"saved_query": _parse_query_id(query_id)},
            params,
            max_age,
            lambda: self._submit_saved(query_id, params, max_age, deadline, progress)._wait(
                deadline
            ),
        )

    def submit_saved(
        self,
        query_id: int | str,
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
        progress: ProgressCallback | None = None,
    ) -> RedashJob:
        """Like :meth:`run_saved`, returning the job instead of waiting for it."""
        deadline = self._deadline(timeout)
        return self._submit_saved(query_id, params, max_age, deadline, progress)

    def saved_query(self, query_id: int | str, *, timeout: float | None = None) -> dict[str, Any]:
        """A saved query's definition (``GET /api/queries/<id>``)."""
        qid = _parse_query_id(query_id)
        token = _DEADLINE.set(self._deadline(timeout))
        try:
            return self._definition(qid)
        finally:
            _DEADLINE.reset(token)

    def saved_parameters(
        self, query_id: int | str, *, timeout: float | None = None
    ) -> list[ParamDef]:
        """The parameter definitions of a saved query."""
        definition = self.saved_query(query_id, timeout=timeout)
        return parse_schema((definition.get("options") or {}).get("parameters"))

    def _definition(self, qid: int) -> dict[str, Any]:
        definition = self._toolbelt.get_query(qid)
        if not isinstance(definition, dict):
            raise ProtocolError(f"saved query {qid}: unexpected answer", source=self.name)
        return definition

    def _submit_saved(
        self,
        query_id: int | str,
        params: Mapping[str, Any] | None,
        max_age: float,
        deadline: Deadline,
        progress: ProgressCallback | None,
    ) -> RedashJob:
        qid = _parse_query_id(query_id)
        wire_age = wire_max_age(max_age)
        token = _DEADLINE.set(deadline)
        try:
            definition = self._definition(qid)
            schema = parse_schema((definition.get("options") or {}).get("parameters"))
            template = str(definition.get("query") or "")
            dialect = self._dialect_option or self._saved_dialect(definition.get("data_source_id"))
            try:
                values = prepare(
                    schema,
                    template,
                    params,
                    dialect=dialect,
                    dropdown=lambda p: self._dropdown_values(qid, p),
                )
            except ParameterError as exc:
                raise ParameterError(
                    f"saved query {qid}: {exc.message}", source=self.name
                ) from None
        finally:
            _DEADLINE.reset(token)
        body = {"parameters": values, "max_age": wire_age}
        return self._start(
            f"{self.url}/api/queries/{qid}/results", body, deadline, progress, sql=template, qid=qid
        )

    def _saved_dialect(self, ds_id: Any) -> str | None:
        """The dialect of a saved query's data source; None if the key cannot read it."""
        if not isinstance(ds_id, int):
            return None
        if ds_id not in self._ds_types:
            try:
                info = self._toolbelt.get_data_source(ds_id)
            except (AuthenticationError, PermissionDenied, NotFound) as exc:
                log.debug("cannot read data source %s: %s", ds_id, exc.message)
                return None
            self._ds_types[ds_id] = info.get("type") if isinstance(info, dict) else None
        ds_type = self._ds_types[ds_id]
        return self._dialect_of(ds_type) if ds_type else None

    def _dropdown_values(self, qid: int, p: ParamDef) -> list[str] | None:
        """A query-based dropdown's allowed values as the server computes them, or None."""
        if p.query_id is None:
            return None
        url = f"{self.url}/api/queries/{qid}/dropdowns/{p.query_id}"
        try:
            data = self._answer(
                self._http.get(url, deadline=_DEADLINE.get()),
                what=f"the dropdown values of query {p.query_id}",
            )
        except SourceError as exc:
            log.debug("dropdown values of query %s unavailable: %s", p.query_id, exc.message)
            return None
        if not isinstance(data, list):
            return None
        return [str(item.get("value")) for item in data if isinstance(item, dict)]

    # -- shared machinery ---------------------------------------------------------------------

    def _start(
        self,
        url: str,
        body: dict[str, Any],
        deadline: Deadline,
        progress: ProgressCallback | None,
        *,
        sql: str,
        qid: int | None,
        markable: bool = False,
    ) -> RedashJob:
        job = RedashJob(
            self, url=url, body=body, deadline=deadline, progress=progress, sql=sql, qid=qid
        )
        job._markable = markable
        try:
            job._submit(deadline)
        except BaseException:
            # Interrupted after Redash gave the job an id: do not leave it running.
            if job.id is not None and not job._state.finished:
                try:
                    job._abandon()
                except Exception as exc:  # the original error matters more
                    log.debug("cancelling job %s failed: %s", job.id, type(exc).__name__)
            raise
        return job

    def _post(
        self,
        url: str,
        body: dict[str, Any],
        deadline: Deadline,
        since_wall: float,
        *,
        stream: bool = True,
    ) -> dict[str, Any] | bytes | _Arriving:
        """POST a query: a job object, or the body of a cached ``query_result`` (arriving,
        when it is plain: see ``httpbody``; ``stream=False`` reads it whole first).

        A re-send (after a connection failure or a 502/503/504) widens ``max_age`` to cover the
        first attempt, so it joins or picks up that attempt instead of running it twice.
        """
        response = self._http.post(
            url,
            json=body,
            deadline=deadline,
            resend=lambda _n: widened(body, since_wall),
            grace=_SUBMIT_GRACE,
            stream=stream,
        )
        if not 200 <= response.status_code < 300:
            raise error_for(self._http, response, what="the query", base_url=self.url)
        self._http.expect_json(response)
        incoming = Incoming.of(response, min_size=_STREAM_MIN) if stream else None
        if incoming is None:
            content = response.content
        else:

            def again() -> dict[str, Any] | bytes:
                # Re-posting with a max_age covering the first attempt picks up its result.
                answer = self._post(
                    url, widened(body, since_wall), deadline, since_wall, stream=False
                )
                assert not isinstance(answer, _Arriving)  # stream=False reads it whole
                return answer

            try:
                filled = incoming.fill_to(_PEEK)
                if bytes(incoming.buffer[:filled]).lstrip()[:20].startswith(b'{"query_result"'):
                    return _Arriving(incoming, again)  # decoded while the rest arrives
                content = incoming.settle()
            except BodyLost as lost:
                log.debug("the answer to the query was cut (%s); posting again", lost)
                return again()
        # A cached result can be large: leave its parsing to the typed decoder, once.
        if content.lstrip()[:20].startswith(b'{"query_result"'):
            return content
        answer = self._http.json(response)
        if isinstance(answer, dict) and isinstance(answer.get("job"), dict):
            return answer["job"]
        if isinstance(answer, dict) and "query_result" in answer:
            return content
        raise ProtocolError(
            self._http.redactor(
                f"Redash answered the query with neither a job nor a result: {str(answer)[:200]}"
            ),
            source=self.name,
        )

    def _cancel_job(self, jid: str) -> bool:
        """``DELETE /api/jobs/<id>``: True if done, False if the key may not cancel.

        Any other refusal (a 5xx, a proxy's error) raises: the caller then says the cancel
        failed, rather than blaming the credentials.
        """
        response = self._http.delete(
            f"{self.url}/api/jobs/{jid}", timeouts=_CANCEL_TIMEOUTS, retry=_CANCEL_RETRY
        )
        if 200 <= response.status_code < 300:
            log.debug("cancelled Redash job %s", jid)
            return True
        if response.status_code in (401, 403, 404):
            log.debug("this key may not cancel job %s (HTTP %d)", jid, response.status_code)
            return False
        raise error_for(self._http, response, what=f"cancelling job {jid}", base_url=self.url)

    def _answer(self, response: requests.Response, *, what: str) -> Any:
        """The JSON of a 2xx answer, or the error Redash's answer means."""
        if 200 <= response.status_code < 300:
            return self._http.json(response)
        raise error_for(self._http, response, what=what, base_url=self.url)

    def _data_source(self) -> _DataSource:
        with self._lock:
            if self._ds is None:
                self._ds = self._resolve_data_source()
            return self._ds

    def _resolve_data_source(self) -> _DataSource:
        wanted = self._data_source_option
        try:
            listing = self._toolbelt.get_data_sources()
        except PermissionDenied:
            if not isinstance(wanted, int):
                raise
            # Listing needs a permission that using one data source does not.
            try:
                info = self._toolbelt.get_data_source(wanted)
            except (PermissionDenied, NotFound):
                return _DataSource(wanted, None, None)
            return _DataSource(wanted, info.get("name"), info.get("type"), info.get("syntax"))
        if not isinstance(listing, list):
            raise ProtocolError("GET /api/data_sources: expected a list", source=self.name)
        items = [d for d in listing if isinstance(d, dict) and isinstance(d.get("id"), int)]
        names = ", ".join(f"{d.get('name')} (id {d['id']})" for d in items) or "none"
        if wanted is None:
            if len(items) != 1:
                raise ConfigError(
                    f"{self.url} has {len(items)} data sources ({names}): choose one with "
                    "data_source=<name or id>",
                    source=self.name,
                )
            match = items
        elif isinstance(wanted, int):
            match = [d for d in items if d["id"] == wanted]
        else:
            match = [d for d in items if d.get("name") == wanted] or [
                d for d in items if str(d.get("name", "")).casefold() == wanted.casefold()
            ]
        if len(match) != 1:
            what = f"id {wanted}" if isinstance(wanted, int) else f"named {wanted!r}"
            raise NotFound(
                f"no data source {what} on {self.url}; there are: {names}", source=self.name
            )
        found = match[0]
        ds = _DataSource(found["id"], found.get("name"), found.get("type"), found.get("syntax"))
        self._ds_types[ds.id] = ds.type
        log.debug("data source %s: id %s, type %s", ds.name, ds.id, ds.type)
        return ds

    def _dialect_of(self, ds_type: str | None) -> str:
        dialect = dialect_for_type(ds_type)
        if dialect is not None:
            return dialect
        note = (
            f"data source type {ds_type!r} has no known SQL dialect; parameters are bound as "
            "for PostgreSQL (pass dialect=... to choose)"
        )
        if self._dialect_note != note:
            self._dialect_note = note
            log.warning("%s: %s", self.name, note)
        return "postgresql"

    def _deadline(self, timeout: float | None) -> Deadline:
        return Deadline(check_timeout(timeout, self.default_timeout))


class RedashJob(Job):
    """A query running on Redash: ``id`` (Redash's job id), ``state``, ``result``, ``cancel``.

    ``id`` is None when Redash answered from its cache. It changes if the job was lost on the
    server and had to be re-submitted. Thread-safe.
    """

    def __init__(
        self,
        source: RedashSource,
        *,
        url: str,
        body: dict[str, Any],
        deadline: Deadline,
        progress: ProgressCallback | None,
        sql: str,
        qid: int | None,
    ) -> None:
        self.id: str | None = None
        self._source = source
        self._url = url
        self._body = body
        self._deadline = deadline
        self._progress = progress
        self._sql = sql
        self._qid = qid
        self._lock = threading.Lock()
        self._state = JobState.QUEUED
        self._result: Result | None = None
        self._ready: _Ready | None = None
        self._failure: ThsourcesError | None = None
        self._cancelled = False
        self._recoveries = 0
        self._recovered: str | None = None
        self._markable = False
        self._mark: str | None = None  # set once re-run under a text of its own
        self._submitted = time.monotonic()
        self._submitted_wall = time.time()

    def __repr__(self) -> str:
        return f"<RedashJob {self.id} {self._state.value}>"

    @property
    def _name(self) -> str:
        return self._source.name

    # -- the Job interface --------------------------------------------------------------------

    @property
    def state(self) -> JobState:
        """The canonical state, asking the server once if the job is not finished."""
        with self._lock:
            if self._state.finished or self.id is None:
                return self._state
        try:
            outcome = self._check(Deadline(self._source._http.timeouts.read))
        except QueryCancelled as exc:
            self._finish(failure=exc, state=JobState.CANCELLED)
        except QueryError as exc:
            self._finish(failure=exc, state=JobState.FAILED)
        else:
            with self._lock:
                if isinstance(outcome, Pending):
                    if not self._state.finished:
                        self._state = outcome.state
                elif outcome.result is not None:
                    self._result, self._state = outcome.result, JobState.DONE
                else:
                    self._ready, self._state = outcome, JobState.DONE  # result() fetches rows
        return self._state

    def result(self, timeout: float | None = None) -> Result:
        """Wait for the result; at the deadline the job is cancelled and QueryTimeout raised.

        Without ``timeout`` the deadline given to ``submit`` applies.
        """
        deadline = self._deadline if timeout is None else self._source._deadline(timeout)
        return self._wait(deadline)

    def cancel(self) -> None:
        """Cancel the job (``DELETE /api/jobs/<id>``); a later ``result()`` raises.

        Raises :class:`PermissionDenied` when the key cannot cancel (a query API key).
        """
        with self._lock:
            if self._state in (JobState.FAILED, JobState.CANCELLED):
                return
            running = not self._state.finished
        if self.id is not None and running and not self._delete():
            raise PermissionDenied(
                "this API key cannot cancel Redash jobs (a query API key can only run its "
                "query); the job may still be running on the server",
                source=self._name,
                job_id=self.id,
            )
        with self._lock:
            self._cancelled = True
            self._state = JobState.CANCELLED

    # -- internals ----------------------------------------------------------------------------

    def _submit(self, deadline: Deadline) -> None:
        answer = self._source._post(self._url, self._body, deadline, self._submitted_wall)
        self._take(answer, deadline=deadline)

    def _take(
        self,
        answer: dict[str, Any] | bytes | Incoming | _Arriving,
        *,
        deadline: Deadline,
        cached: bool = True,
        rid: int | str | None = None,
    ) -> _Ready | Pending:
        """Absorb a POST answer: a cached result (done) or a job (to follow)."""
        if isinstance(answer, _Arriving):
            try:
                return self._take(answer.incoming, deadline=deadline, cached=cached, rid=rid)
            except BodyLost as lost:
                log.debug("the cached result was cut (%s); posting again", lost)
            finally:
                if not answer.incoming.complete:
                    answer.incoming.abandon()
            return self._take(answer.again(), deadline=deadline, cached=cached, rid=rid)
        if isinstance(answer, bytes | Incoming):
            try:
                result = self._decode(answer, cached=cached, rid=rid)
            except _OtherText as other:
                return self._rerun(other.ran, deadline)
            self._finish(result=result)
            return _Ready(result=result)
        state, new_rid, error, jid = job_fields(answer, self._source._http.redactor)
        if jid is None:
            raise ProtocolError("Redash answered with a job without an id", source=self._name)
        with self._lock:
            self.id, self._ready = jid, None
            self._state = JobState.RUNNING if state is JobState.DONE else state
        log.debug("Redash job %s: %s", jid, state.value)
        return self._interpret(state, new_rid, error, deadline)

    def _finish(
        self,
        *,
        result: Result | None = None,
        failure: ThsourcesError | None = None,
        state: JobState = JobState.FAILED,
    ) -> None:
        with self._lock:
            if result is not None:
                self._result, self._state = result, JobState.DONE
            if failure is not None:
                self._failure, self._state = failure, state

    def _wait(self, deadline: Deadline) -> Result:
        with self._lock:
            if self._cancelled:
                raise QueryCancelled("the job was cancelled", source=self._name, job_id=self.id)
            if self._result is not None:
                return self._result
            if self._failure is not None:
                raise self._failure

        outage: list[SourceUnavailable] = []  # the failure of the last poll, while it lasts

        def poll() -> Result | Pending:
            try:
                answer = poll_once()
            except SourceUnavailable as exc:
                if not _passing(exc) or deadline.expired:
                    raise
                # Polls are idempotent: a web server restarting or a proxy failing for a
                # while must not end a long wait. The schedule (capped) spaces the tries.
                if not outage:
                    log.debug("job %s: Redash unreachable, polling on: %s", self.id, exc.message)
                outage[:] = [exc]
                with self._lock:
                    state = self._state if not self._state.finished else JobState.RUNNING
                return Pending(state, self.id)
            outage.clear()
            return answer

        def poll_once() -> Result | Pending:
            outcome = self._check(deadline)
            if isinstance(outcome, Pending):
                with self._lock:
                    if not self._state.finished:
                        self._state = outcome.state
                return outcome
            if outcome.result is not None:
                return outcome.result
            return self._fetch(outcome.result_id, deadline)

        try:
            result = wait_or_cancel(
                poll,
                cancel=self._abandon,
                deadline=deadline,
                schedule=self._source._poll,
                progress=self._progress,
                job_id=self.id,
                source=self._name,
                started=self._submitted,
            )
        except QueryCancelled as exc:
            self._finish(failure=exc, state=JobState.CANCELLED)
            raise
        except QueryTimeout as exc:
            if not outage:
                raise
            # The server never came back before the deadline (the job was cancelled if the
            # server took the DELETE; the message says).
            _, _, cancel_note = exc.message.partition("; ")
            raise SourceUnavailable(
                f"{outage[0].message}; the server was still unreachable at the deadline "
                f"({deadline.timeout:g} s)" + (f"; {cancel_note}" if cancel_note else ""),
                source=self._name,
                job_id=self.id,
            ) from exc
        except QueryError as exc:
            if type(exc) is QueryError:
                self._finish(failure=exc)
            raise
        self._finish(result=result)
        return result

    def _check(self, deadline: Deadline) -> _Ready | Pending:
        """Poll the job once, recovering a lost job or an empty-error failure."""
        with self._lock:
            if self._result is not None:
                return _Ready(result=self._result)
            if self._ready is not None:
                return self._ready
            jid = self.id
        if jid is None:
            raise ProtocolError("the job has no id", source=self._name)
        src = self._source
        response = src._http.get(self._job_url(jid), deadline=deadline)
        if response.status_code == 500:
            # Redash answers 500 for a job id it no longer knows (expired or lost, §12).
            return self._recover("the job was lost on the server (HTTP 500)", deadline)
        answer = src._answer(response, what=f"job {jid}")
        if not isinstance(answer, dict) or "job" not in answer:
            raise ProtocolError(
                src._http.redactor(f"job {jid}: unexpected answer {str(answer)[:200]}"),
                source=self._name,
                job_id=jid,
            )
        state, rid, error, _ = job_fields(answer["job"], src._http.redactor)
        return self._interpret(state, rid, error, deadline)

    def _interpret(
        self, state: JobState, rid: int | str | None, error: str, deadline: Deadline
    ) -> _Ready | Pending:
        if state is JobState.DONE:
            # rq writes the status before the result id: without one it is still running.
            return Pending(JobState.RUNNING, self.id) if rid is None else _Ready(result_id=rid)
        if state is JobState.CANCELLED or error.strip() in CANCEL_TEXTS:
            raise QueryCancelled(
                f"the query was cancelled on the server ({error.strip() or 'status cancelled'})",
                source=self._name,
                job_id=self.id,
            )
        if state is JobState.FAILED:
            if not error.strip():
                return self._recover("Redash marked the job failed without a message", deadline)
            raise QueryError(
                self._source._http.redactor(clean_error(error)), source=self._name, job_id=self.id
            )
        return Pending(state, self.id)

    def _recover(self, why: str, deadline: Deadline) -> _Ready | Pending:
        """Re-POST with a ``max_age`` covering the first submission to pick up its result."""
        with self._lock:
            self._recoveries += 1
            tries = self._recoveries
        if tries > _MAX_RECOVERIES:
            if "HTTP 500" in why:
                raise SourceUnavailable(
                    f"{why}, again after re-submitting it {_MAX_RECOVERIES} times",
                    source=self._name,
                    job_id=self.id,
                    status_code=500,
                )
            raise QueryError(
                f"{why}, again after re-submitting it {_MAX_RECOVERIES} times",
                source=self._name,
                job_id=self.id,
            )
        log.debug("job %s: %s; re-submitting to pick up its result", self.id, why)
        with self._lock:
            self._recovered = why
        body = widened(self._body, self._submitted_wall)
        answer = self._source._post(self._url, body, deadline, self._submitted_wall)
        return self._take(answer, deadline=deadline)

    def _rerun(self, ran: str, deadline: Deadline) -> _Ready | Pending:
        """Run the SQL again under a text no one else can share, after a result of ``ran``.

        Redash hashes a text without its whitespace and ``/* */`` comments, string literals
        included, and serves (and merges jobs) by that hash. A ``--`` line comment in front
        counts in the hash and is kept by the server (only trailing comments are stripped),
        and changes nothing the database returns on PostgreSQL, MySQL or BigQuery; with a
        random token in it, the text's hash is its own, so the next result is this query's.
        """
        shown = ran if len(ran) <= 120 else ran[:117] + "..."
        if self._mark is not None or not self._markable:
            raise ProtocolError(
                self._source._http.redactor(
                    "Redash answered with the result of another query text that shares this "
                    f"one's cache key (it ignores whitespace and /* */ comments): {shown!r}"
                ),
                source=self._name,
                job_id=self.id,
            )
        self._mark = _MARK.format(secrets.token_hex(8))
        log.debug("job %s: Redash answered for another text (%r); running it again", self.id, ran)
        with self._lock:
            self._recovered = (
                "Redash answered with the result of another text sharing its cache key; "
                "run again under a text of its own"
            )
            self._ready = None
        self._body = {
            **self._body,
            "query": protect_mustache(self._mark + self._sql),
            "max_age": 0,
        }
        self._submitted_wall = time.time()
        answer = self._source._post(self._url, self._body, deadline, self._submitted_wall)
        return self._take(answer, deadline=deadline, cached=False)

    def _fetch(self, rid: int | str | None, deadline: Deadline) -> Result | Pending:
        src = self._source
        if self._qid is not None:
            url = f"{src.url}/api/queries/{self._qid}/results/{rid}.json"
        else:
            url = f"{src.url}/api/query_results/{rid}.json"
        response = src._http.get(url, deadline=deadline, stream=True)
        if (
            response.status_code == 404
            and self._qid is not None
            and "No cached result found" in response.text
        ):
            # A query API key may only fetch results of the query's stored default values
            # (getredash/redash#4191); re-posting with a max_age covering this run answers
            # with the result itself instead.
            log.debug("result %s is not readable with this key; re-posting for it", rid)
            answer = src._post(
                self._url,
                widened(self._body, self._submitted_wall),
                deadline,
                self._submitted_wall,
            )
            outcome = self._take(answer, deadline=deadline, cached=False, rid=rid)
            return (
                outcome.result
                if isinstance(outcome, _Ready) and outcome.result
                else (Pending(JobState.RUNNING, self.id))
            )
        if not 200 <= response.status_code < 300:
            raise error_for(src._http, response, what=f"result {rid}", base_url=src.url)
        src._http.expect_json(response)
        try:
            return self._decode_body(response, url, deadline, rid)
        except _OtherText as other:
            outcome = self._rerun(other.ran, deadline)
        if isinstance(outcome, _Ready):
            return outcome.result or self._fetch(outcome.result_id, deadline)
        return outcome

    def _decode_body(
        self, response: requests.Response, url: str, deadline: Deadline, rid: int | str | None
    ) -> Result:
        """A result body, parsed while it downloads when it is plain (see ``httpbody``).

        If the connection fails part-way the result is fetched again through the retrying
        session, which raises what the failure deserves.
        """
        incoming = Incoming.of(response, min_size=_STREAM_MIN)
        if incoming is not None:
            try:
                return self._decode(incoming, cached=False, rid=rid)
            except BodyLost as lost:
                log.debug("result %s: the body was cut (%s); fetching it again", rid, lost)
            finally:
                if not incoming.complete:
                    incoming.abandon()
            src = self._source
            response = src._http.get(url, deadline=deadline)
            if not 200 <= response.status_code < 300:
                raise error_for(src._http, response, what=f"result {rid}", base_url=src.url)
            src._http.expect_json(response)
        return self._decode(response.content, cached=False, rid=rid)

    def _decode(self, content: bytes | Incoming, *, cached: bool, rid: int | str | None) -> Result:
        from ..jsonrows import decode_query_result
        from ..jsonrows_stream import decode_query_result_incoming

        try:
            if isinstance(content, bytes):
                envelope, result = decode_query_result(content)
            else:
                envelope, result = decode_query_result_incoming(content)
        except (ProtocolError, ValueError, KeyError, TypeError) as exc:
            detail = exc.message if isinstance(exc, ProtocolError) else str(exc)
            raise ProtocolError(
                self._source._http.redactor(f"Redash sent a result of the wrong shape: {detail}"),
                source=self._name,
                job_id=self.id,
            ) from None
        ran = envelope.get("query")
        if self._qid is None and isinstance(ran, str):
            sent = self._sql if self._mark is None else self._mark + self._sql
            if not same_text(ran, sent):
                raise _OtherText(ran)
        extra: dict[str, Any] = {
            key: envelope[key]
            for key in ("data_source_id", "query_hash")
            if envelope.get(key) is not None
        }
        if self._qid is not None:
            extra["saved_query_id"] = self._qid
        if self._recovered:
            extra["recovered"] = self._recovered
        runtime = envelope.get("runtime")
        meta = ResultMeta(
            source=self._name,
            query=envelope.get("query") or self._sql,
            job_id=self.id,
            result_id=envelope.get("id", rid),
            runtime_s=float(runtime) if isinstance(runtime, int | float) else None,
            retrieved_at=parse_time(envelope.get("retrieved_at")),
            cached=cached,
            truncated=bool((envelope.get("data") or {}).get("truncated")),
            extra=extra,
        )
        return Result(result.columns, result.to_arrow(), meta)

    def _job_url(self, jid: str) -> str:
        if self._qid is not None:
            # The only job route a query API key may use.
            return f"{self._source.url}/api/queries/{self._qid}/jobs/{jid}"
        return f"{self._source.url}/api/jobs/{jid}"

    def _abandon(self) -> bool:
        """Cancel because the caller gave up; True if the server took the cancel."""
        cancelled = self.id is not None and self._delete()
        if cancelled:
            with self._lock:
                self._cancelled, self._state = True, JobState.CANCELLED
        return cancelled

    def _delete(self) -> bool:
        """``DELETE /api/jobs/<id>``: True if done, False if the key may not cancel."""
        return self._source._cancel_job(str(self.id))
