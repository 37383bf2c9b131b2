"""A Redash server emulator: the real HTTP API on 127.0.0.1, SQL run by DuckDB or a database.

It answers like Redash ``26.08.0-dev`` as recorded in ``reference/redash-samples`` (bodies,
status codes, content types, error texts), so a client tested against it behaves the same on a
real server: ad-hoc and saved-query execution with the server's cache and ``max_age`` rules,
Mustache parameters pasted raw, jobs run by a pool of background workers (queued -> started ->
finished, merged while pending, cancellable), results typed like the PostgreSQL runner, user and
per-query API keys, and injectable faults (races, HTML pages, resets, slowness, lost jobs).
A data source with a ``url`` (or the emulator's ``database_url``) runs its jobs on that
PostgreSQL or MySQL/MariaDB database instead, as the real runners do (``redash_executors``).

    with RedashEmulator("sample.duckdb", job_duration=0.5) as emu:
        requests.post(f"{emu.url}/api/query_results", json={...},
                      headers={"Authorization": f"Key {emu.api_key}"})
"""

from __future__ import annotations

import copy
import datetime as dt
import importlib
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb
import orjson

from thsources.errors import SourceUnavailable
from thsources.testing import redash_api, redash_bigquery
from thsources.testing.httpserver import Emulator, LocalServer, Reply, Request, json_or_none
from thsources.testing.redash_executors import (
    DuckDBExecutor,
    DuckDBInstance,
    Executor,
    open_url_executor,
    url_type,
)
from thsources.testing.redash_model import (
    DEFAULT_SAVED_QUERIES,
    DataSource,
    Faults,
    JobState,
    RecordedRequest,
    SavedQuery,
    User,
    generate_token,
    iso_naive,
    iso_utc,
)
from thsources.testing.redash_mustache import MustacheError
from thsources.testing.redash_params import (
    InvalidParameterError,
    QueryDetachedError,
    render,
    validate,
)
from thsources.testing.redash_sql import apply_auto_limit, combine_statements, gen_query_hash

__all__ = [
    "DataSource",
    "Faults",
    "JobState",
    "RecordedRequest",
    "RedashEmulator",
    "SavedQuery",
    "User",
]

#: rq keeps a finished ad-hoc job this long (``JOB_EXPIRY_TIME``, 12 h).
JOB_EXPIRY_SECONDS: Final = 12 * 3600.0
_STEP: Final = 0.01  # how often a waiting worker looks at the cancel flag


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Job:
    id: str
    data_source_id: int
    query: str
    query_hash: str
    query_id: str
    username: str
    created: float  # wall clock
    created_mono: float
    state: str = "queued"  # queued, started, finished, cancelled
    started_at: dt.datetime | None = None
    started: float | None = None
    ended: float | None = None
    result_id: int | None = None
    error: str | None = None
    cancelled: bool = False
    anomaly: bool = False  # the "status 4 with an empty error" fault
    racy_polls: int = 0
    interrupt: Callable[[], None] | None = None


@dataclass
class _Result:
    id: int
    query_hash: str
    query: str
    data_json: bytes
    data_source_id: int
    runtime: float
    retrieved_at: dt.datetime
    _data: dict[str, Any] | None = field(default=None, repr=False)

    def to_dict(self, restricted: bool = False) -> dict[str, Any]:
        """``QueryResult.to_dict``; ``restricted`` is what a query-key caller gets on a POST."""
        data = orjson.Fragment(self.data_json)
        if restricted:
            return {"data": data, "retrieved_at": iso_utc(self.retrieved_at)}
        return {
            "id": self.id,
            "query_hash": self.query_hash,
            "query": self.query,
            "data": data,
            "data_source_id": self.data_source_id,
            "runtime": self.runtime,
            "retrieved_at": iso_utc(self.retrieved_at),
        }

    def data(self) -> dict[str, Any]:
        if self._data is None:
            self._data = orjson.loads(self.data_json)
        return self._data


class RedashEmulator(Emulator[RecordedRequest]):
    """A running Redash look-alike; use as a context manager or with :meth:`start`/:meth:`stop`.

    ``database`` is a DuckDB file served read-only (None: the embedded Treeherder sample from
    ``thsources.local.loader.ensure_sample_db()``, served as data source 1 "Treeherder" beside
    its telemetry as data source 2 "Telemetry (BigQuery)", type ``bigquery``). Every worker
    has its own cursor, so queries run in parallel like on a deployment with several workers.
    ``job_duration`` is the least time a job takes (``duration_for(sql)`` may override it per
    query, returning None to keep it). ``database_url`` (``postgresql://...`` or
    ``mysql://...``) runs the default data source's jobs on that database instead; its type
    (``pg`` or ``mysql``) follows the URL.
    """

    name = "Redash"

    def __init__(
        self,
        database: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: tuple[str | Path, str | Path] | None = None,
        api_key: str | None = None,
        users: Iterable[User] | None = None,
        data_sources: Iterable[DataSource] | None = None,
        saved_queries: Iterable[SavedQuery] | None = None,
        workers: int = 4,
        job_duration: float = 0.0,
        duration_for: Callable[[str], float | None] | None = None,
        job_ttl: float = JOB_EXPIRY_SECONDS,
        any_age_ttl: float | None = None,
        database_url: str | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if database_url is not None and data_sources is not None:
            raise ValueError(
                "database_url sets the default data source; with data_sources, give each "
                "one its own DataSource(url=...)"
            )
        self.database = database
        user_list = (
            list(users) if users is not None else [User(api_key=api_key or generate_token())]
        )
        if not user_list:
            raise ValueError("at least one user is needed")
        self.users: list[User] = user_list
        if data_sources is not None:
            sources = list(data_sources)
        elif database_url is not None:
            sources = [DataSource(1, "Treeherder", url_type(database_url), url=database_url)]
        else:
            sources = _default_sources(database)
        self.data_sources: dict[int, DataSource] = {ds.id: ds for ds in sources}
        self.created_at = _utcnow().replace(microsecond=0)
        self._lock = threading.RLock()
        self.saved_queries: dict[int, SavedQuery] = {}
        for q in saved_queries if saved_queries is not None else DEFAULT_SAVED_QUERIES:
            self.add_saved_query(copy.deepcopy(q) if saved_queries is None else q)
        self.workers = workers
        self.job_duration = job_duration
        self.duration_for = duration_for
        #: Seconds a finished job stays pollable (rq's result TTL); then polls answer 500.
        self.job_ttl = job_ttl
        #: When set, ``max_age=-1`` reuses results at most this old
        #: (``REDASH_QUERY_RESULTS_EXPIRED_TTL_ENABLED``); None reuses any cached result.
        self.any_age_ttl = any_age_ttl
        self.faults = Faults()
        #: Number of queries the workers ran on the database (merged and cached ones excluded).
        self.executions = 0
        #: The SQL of each execution, in order (without the runner's annotation).
        self.executed: list[str] = []
        #: The text each execution handed to the database, in order: annotated when the data
        #: source's runner annotates (a BigQuery one only with ``useQueryAnnotation``).
        self.sent: list[str] = []
        #: Execution POSTs answered from the result cache.
        self.cache_hits = 0
        #: Jobs created (a POST merged into a pending job creates none).
        self.jobs_created = 0
        #: Times the web server was restarted with :meth:`restart_web`.
        self.web_restarts = 0
        self._schemas: dict[int, list[dict[str, Any]]] = {}

        self._server = LocalServer(
            self._answer,
            _recorded,
            host=host,
            port=port,
            tls=tls,
            methods=("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"),
            on_error=lambda request: redash_api.internal_error(),  # as from Flask
            name="redash-http",
        )
        self._jobs: dict[str, _Job] = {}
        self._merge_locks: dict[tuple[int, str], str] = {}
        self._results: dict[int, _Result] = {}
        self._results_by_key: dict[tuple[int, str], list[int]] = {}
        self._result_ids = itertools.count(1)
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._aliases: dict[str, str] = {}

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_key(self) -> str:
        """The first user's API key (full access)."""
        return self.users[0].api_key

    @property
    def tls(self) -> tuple[str | Path, str | Path] | None:
        """``(certfile, keyfile)`` to serve HTTPS instead of HTTP (e.g. a self-signed pair)."""
        return self._server.tls

    def start(self) -> RedashEmulator:
        """Open the database, start the workers and the HTTP server; returns self."""
        if self._server.running:
            return self
        self._stopping.clear()
        self._check_databases()
        # The first worker's DuckDB opens here, so that a bad path fails start(); the others
        # open theirs in their own threads, in parallel (or on the first job that needs one).
        first = _WorkerState(self)
        if any(ds.url is None for ds in self.data_sources.values()):
            self._resolve_databases()
            first.duckdb = self._open_instance(first)
        for i in range(self.workers):
            t = threading.Thread(
                target=self._worker_main,
                args=(first if i == 0 else _WorkerState(self),),
                name=f"redash-worker-{i}",
                daemon=True,
            )
            t.start()
            self._threads.append(t)
        self._server.start()
        return self

    def restart_web(self, down: float) -> threading.Thread:
        """Restart the web server: no listener for ``down`` seconds, then the same port again.

        As when Redash's gunicorn restarts: connections are refused meanwhile, while the
        workers go on running jobs and caching results. Returns at once; the returned thread
        brings the listener back (join it to wait for that).
        """
        thread = self._server.restart(down)
        with self._lock:
            self.web_restarts += 1
        return thread

    def stop(self) -> None:
        """Stop serving, cancel running work and close the database (idempotent)."""
        self._stopping.set()
        self._server.stop()
        with self._lock:
            interrupts = [j.interrupt for j in self._jobs.values() if j.interrupt is not None]
        for interrupt in interrupts:
            interrupt()
        for _ in self._threads:
            self._queue.put(None)
        for t in self._threads:
            t.join(timeout=5)
        self._threads.clear()
        with self._lock:
            # Nothing survives a stop: pending jobs read as cancelled, a restart starts afresh.
            self._queue = queue.Queue()
            self._merge_locks.clear()
            for job in self._jobs.values():
                if job.state in ("queued", "started"):
                    job.cancelled = True
                    job.state = "cancelled"

    def _banner(self) -> list[str]:
        sources = self.data_sources.values()
        return [f"API key: {self.api_key}"] + [
            f"data source {ds.id}: {ds.name} ({ds.type})" for ds in sources
        ]

    # ------------------------------------------------------------------ configuration

    def add_saved_query(self, query: SavedQuery) -> SavedQuery:
        """Register (or replace) a saved query; a missing API key is generated."""
        if query.api_key is None:
            query.api_key = generate_token()
        if query.created_at is None:
            query.created_at = self.created_at + dt.timedelta(milliseconds=query.id)
        with self._lock:
            self.saved_queries[query.id] = query
        return query

    # ------------------------------------------------------------------ observability

    @property
    def jobs(self) -> dict[str, JobState]:
        """Snapshots of all jobs the server still holds, by job id."""
        with self._lock:
            return {job.id: self._job_state(job) for job in self._jobs.values()}

    @property
    def result_ids(self) -> list[int]:
        """Ids of the results in the cache."""
        with self._lock:
            return sorted(self._results)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no job is queued or running, cancelled ones included (False on timeout)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy = any(j.state in ("queued", "started") for j in self._jobs.values())
            if not busy:
                return True
            time.sleep(_STEP)
        return False

    # ------------------------------------------------------------------ state changes for tests

    def expire_job(self, job_id: str) -> None:
        """Forget a job now, as rq does once its TTL passes (polls then answer 500).

        A job still running carries on and caches its result, as on the server.
        """
        with self._lock:
            self._jobs.pop(job_id, None)

    def age_results(self, seconds: float) -> None:
        """Make every cached result ``seconds`` older (to exercise ``max_age`` without waiting)."""
        with self._lock:
            for result in self._results.values():
                result.retrieved_at -= dt.timedelta(seconds=seconds)

    def clear_cache(self) -> None:
        """Drop every stored result (as Redash's cleanup of old results would)."""
        with self._lock:
            self._results.clear()
            self._results_by_key.clear()
            for q in self.saved_queries.values():
                q.latest_query_data_id = None

    # ------------------------------------------------------------------ internals used by the API

    def _answer(self, request: Request) -> Reply:
        """HTTP-level faults first (they hit any request), then the API."""
        fault = redash_api.http_fault(self, request.method, request.path)
        if fault == "reset":
            return Reply(0, b"", reset=True)
        if fault == "slow":
            time.sleep(max(0.0, self.faults.slow_seconds))
        if fault in ("html_200", "html_502"):
            return redash_api.html_fault_reply(fault)
        return redash_api.handle(self, request)

    def _user_by_key(self, key: str) -> User | None:
        for user in self.users:
            if user.api_key == key and not user.disabled:
                return user
        return None

    def _take(self, name: str) -> bool:
        """Consume one unit of an integer fault counter."""
        with self._lock:
            count = getattr(self.faults, name)
            if count > 0:
                setattr(self.faults, name, count - 1)
                return True
            return False

    def _latest_result(self, ds_id: int, sql: str, max_age: int) -> _Result | None:
        """``QueryResult.get_latest``: the newest cached result of this SQL within ``max_age``."""
        key = (ds_id, gen_query_hash(sql))
        now = _utcnow()
        with self._lock:
            ids = self._results_by_key.get(key, [])
            for rid in reversed(ids):
                result = self._results.get(rid)
                if result is None:
                    continue
                age = (now - result.retrieved_at).total_seconds()
                if max_age == -1:
                    if self.any_age_ttl is None or age <= self.any_age_ttl:
                        return result
                elif age <= max_age:
                    return result
        return None

    def _result(self, rid: int) -> _Result | None:
        with self._lock:
            return self._results.get(rid)

    def _live_job(self, job_id: str) -> _Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if (
                job is not None
                and job.ended is not None
                and time.monotonic() - job.ended > self.job_ttl
            ):
                del self._jobs[job_id]
                return None
            return job

    def _enqueue(self, ds: DataSource, sql: str, query_id: str, username: str) -> _Job:
        """``enqueue_query``: a new job, or the pending one running the same SQL on ``ds``."""
        query_hash = gen_query_hash(sql)
        key = (ds.id, query_hash)
        with self._lock:
            existing = self._merge_locks.get(key)
            if existing is not None:
                job = self._live_job(existing)
                if (
                    job is not None
                    and job.state in ("queued", "started")
                    and not job.cancelled
                    and not job.anomaly
                ):
                    return job
                del self._merge_locks[key]
            job = _Job(
                id=str(uuid.uuid4()),
                data_source_id=ds.id,
                query=sql,
                query_hash=query_hash,
                query_id=query_id,
                username=username,
                created=time.time(),
                created_mono=time.monotonic(),
            )
            if self.faults.empty_error_jobs > 0:
                self.faults.empty_error_jobs -= 1
                job.anomaly = True
            self._jobs[job.id] = job
            self._merge_locks[key] = job.id
            self.jobs_created += 1
        self._queue.put(job.id)
        return job

    def _cancel(self, job: _Job) -> None:
        with self._lock:
            job.cancelled = True
            if job.state == "queued":
                job.state = "cancelled"
            interrupt = job.interrupt
        if interrupt is not None:
            interrupt()

    def _job_dict(self, job: _Job, poll: bool) -> dict[str, Any]:
        """``serialize_job``, with the null-result-id race applied to polls."""
        with self._lock:
            status, error, result_id = 1, "", None
            updated_at: str | int = 0
            if job.cancelled:
                status, error = 4, "Query cancelled by user."
            elif job.anomaly and job.state != "queued":
                status = 4
            elif job.state == "started":
                status = 2
                updated_at = iso_naive(job.started_at) if job.started_at else 0
            elif job.state == "finished":
                if job.error is not None:
                    status, error = 4, job.error
                elif poll and job.racy_polls > 0:
                    job.racy_polls -= 1
                    status = 3
                else:
                    status, result_id = 3, job.result_id
            return {
                "id": job.id,
                "updated_at": updated_at,
                "status": status,
                "error": error,
                "result": result_id,
                "query_result_id": result_id,
            }

    def _job_state(self, job: _Job) -> JobState:
        if job.cancelled:
            state = "cancelled"
        elif job.state == "finished" and job.error is not None:
            state = "failed"
        else:
            state = job.state
        served = self._job_dict(job, poll=False)

        def wall(mono: float | None) -> float | None:
            return None if mono is None else job.created + (mono - job.created_mono)

        return JobState(
            id=job.id,
            state=state,
            status=served["status"],
            data_source_id=job.data_source_id,
            query=job.query,
            query_hash=job.query_hash,
            query_id=job.query_id,
            result_id=job.result_id,
            error=job.error,
            created_at=job.created,
            started_at=wall(job.started),
            ended_at=wall(job.ended),
        )

    def _dropdown_values(self, query_id: Any) -> list[str] | None:
        """Values of a query-based parameter: the source query's latest result, first column."""
        try:
            source = self.saved_queries.get(int(query_id))
        except (TypeError, ValueError):
            return None
        if source is None:
            return None
        if source.data_source_id is None or source.data_source_id not in self.data_sources:
            raise QueryDetachedError()
        result = self._result(source.latest_query_data_id) if source.latest_query_data_id else None
        if result is None:
            return None
        data = result.data()
        if not data.get("columns"):
            return None
        first = str(data["columns"][0]["name"]).lower()
        values = []
        for row in data["rows"]:
            lowered = {str(k).lower(): v for k, v in row.items()}
            values.append(str(lowered["value"] if "value" in lowered else lowered.get(first)))
        return values

    def _schema(self, ds: DataSource) -> list[dict[str, Any]]:
        """``DataSource.get_schema``: tables as the pg runner's ``build_schema`` names them
        (``schema.table`` outside the default schema), sorted by name, columns too."""
        with self._lock:
            cached = self._schemas.get(ds.id)
        if cached is not None:
            return cached
        if ds.url is not None:  # the runner's own get_schema, on the database
            out = open_url_executor(ds.url, ds.type).schema()
            with self._lock:
                self._schemas[ds.id] = out
            return out
        if ds.type == "bigquery":  # the BigQuery runner's dataset.table and field paths
            out = redash_bigquery.schema(self._database_path(ds))
            with self._lock:
                self._schemas[ds.id] = out
            return out
        connection = duckdb.connect(":memory:")
        try:
            escaped = self._database_path(ds).replace("'", "''")
            connection.execute(f"ATTACH '{escaped}' AS db (READ_ONLY)")
            rows = connection.execute(
                "SELECT table_schema, table_name, column_name, lower(data_type) "
                "FROM information_schema.columns WHERE table_catalog = 'db' "
                "ORDER BY table_schema, table_name, ordinal_position"
            ).fetchall()
        finally:
            connection.close()
        tables: dict[str, dict[str, Any]] = {}
        for schema, table, column, dtype in rows:
            name = table if schema == "main" else f"{schema}.{table}"
            tables.setdefault(name, {"name": name, "columns": []})["columns"].append(
                {"name": column, "type": dtype}
            )
        out = [
            {**t, "columns": sorted(t["columns"], key=lambda c: c["name"])}
            for t in sorted(tables.values(), key=lambda t: t["name"])
        ]
        with self._lock:
            self._schemas[ds.id] = out
        return out

    def _saved_query_hash(self, query: SavedQuery) -> str:
        """``Query.query_hash``: the text hashed with the stored default values applied."""
        text = query.query
        defaults = {str(p.get("name")): p.get("value") for p in query.parameters}
        if defaults:
            try:
                validate(query.parameters, defaults, self._dropdown_values)
                text = render(query.query, defaults, query.parameters)
            except (InvalidParameterError, QueryDetachedError, MustacheError, TypeError):
                text = query.query
        ds = self.data_sources.get(query.data_source_id) if query.data_source_id else None
        if ds is None or ds.supports_auto_limit:
            limit = query.options.get("apply_auto_limit")
            text = apply_auto_limit(text) if limit else combine_statements(text)
        return gen_query_hash(text)

    # ------------------------------------------------------------------ database and workers

    def _database_path(self, ds: DataSource | None) -> str:
        path = ds.database if ds is not None and ds.database is not None else self.database
        if ds is not None and ds.database is None and ds.type == "bigquery":
            # Telemetry in BigQuery's shape, made from the served sample's pushes.
            telemetry: Any = importlib.import_module("thsources.local.telemetry")
            ds.database = path = telemetry.ensure_telemetry_db()
        if path is None:
            # Lazily, and by name: the loader builds the sample on first use and is optional here.
            loader: Any = importlib.import_module("thsources.local.loader")
            path = loader.ensure_sample_db()
            self.database = path
        return str(Path(path))

    def _resolve_databases(self) -> None:
        """Give every served DuckDB file an alias (the emulator's own is ``treeherder``)."""
        aliases: dict[str, str] = {}
        paths = [self._database_path(None)]
        paths += [
            self._database_path(ds)
            for ds in self.data_sources.values()
            if ds.database or ds.type == "bigquery"
        ]
        for path in paths:
            if path not in aliases:
                aliases[path] = "treeherder" if not aliases else f"db{len(aliases)}"
        self._aliases = aliases

    def _check_databases(self) -> None:
        """A data source's database that cannot be reached fails start(), not its first job."""
        for ds in self.data_sources.values():
            if ds.url is not None:
                executor = open_url_executor(ds.url, ds.type)
                try:
                    executor.check()
                except Exception as e:
                    raise SourceUnavailable(
                        f"data source {ds.id} ({ds.name}): cannot connect to "
                        f"{executor.url.masked}: {executor.url.redact(str(e)).strip()}"
                    ) from None

    def _open_instance(self, worker: _WorkerState) -> DuckDBInstance:
        """A worker's own DuckDB over every served file (see :class:`DuckDBInstance`)."""
        return DuckDBInstance(self._aliases, worker.stopping)

    def _executor(self, worker: _WorkerState, ds: DataSource) -> Executor:
        """The worker's executor for ``ds``, made on its first job (and again if it changed)."""
        if ds.url is not None:
            key: tuple[object, ...] = (ds.id, ds.type, ds.url)
        else:
            key = (ds.id, ds.type, self._database_path(ds), ds.annotates_queries())
        executor = worker.executors.get(key)
        if executor is not None:
            return executor
        if ds.url is not None:
            executor = open_url_executor(ds.url, ds.type)
        else:
            if worker.duckdb is None:
                with self._lock:
                    if not self._aliases:
                        self._resolve_databases()
                worker.duckdb = self._open_instance(worker)
            alias = self._aliases.get(self._database_path(ds), "treeherder")
            executor = DuckDBExecutor(worker.duckdb, alias, ds.type, ds.annotates_queries())
        worker.executors[key] = executor
        return executor

    def _duration(self, sql: str) -> float:
        if self.duration_for is not None:
            custom = self.duration_for(sql)
            if custom is not None:
                return float(custom)
        return float(self.job_duration)

    def _worker_main(self, worker: _WorkerState) -> None:
        try:
            while not self._stopping.is_set():
                if self.faults.hold_queue:
                    time.sleep(_STEP)
                    continue
                try:
                    job_id = self._queue.get(timeout=0.05)
                except queue.Empty:
                    continue
                if job_id is None:
                    break
                while self.faults.hold_queue and not self._stopping.is_set():
                    time.sleep(_STEP)  # taken just before the hold: it waits, still queued
                with self._lock:
                    job = self._jobs.get(job_id)
                    if job is None or job.state != "queued":
                        continue
                    if job.cancelled:
                        job.state = "cancelled"
                        continue
                    job.state = "started"
                    job.started = time.monotonic()
                    job.started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                worker.job = job
                try:
                    self._run(job, worker)
                finally:
                    worker.job = None
        finally:
            worker.close()

    def _run(self, job: _Job, worker: _WorkerState) -> None:
        start = time.monotonic()
        duration = self._duration(job.query)
        ds = self.data_sources.get(job.data_source_id)
        data_json: bytes | None = None
        error: str | None = None
        with self._lock:
            self.executions += 1
            self.executed.append(job.query)
        metadata: dict[str, object] = {
            "Username": job.username,
            "Query ID": job.query_id,
            "Queue": ds.queue_name if ds else "queries",
            "Job ID": job.id,
            "Query Hash": job.query_hash,
            "Scheduled": False,
        }
        try:
            if ds is None:
                raise RuntimeError("Target data source not available.")
            executor = self._executor(worker, ds)
            with self._lock:
                job.interrupt = executor.interrupt
            if not job.cancelled:
                outcome = executor.run(job.query, metadata, worker.stopping)
                data_json, error = outcome.data_json, outcome.error
                if outcome.sent is not None:
                    with self._lock:
                        self.sent.append(outcome.sent)
        except Exception as e:  # the runner reports any failure as the job's error
            error = str(e)
        finally:
            with self._lock:
                job.interrupt = None
        while not job.cancelled and not self._stopping.is_set():
            remaining = duration - (time.monotonic() - start)
            if remaining <= 0:
                break
            time.sleep(min(_STEP, remaining))
        runtime = time.monotonic() - start
        with self._lock:
            if self._merge_locks.get((job.data_source_id, job.query_hash)) == job.id:
                del self._merge_locks[(job.data_source_id, job.query_hash)]
            job.ended = time.monotonic()
            if job.cancelled or self._stopping.is_set():
                job.cancelled = True
                job.state = "cancelled"
                return
            job.state = "finished"
            if data_json is None:
                job.error = (
                    error if error is not None else "Query completed but it returned no data."
                )
                return
            result = _Result(
                id=next(self._result_ids),
                query_hash=job.query_hash,
                query=job.query,
                data_json=data_json,
                data_source_id=job.data_source_id,
                runtime=runtime,
                retrieved_at=_utcnow(),
            )
            self._results[result.id] = result
            self._results_by_key.setdefault((result.data_source_id, result.query_hash), []).append(
                result.id
            )
            for q in self.saved_queries.values():
                if (
                    q.data_source_id == result.data_source_id
                    and self._saved_query_hash(q) == result.query_hash
                ):
                    q.latest_query_data_id = result.id
            job.result_id = result.id
            job.racy_polls = max(0, int(self.faults.null_result_id_polls))


def _default_sources(database: str | Path | None) -> list[DataSource]:
    """Treeherder; beside the embedded sample, also its telemetry as a BigQuery data source."""
    sources = [DataSource(1, "Treeherder")]
    if database is None:
        sources.append(DataSource(2, "Telemetry (BigQuery)", type="bigquery"))
    return sources


class _WorkerState:
    """A worker's current job and its executors (its DuckDB opened on first need)."""

    def __init__(self, emulator: RedashEmulator) -> None:
        self.emulator = emulator
        self.job: _Job | None = None
        self.duckdb: DuckDBInstance | None = None
        self.executors: dict[tuple[object, ...], Executor] = {}

    def stopping(self) -> bool:
        """Whether the job running now was cancelled, or the emulator is stopping."""
        job = self.job
        return self.emulator._stopping.is_set() or (job is not None and job.cancelled)

    def close(self) -> None:
        self.executors.clear()
        if self.duckdb is not None:
            self.duckdb.close()
            self.duckdb = None


def _recorded(request: Request) -> RecordedRequest:
    return RecordedRequest(
        method=request.method,
        path=request.path,
        query=request.query,
        params=request.args,
        headers=request.raw_headers,
        json=json_or_none(request.body),
        body=request.body,
        time=request.received,
    )
