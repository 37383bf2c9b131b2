"""A Treeherder REST API emulator: real HTTP on 127.0.0.1 over the sample data.

It keeps the rules a client must get right against the real service: the 403 for default
scripting User-Agents, the 406 for an unknown API version in ``Accept``, the push endpoint's
``count`` limit of 1000 (400 above) and missing offset, ``/api/jobs/``'s compact lists with
``job_property_names``, page numbers, ``next`` links and a page size silently clamped to 2000,
the deprecated project jobs endpoint's offset paging without ORDER BY, durations in minutes,
alert summaries paged by ``limit`` (<= 100) and alerts by cursor. Faults can be injected.

    with TreeherderEmulator() as emu:
        requests.get(f"{emu.url}/api/repository/", headers={"User-Agent": "me/1.0"})
"""

from __future__ import annotations

import datetime as dt
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import orjson

from thsources.testing.httpserver import Emulator, LocalServer, Recorded, Reply, Request
from thsources.testing.treeherder_data import ApiError, TreeherderData

__all__ = ["DISALLOWED_USER_AGENTS", "TreeherderEmulator", "TreeherderFaults"]

#: User-Agent prefixes Treeherder answers 403 (``DISALLOWED_USER_AGENTS`` in its settings).
DISALLOWED_USER_AGENTS: Final = (
    "python-requests/",
    "Python-urllib/",
    "libcurl/",
    "Go-http-client/",
    "Go 1.1 package http",
)
ALLOWED_VERSIONS: Final = ("1.0", "1.1")

_PROJECT = r"/api/project/(?P<project>[^/]+)"


@dataclass
class TreeherderFaults:
    """Faults the next requests meet. Counters are consumed one request at a time.

    ``statuses``: statuses answered to the next requests, in order (e.g. ``[503, 502]``), with
    ``retry_after`` (seconds) as a ``Retry-After`` header when set; ``resets``: the next requests
    whose connection is dropped without an answer; ``only_path``: a regular expression limiting
    the faults to matching paths.
    """

    statuses: list[int] = field(default_factory=list)
    retry_after: float | None = None
    resets: int = 0
    only_path: str | None = None


class TreeherderEmulator(Emulator[Recorded]):
    """A running Treeherder look-alike; a context manager, or :meth:`start` / :meth:`stop`.

    ``database`` is a DuckDB file of Treeherder tables (None: the embedded sample).
    ``push_time_granularity`` rounds push timestamps down to that many seconds, so that many
    pushes share one timestamp (as bulk-imported pushes do on the real server) and paging by
    timestamp must handle ties. ``shuffle_unordered=False`` makes the deprecated project jobs
    endpoint return one stable order. ``now`` fixes the clock running jobs' durations use.
    """

    name = "Treeherder"

    def __init__(
        self,
        database: str | Path | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        push_time_granularity: int = 1,
        shuffle_unordered: bool = True,
        now: dt.datetime | None = None,
    ) -> None:
        if push_time_granularity < 1:
            raise ValueError("push_time_granularity must be at least 1 second")
        self.database = database
        self.push_time_granularity = push_time_granularity
        self.shuffle_unordered = shuffle_unordered
        self.now = now
        self.faults = TreeherderFaults()
        self._lock = threading.Lock()
        self._server = LocalServer(
            self._answer, Recorded.of, host=host, port=port, name="treeherder-http"
        )
        self._data: TreeherderData | None = None
        self._routes: list[tuple[re.Pattern[str], Any]] = [
            (re.compile(p + "$"), h)
            for p, h in (
                (r"/api/repository/", lambda d, r, m: d.repositories()),
                (r"/api/optioncollectionhash/", lambda d, r, m: d.option_collection_hash()),
                (r"/api/failureclassification/", lambda d, r, m: d.failure_classifications()),
                (r"/api/performance/framework/", lambda d, r, m: d.frameworks()),
                (r"/api/jobs/", lambda d, r, m: d.jobs(r.args, self.url, r.path)),
                (r"/api/failures/", lambda d, r, m: d.failures(r.args)),
                (r"/api/failuresbybug/", lambda d, r, m: d.failures_by_bug(r.args)),
                (r"/api/failurecount/", lambda d, r, m: d.failure_count(r.args)),
                (
                    r"/api/performance/alertsummary/",
                    lambda d, r, m: d.alert_summaries(r.args, self.url, r.path),
                ),
                (r"/api/performance/alert/", lambda d, r, m: d.alerts(r.args, self.url, r.path)),
                (_PROJECT + r"/push/", lambda d, r, m: d.pushes(m["project"], r.args)),
                (_PROJECT + r"/jobs/", lambda d, r, m: d.project_jobs(m["project"], r.args)),
                (
                    _PROJECT + r"/job-log-url/",
                    lambda d, r, m: d.job_log_urls(m["project"], r.args),
                ),
                (
                    _PROJECT + r"/performance/signatures/",
                    lambda d, r, m: d.signatures(m["project"], r.args),
                ),
                (
                    _PROJECT + r"/performance/data/",
                    lambda d, r, m: d.perf_data(m["project"], r.args),
                ),
            )
        ]

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> TreeherderEmulator:
        if self._server.running:
            return self
        database = self.database
        if database is None:
            from thsources.local.loader import ensure_sample_db

            database = ensure_sample_db()
        self._data = TreeherderData(
            database,
            push_time_granularity=self.push_time_granularity,
            shuffle_unordered=self.shuffle_unordered,
            now=self.now,
        )
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        if self._data is not None:
            self._data.close()
            self._data = None

    # ------------------------------------------------------------------ answering

    def _fault(self, path: str) -> Reply | None:
        with self._lock:
            f = self.faults
            if f.only_path is not None and not re.search(f.only_path, path):
                return None
            if f.resets > 0:
                f.resets -= 1
                return Reply(0, b"", reset=True)
            if f.statuses:
                status = f.statuses.pop(0)
                headers = []
                if f.retry_after is not None:
                    headers.append(("Retry-After", f"{f.retry_after:g}"))
                if status >= 500:
                    return Reply(
                        status, b"<h1>Server Error (%d)</h1>" % status, "text/html", headers
                    )
                return _json(status, {"detail": f"injected fault {status}"}, headers)
        return None

    def _answer(self, request: Request) -> Reply:
        agent = request.headers.get("user-agent", "")
        if not agent or agent.startswith(DISALLOWED_USER_AGENTS):
            # Django's CommonMiddleware: a bare 403 page, not JSON.
            return Reply(403, b"<h1>403 Forbidden</h1>", "text/html")
        accept = request.headers.get("accept", "")
        version = re.search(r"version=([^;,\s]+)", accept)
        if version is not None and version.group(1) not in ALLOWED_VERSIONS:
            return _json(406, {"detail": f'Invalid version in "Accept" header: {version.group(1)}'})
        fault = self._fault(request.path)
        if fault is not None:
            return fault
        if request.method not in ("GET", "HEAD"):
            return _json(405, {"detail": f'Method "{request.method}" not allowed.'})
        data = self._data
        if data is None:
            return _json(503, {"detail": "stopping"})
        for pattern, handler in self._routes:
            match = pattern.match(request.path)
            if match is not None:
                try:
                    return _json(200, handler(data, request, match))
                except ApiError as exc:
                    return _json(exc.status, exc.body)
        return Reply(404, b"<h1>Not Found</h1>", "text/html")


def _json(status: int, body: Any, headers: list[tuple[str, str]] | None = None) -> Reply:
    return Reply(status, orjson.dumps(body), "application/json", headers or [])
