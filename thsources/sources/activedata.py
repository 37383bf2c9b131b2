"""The ``activedata`` source: JX or SQL on any ActiveData-compatible endpoint.

Mozilla's public ActiveData was shut down in 2021; self-hosted copies and archives speak the
same API, and :class:`thsources.testing.ActiveDataEmulator` does too. What this source adds
over a bare POST, each point a lesson from the clients that came before:

- JX (a dict) is sent to ``/query``; SQL (a str) is translated to JX here, so a JOIN, a
  subquery, HAVING, OFFSET or an unknown function is refused by name before any request
  (``sql_endpoint=True`` sends SQL as-is to ``/sql`` instead).
- ``format`` is always explicit (``table`` unless the query says otherwise); every answer
  shape decodes to the same records, dotted column names, times as UTC datetimes.
- A capped answer is flagged (``meta.truncated``); more than 10,000 rows uses bulk mode
  where the query qualifies, polling the status document (403s and half-written JSON are
  expected there) until the result can be fetched.
- The useful error text sits deep in a 400's ``cause`` chain, as ``{{name}}`` templates:
  it is walked and filled, so ``QueryError.message`` is the real reason.
- Connection errors and 502/503/504 are retried (a query only reads, so re-sending is safe).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import orjson
import requests

from ..errors import (
    NotFound,
    ProtocolError,
    QueryError,
    UnsupportedQuery,
)
from ..http import DEFAULT_RETRY, HttpSession, RetryPolicy, Timeouts
from ..jx.decode import DecodeError, decode_columns
from ..jx.params import fill_params
from ..jx.records import time_columns, to_result
from ..polling import DEFAULT_POLL, Deadline, JobState, Pending, PollSchedule, wait_or_cancel
from ..result import Result, ResultMeta
from ..sqlbind import bind
from .base import DEFAULT_TIMEOUT, CompletedJob, Job, Source, register

__all__ = ["MAX_LIMIT", "ActiveDataSource", "error_message"]

MAX_LIMIT: Final = 10_000
"""ActiveData caps ``limit`` here, silently."""

DEFAULT_LIMIT: Final = 10
"""ActiveData's limit when a query gives none."""

RETRY: Final = DEFAULT_RETRY.with_statuses({502, 503, 504})

#: Fields of ActiveData's treeherder/task/unittest/repo layouts holding unix seconds.
TIME_FIELDS: Final = frozenset(
    {
        "action.start_time",
        "action.end_time",
        "action.request_time",
        "repo.push.date",
        "push.date",
        "last_modified",
        "result.start_time",
        "result.end_time",
        "run.timestamp",
    }
)

_MAX_BAD_STATUS: Final = 5
"""Consecutive unreadable status documents tolerated (the file is rewritten while read)."""


def error_message(doc: Any) -> str:
    """The real reason in an ActiveData error: the deepest ``cause``, templates filled.

    ``{"template": "could not execute {{expression}}", "cause": {"cause": [{"template":
    "{{operator|quote}} is not a known operator", "params": {"operator": "foo"}}]}}``
    gives ``"foo" is not a known operator``.
    """
    chain: list[Mapping[str, Any]] = []
    node: Any = doc
    while isinstance(node, Mapping):
        chain.append(node)
        cause = node.get("cause")
        if isinstance(cause, list):
            cause = next((c for c in cause if isinstance(c, Mapping)), None)
        node = cause
    for item in reversed(chain):
        text = _fill(str(item.get("template") or ""), item.get("params") or {})
        if text.strip() and text.strip() != "problem":
            return text
    return "ActiveData reported an error without a message"


_PLACEHOLDER = re.compile(r"\{\{\s*([^}|\s]+)\s*(?:\|\s*(\w+)\s*)?\}\}")


def _fill(template: str, params: Mapping[str, Any]) -> str:
    def value(match: re.Match[str]) -> str:
        found: Any = params
        for part in match[1].split("."):
            found = found.get(part) if isinstance(found, Mapping) else None
        if match[2] == "quote":
            return orjson.dumps(found).decode()
        if isinstance(found, Mapping | list):
            return orjson.dumps(found).decode()
        return "" if found is None else str(found)

    return _PLACEHOLDER.sub(value, template)


def _bulk_eligible(jx: Mapping[str, Any]) -> bool:
    """``is_bulk_set``/``is_bulk_agg``: a set operation, or one groupby on a plain field."""
    if jx.get("edges"):
        return False
    groupby = jx.get("groupby")
    if not groupby:
        return True
    items = groupby if isinstance(groupby, list) else [groupby]
    g = items[0] if len(items) == 1 else None
    return isinstance(g, str) or (isinstance(g, Mapping) and isinstance(g.get("value"), str))


@register("activedata")
class ActiveDataSource(Source):
    """An ActiveData-compatible endpoint (``url``: the service's base URL)."""

    dialect = "jx"
    """Named queries pick their ``activedata.json`` (JX) variant."""

    sql_dialect = "postgresql"
    """SQL parameters are bound as standard SQL literals before translation to JX."""

    def __init__(
        self,
        name: str | None = None,
        *,
        url: str | None = None,
        sql_endpoint: bool = False,
        timeouts: Timeouts | None = None,
        retry: RetryPolicy | None = None,
        poll: PollSchedule | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(name)
        if not url:
            from ..errors import ConfigError

            raise ConfigError(
                "the activedata source needs url= (an ActiveData-compatible service; the "
                "public one was shut down in 2021)",
                source=self.name,
            )
        self.url = url.rstrip("/")
        self.sql_endpoint = bool(sql_endpoint)
        self.poll = poll or DEFAULT_POLL
        self._sleep = sleep
        self._http = HttpSession(
            self.name,
            retry=retry or RETRY,
            timeouts=timeouts or Timeouts(read=300.0),  # nginx cuts /query off at 300 s
            sleep=sleep,
        )

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("url", "sql_endpoint")

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "url": self._http.redactor.url(self.url)}

    def cache_identity(self) -> dict[str, Any]:
        return {"url": self._http.redactor.url(self.url), "sql_endpoint": self.sql_endpoint}

    def close(self) -> None:
        self._http.close()

    # -- running queries -------------------------------------------------------------------------

    def submit(
        self,
        sql: str | Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Job:
        """Run ``sql`` (SQL text or a JX dict) to the end; ActiveData has no job to hand back.

        ``max_age`` is answered by the local result cache (ActiveData keeps none of its own).
        """
        deadline = Deadline(DEFAULT_TIMEOUT if timeout is None else timeout)
        return CompletedJob(self._run(sql, params, deadline))

    def query(
        self,
        sql: str | Mapping[str, Any],
        params: Mapping[str, Any] | None = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> Result:
        return self.submit(sql, params, max_age=max_age, timeout=timeout).result()

    def batch(
        self,
        queries: Sequence[str | Mapping[str, Any]],
        params: Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Result]:
        """Several queries in one ``{"tuple": [...]}`` request: one result each, in order."""
        deadline = Deadline(DEFAULT_TIMEOUT if timeout is None else timeout)
        jxs = [self.to_jx(q, params) for q in queries]
        for jx in jxs:
            jx.pop("destination", None)
            jx["limit"] = min(int(jx.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        started = time.perf_counter()
        doc = self._post("/query", {"tuple": jxs}, deadline)
        answers = doc.get("data") if isinstance(doc, Mapping) else None
        if not isinstance(answers, list) or len(answers) != len(jxs):
            raise ProtocolError(
                f"a batch of {len(jxs)} queries got an answer without {len(jxs)} results",
                source=self.name,
            )
        runtime = time.perf_counter() - started
        return [
            self._result(answer, jx, runtime, requested=jx.get("limit"))
            for answer, jx in zip(answers, jxs, strict=True)
        ]

    def to_jx(
        self, query: str | Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """The JX this source sends for ``query`` (format made explicit); no request is made."""
        if isinstance(query, str):
            from ..jx.fromsql import sql_to_jx

            jx = sql_to_jx(bind(query, params, self.sql_dialect), source=self.name)
        elif isinstance(query, Mapping):
            jx = fill_params(query, params, source=self.name)
        else:
            raise UnsupportedQuery(
                f"a query is SQL text or a JX dict, not {type(query).__name__}", source=self.name
            )
        if not isinstance(jx.get("from"), str):
            raise UnsupportedQuery(
                'a JX query needs \'from\' naming a table, e.g. {"from": "treeherder"}',
                source=self.name,
            )
        jx.setdefault("format", "table")
        if jx["format"] not in ("list", "table", "cube"):
            raise UnsupportedQuery(
                f"unknown format {jx['format']!r}; use list, table or cube", source=self.name
            )
        return jx

    def _run(
        self, query: str | Mapping[str, Any], params: Mapping[str, Any] | None, deadline: Deadline
    ) -> Result:
        started = time.perf_counter()
        if isinstance(query, str) and self.sql_endpoint:
            text = bind(query, params, self.sql_dialect)
            answer = self._post("/sql", {"sql": text}, deadline)
            jx = answer.get("meta", {}).get("jx_query") if isinstance(answer, Mapping) else None
            return self._result(answer, jx or {"format": "table"}, time.perf_counter() - started)
        jx = self.to_jx(query, params)
        limit = jx.get("limit", DEFAULT_LIMIT)
        requested = int(limit) if isinstance(limit, int | float) else DEFAULT_LIMIT
        bulk = requested > MAX_LIMIT and _bulk_eligible(jx)
        extra: dict[str, Any] = {}
        if bulk:
            jx["destination"] = "url"
            if jx["format"] == "list":
                jx["format"] = "table"  # list + url returned no data (mozilla/mozci#28)
        elif requested > MAX_LIMIT:
            extra["capped"] = f"limit {requested} capped at {MAX_LIMIT}: not a bulk query"
        answer = self._post("/query", jx, deadline)
        from_bulk = isinstance(answer, Mapping) and "data" not in answer and "status" in answer
        if from_bulk:
            answer = self._wait_bulk(answer, deadline)
            extra["bulk"] = "url"
        elif bulk:
            extra["bulk"] = "the server answered synchronously (bulk mode is off there)"
        result = self._result(
            answer, jx, time.perf_counter() - started, requested=requested, bulk=from_bulk
        )
        if extra:
            result = result.with_meta(extra={**result.meta.extra, **extra})
        return result

    # -- HTTP ------------------------------------------------------------------------------------

    def _post(self, path: str, body: Any, deadline: Deadline) -> Any:
        response = self._http.post(
            self.url + path, json=body, deadline=deadline, resend=lambda _n: body
        )
        return self._answer(response)

    def _answer(self, response: requests.Response) -> Any:
        status = response.status_code
        ctype = response.headers.get("Content-Type", "").lower()
        if status == 200:
            return self._http.json(response)
        if "json" in ctype:
            try:
                doc = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                doc = None
            if status in (400, 413) and isinstance(doc, Mapping):
                message = self._http.redactor(error_message(doc))
                if status == 413:
                    message = f"{message} (ActiveData refuses query bodies over 10 MiB)"
                raise QueryError(message, source=self.name, status_code=status)
            if status == 404 and isinstance(doc, Mapping):
                raise NotFound(
                    f"ActiveData: {error_message(doc)}", source=self.name, status_code=404
                )
        if status == 400 and "html" in ctype:
            raise ProtocolError(
                "ActiveData answered with its HTML page (HTTP 400): the request reached it "
                "without a body; is a proxy stripping it?",
                source=self.name,
                status_code=400,
            )
        raise self._http.error_for(response)

    # -- bulk mode -------------------------------------------------------------------------------

    def _wait_bulk(self, reply: Mapping[str, Any], deadline: Deadline) -> Any:
        status_url, result_url = reply.get("status"), reply.get("url")
        if not isinstance(status_url, str) or not isinstance(result_url, str):
            raise ProtocolError("a bulk reply needs 'status' and 'url' addresses", source=self.name)
        bad = [0]

        def poll() -> Any:
            response = self._http.get(status_url, deadline=deadline)
            if response.status_code in (403, 404):
                return Pending(JobState.QUEUED)  # the status file is not written yet
            if response.status_code != 200:
                raise self._http.error_for(response)
            try:
                doc = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                bad[0] += 1
                if bad[0] > _MAX_BAD_STATUS:
                    raise ProtocolError(
                        f"the bulk status document stayed unreadable ({bad[0]} polls)",
                        source=self.name,
                    ) from None
                return Pending(JobState.RUNNING)
            bad[0] = 0
            state = doc.get("status") if isinstance(doc, Mapping) else None
            if state == "error" or (isinstance(doc, Mapping) and doc.get("ok") is False):
                raise QueryError(
                    self._http.redactor(error_message(doc.get("error") or {})),
                    source=self.name,
                )
            if state != "done":
                return Pending(JobState.RUNNING if state else JobState.QUEUED)
            result = self._http.get(result_url, deadline=deadline)
            if result.status_code == 403:
                return Pending(JobState.RUNNING)  # done, but S3 does not serve it yet
            if result.status_code != 200:
                raise self._http.error_for(result)
            try:
                return orjson.loads(result.content)
            except orjson.JSONDecodeError as exc:
                raise ProtocolError(
                    f"the bulk result is not valid JSON: {exc}", source=self.name
                ) from None

        return wait_or_cancel(
            poll,
            cancel=lambda: False,  # ActiveData cannot cancel a bulk job
            deadline=deadline,
            schedule=self.poll,
            source=self.name,
            sleep=self._sleep,
        )

    # -- results ---------------------------------------------------------------------------------

    def _result(
        self,
        answer: Any,
        jx: Mapping[str, Any],
        runtime: float,
        requested: int | None = None,
        *,
        bulk: bool = False,
    ) -> Result:
        """Decode an answer; ``truncated`` when as many rows came as the cap that applied
        (the limit asked for, at most 10,000 unless the answer came through bulk mode)."""
        if not isinstance(answer, Mapping) or "data" not in answer:
            raise ProtocolError(
                "ActiveData's answer has no 'data' (the query may have gone to bulk mode "
                "without a status address)",
                source=self.name,
            )
        try:
            names, columns, fmt = decode_columns(answer, jx)
        except DecodeError as exc:
            raise ProtocolError(
                f"cannot read ActiveData's answer: {exc}", source=self.name
            ) from None
        rows = len(columns[0]) if columns else len(answer.get("data") or ())
        limit = MAX_LIMIT if requested is None else min(requested, MAX_LIMIT)
        if bulk and requested is not None:
            limit = requested
        truncated = fmt in ("list", "table") and not jx.get("edges") and rows >= limit > 0
        meta_in = answer.get("meta") if isinstance(answer.get("meta"), Mapping) else {}
        extra: dict[str, Any] = {"format": fmt}
        if meta_in and meta_in.get("saved_as"):
            extra["saved_as"] = meta_in["saved_as"]
        meta = ResultMeta(
            source=self.name,
            query=orjson.dumps(dict(jx)).decode() if jx else None,
            runtime_s=runtime,
            truncated=truncated,
            extra=extra,
        )
        return to_result((names, columns), meta, times=time_columns(jx, TIME_FIELDS))
