"""An ActiveData server emulator: the real HTTP API on 127.0.0.1, JX run by DuckDB.

ActiveData's public service is gone (2021), so this is what clients are tested against. It
answers as the server did: ``/query`` (JX, batches as ``{"tuple": [...]}``, ``meta.save``),
``/sql`` (translated to JX, answered as a table with ``meta.jx_query``), ``/find/<hash>``,
the tables ``treeherder`` and ``repo`` in ActiveData's field layout over the Treeherder
sample, ``meta.columns`` and ``meta.tables``, bulk mode (``destination: "url"``) with a status
document that is rewritten while the job runs and a result that answers 403 until it exists,
and the real error shapes: a 400 whose useful message sits in the ``cause`` chain as a
``{{name}}`` template, 413 for an oversized query, an HTML 400 for an empty body.

    with ActiveDataEmulator() as emu:
        requests.post(f"{emu.url}/query", json={"from": "treeherder", "format": "table"})
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson

from thsources.errors import UnsupportedQuery
from thsources.jx.evaluate import MAX_LIMIT, Evaluator, TableRef
from thsources.jx.expressions import JXError, sql_literal
from thsources.jx.fromsql import sql_to_jx
from thsources.jx.layout import TABLES, table_ref
from thsources.testing.httpserver import Emulator, LocalServer, Reply, Request, json_or_none

__all__ = ["ActiveDataEmulator", "ActiveDataFaults", "ActiveDataRequest"]

QUERY_SIZE_LIMIT: Final = 10 * 1024 * 1024
BULK_MAX: Final = 10_000_000
_HTML_400: Final = (
    b"<!DOCTYPE html><html><head><title>ActiveData</title></head><body>"
    b"<h1>ActiveData</h1><p>Send a JSON query in the body of a POST.</p></body></html>"
)


@dataclass
class ActiveDataFaults:
    """Misbehaviour to inject; counters are consumed one request at a time."""

    #: Statuses to answer the next ``/query`` or ``/sql`` requests with (gateway errors).
    gateway_errors: list[int] = field(default_factory=list)
    #: Status-document polls answered 403 (S3 before the first write).
    status_403: int = 0
    #: Status-document polls answered with truncated JSON (caught mid-write).
    status_partial: int = 0
    #: Seconds a bulk job spends "working" before its result is written.
    bulk_seconds: float = 0.0
    #: Answer bulk requests synchronously, as a server without an S3 config does.
    bulk_disabled: bool = False


@dataclass
class ActiveDataRequest:
    """One request as the emulator saw it."""

    method: str
    path: str
    body: bytes
    json: Any
    status: int = 0


@dataclass
class _BulkJob:
    guid: str
    status: dict[str, Any]
    result: bytes | None = None


class ActiveDataEmulator(Emulator[ActiveDataRequest]):
    """A running ActiveData look-alike; a context manager, or :meth:`start`/:meth:`stop`.

    ``database`` is a DuckDB file with the Treeherder schema (None: the embedded sample).
    """

    name = "ActiveData"

    def __init__(
        self, database: str | Path | None = None, *, host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.database = database
        self.faults = ActiveDataFaults()
        self.saved: dict[str, str] = {}
        self._jobs: dict[str, _BulkJob] = {}
        self._lock = threading.Lock()
        self._con: duckdb.DuckDBPyConnection | None = None
        self._tables: dict[str, TableRef] = {}
        self._server = LocalServer(
            self._serve,
            _recorded,
            host=host,
            port=port,
            methods=("GET", "POST", "OPTIONS", "HEAD"),
            server_header=None,
            name="activedata-http",
        )
        self._workers: list[threading.Thread] = []

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> ActiveDataEmulator:
        if self._server.running:
            return self
        path = self.database
        if path is None:
            from thsources.local.loader import ensure_sample_db

            path = ensure_sample_db()
        self._con = duckdb.connect(str(path), read_only=True)
        self._tables = {name: table_ref(self._con, name) for name in TABLES}
        self._tables["meta.columns"] = self._meta_columns()
        self._tables["meta.tables"] = self._meta_tables()
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        for t in self._workers:
            t.join(timeout=5)
        self._workers.clear()
        if self._con is not None:
            self._con.close()
            self._con = None

    def _banner(self) -> list[str]:
        return [f"tables: {', '.join(sorted(self._tables))}"]

    # -- tables --------------------------------------------------------------------------------

    def _meta_columns(self) -> TableRef:
        rows = [
            f"({sql_literal(t)}, {sql_literal(c)}, {sql_literal(_jx_type(ty))})"
            for t, ref in self._tables.items()
            for c, ty in ref.columns.items()
        ]
        relation = f'(SELECT * FROM (VALUES {", ".join(rows)}) v("table", "name", "type"))'
        return TableRef(relation, {"table": "VARCHAR", "name": "VARCHAR", "type": "VARCHAR"})

    def _meta_tables(self) -> TableRef:
        rows = [f"({sql_literal(t)})" for t in self._tables if not t.startswith("meta.")]
        relation = f'(SELECT * FROM (VALUES {", ".join(rows)}) v("name"))'
        return TableRef(relation, {"name": "VARCHAR"})

    def _evaluator(self) -> Evaluator:
        assert self._con is not None
        return Evaluator(self._con.cursor(), self._tables, strict=True)

    # -- the API -------------------------------------------------------------------------------

    def _take_gateway_error(self) -> int | None:
        with self._lock:
            if self.faults.gateway_errors:
                return self.faults.gateway_errors.pop(0)
        return None

    def _serve(self, request: Request) -> Reply:
        try:
            reply = self.handle(request.method, request.path, request.body, request.raw_headers)
        except Exception as exc:  # an unexpected failure still answers in the server's shape
            reply = _error(400, "{{reason}}", {"reason": f"{type(exc).__name__}: {exc}"})
        headers = [("Access-Control-Allow-Origin", "*")]
        return Reply(reply.status, reply.body, reply.content_type, headers)

    def handle(self, method: str, path: str, body: bytes, headers: Mapping[str, str]) -> Reply:
        if path.startswith("/find/"):
            return self._find(path[len("/find/") :])
        if path.startswith("/results/"):
            return self._bulk_file(path[len("/results/") :])
        is_query = path == "/query" or path.startswith("/query/")
        is_sql = path in ("/sql", "/sql/")
        if not (is_query or is_sql):
            if method in ("OPTIONS", "HEAD"):
                return Reply(200, b"", "text/html")
            return Reply(200, _HTML_400.replace(b"400", b"200"), "text/html")
        status = self._take_gateway_error()
        if status is not None:
            return Reply(status, b"<html><body>Bad Gateway</body></html>", "text/html")
        if not body:
            return Reply(400, _HTML_400, "text/html")
        if len(body) > QUERY_SIZE_LIMIT:
            if is_sql:
                return _error(400, "Query is too large to parse")
            return _error(413, "Query is too large")
        started = time.monotonic()
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return _error(400, "Expecting JSON: {{reason}}", {"reason": str(exc)})
        try:
            if is_sql:
                return self._sql(doc, started)
            return self._query(doc, started)
        except (JXError, UnsupportedQuery) as exc:
            return _error(
                400,
                "could not execute expression {{expression}}",
                {"expression": doc},
                cause=_cause(exc),
            )

    def _query(self, doc: Any, started: float) -> Reply:
        if not isinstance(doc, Mapping):
            raise JXError("Expecting a JSON object as the query")
        if "tuple" in doc:
            items = doc["tuple"]
            if not isinstance(items, list):
                raise JXError("Expecting 'tuple' to be a list of queries")
            answers = [self._answer(q) for q in items]
            return _json(200, {"data": answers, "meta": {"timing": _timing(started)}})
        query = dict(doc)
        meta = query.pop("meta", None) or {}
        if query.get("destination") in ("url", "s3") and self._bulk_applies(query):
            return self._start_bulk(query)
        answer = self._answer(query)
        answer_meta = answer.setdefault("meta", {})
        answer_meta["content_type"] = "application/json"
        answer_meta["timing"] = _timing(started)
        if isinstance(meta, Mapping) and meta.get("save"):
            answer_meta["saved_as"] = self._save(query)
        return _json(200, answer)

    def _answer(self, query: Any) -> dict[str, Any]:
        if not isinstance(query, Mapping):
            raise JXError("Expecting a JSON object as the query")
        query = {k: v for k, v in query.items() if k not in ("meta", "destination")}
        return self._evaluator().run(query)

    def _sql(self, doc: Any, started: float) -> Reply:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("sql"), str):
            raise JXError('Expecting {"sql": "<text>"}')
        jx = sql_to_jx(doc["sql"])
        jx["format"] = "table"
        answer = self._evaluator().run(jx)
        answer["meta"].update({"jx_query": jx, "timing": _timing(started)})
        return _json(200, answer)

    # -- saved queries -------------------------------------------------------------------------

    def _save(self, query: Mapping[str, Any]) -> str:
        text = orjson.dumps(query, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha1(text).digest()
        with self._lock:
            while True:
                code = base64.urlsafe_b64encode(digest[:6]).decode()
                if self.saved.get(code, text.decode()) == text.decode():
                    self.saved[code] = text.decode()
                    return code
                digest = hashlib.sha1(digest).digest()  # a collision: hash again

    def _find(self, code: str) -> Reply:
        with self._lock:
            text = self.saved.get(code)
        if text is None:
            return _json(404, {"type": "ERROR", "template": "not found"})
        return Reply(200, text.encode(), "application/json")

    # -- bulk mode ------------------------------------------------------------------------------

    def _bulk_applies(self, query: Mapping[str, Any]) -> bool:
        """``is_bulk_set`` / ``is_bulk_agg``: list or table, a set op or one plain groupby."""
        if self.faults.bulk_disabled or query.get("format") not in ("list", "table"):
            return False
        if query.get("edges"):
            return False
        groupby = query.get("groupby")
        if not groupby:
            return True
        items = groupby if isinstance(groupby, list) else [groupby]
        if len(items) != 1:
            return False
        g = items[0]
        return isinstance(g, str) or (isinstance(g, Mapping) and isinstance(g.get("value"), str))

    def _start_bulk(self, query: dict[str, Any]) -> Reply:
        guid = uuid.uuid4().hex
        limit = int(query.get("limit") or MAX_LIMIT)
        job = _BulkJob(guid, {"status": "starting", "ok": True, "start_time": time.time()})
        with self._lock:
            self._jobs[guid] = job
        worker = threading.Thread(
            target=self._run_bulk, args=(job, query, limit), name=f"bulk-{guid[:8]}", daemon=True
        )
        self._workers.append(worker)
        worker.start()
        base = f"{self.url}/results/{guid}"
        return _json(
            200,
            {
                "url": f"{base}.json",
                "status": f"{base}.status.json",
                "meta": {"format": query.get("format"), "limit": limit},
            },
        )

    def _run_bulk(self, job: _BulkJob, query: dict[str, Any], limit: int) -> None:
        with self._lock:
            job.status = {**job.status, "status": "working", "timestamp": time.time()}
        if self.faults.bulk_seconds > 0:
            time.sleep(self.faults.bulk_seconds)
        try:
            answer = self._evaluator().run(
                {
                    **{k: v for k, v in query.items() if k != "destination"},
                    "limit": min(limit, BULK_MAX),
                },
                max_limit=BULK_MAX,
            )
        except (JXError, duckdb.Error) as exc:
            with self._lock:
                job.status = {
                    **job.status,
                    "status": "error",
                    "ok": False,
                    "error": _cause(exc),
                    "end_time": time.time(),
                }
            return
        body = orjson.dumps(answer)
        with self._lock:
            job.result = body
            rows = len(answer.get("data") or [])
            job.status = {
                **job.status,
                "status": "done",
                "ok": True,
                "rows": rows,
                "end_time": time.time(),
            }

    def _bulk_file(self, name: str) -> Reply:
        status_doc = name.endswith(".status.json")
        guid = name.removesuffix(".status.json").removesuffix(".json")
        with self._lock:
            job = self._jobs.get(guid)
            if job is None:
                return _s3_denied()
            if status_doc:
                if self.faults.status_403 > 0:
                    self.faults.status_403 -= 1
                    return _s3_denied()
                text = orjson.dumps(job.status)
                if self.faults.status_partial > 0:
                    self.faults.status_partial -= 1
                    return Reply(200, text[: len(text) // 2], "application/json")
                return Reply(200, text, "application/json")
            if job.result is None:
                return _s3_denied()
            return Reply(200, job.result, "application/json")


# -- replies ----------------------------------------------------------------------------------


def _json(status: int, doc: Any) -> Reply:
    return Reply(status, orjson.dumps(doc, option=orjson.OPT_NON_STR_KEYS), "application/json")


def _s3_denied() -> Reply:
    body = b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code></Error>'
    return Reply(403, body, "application/xml")


def _timing(started: float) -> dict[str, float]:
    return {"total": round(time.monotonic() - started, 6)}


def _cause(exc: BaseException) -> dict[str, Any]:
    """The innermost ``Except`` of the chain: the real reason, as a template with params."""
    template = getattr(exc, "template", None)
    params = getattr(exc, "params", None)
    if template is None:
        template, params = "{{reason}}", {"reason": str(exc)}
    return {"context": "ERROR", "template": template, "params": params or {}, "trace": []}


def _error(
    status: int,
    template: str,
    params: Mapping[str, Any] | None = None,
    cause: Mapping[str, Any] | None = None,
) -> Reply:
    doc: dict[str, Any] = {
        "context": "ERROR",
        "template": template,
        "params": dict(params or {}),
        "trace": [{"file": "active_data/actions/query.py", "line": 1, "method": "jx_query"}],
        "meta": {"timing": {"total": 0.0}},
    }
    if cause is not None:
        doc["cause"] = {
            "context": "ERROR",
            "template": "problem",
            "params": {},
            "cause": [dict(cause)],
        }
    return _json(status, doc)


def _jx_type(duck: str) -> str:
    d = duck.upper()
    if d in ("BIGINT", "INTEGER", "SMALLINT", "DOUBLE", "FLOAT", "HUGEINT") or d.startswith(
        "DECIMAL"
    ):
        return "number"
    if d == "BOOLEAN":
        return "boolean"
    return "string"


def _recorded(request: Request) -> ActiveDataRequest:
    return ActiveDataRequest(request.method, request.path, request.body, json_or_none(request.body))
