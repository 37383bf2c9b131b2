"""Benchmark ``treeherder-jobs``: every job of 50 pushes from the Treeherder emulator.

- baseline, thclient's approach: ``get_jobs(repo, push_id=X, count=None)`` for each push,
  i.e. the deprecated ``/api/project/{repo}/jobs/`` paged by ``offset`` with ``count=2000``
  until a short page, one push after the other, dicts kept (written here with plain
  ``requests`` and thclient's User-Agent and Accept headers, as thclient 5.0.0 sends them);
- ours: ``TreeherderSource.jobs(push_ids=[...])``: ``/api/jobs/?push_id__in=...`` in pages of
  2000 ordered by id, zipped into typed columns; with no pacing, with the default pace
  (5 requests/s), and with ``to_pandas()`` added;
- the compat client's ``get_jobs`` per push (dicts, one call per push, as a migrated script
  that keeps its loop would do).

``--rows`` sets the number of pushes (default 50, the newest of autoland and
mozilla-central). Every path's job ids are checked against the others'.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

import requests

from benchmarks import Options, Row

DESCRIPTION = "Treeherder: all jobs of 50 pushes, /api/jobs/ paging vs thclient's offset calls"


def thclient_approach(url: str, repo_of: dict[int, str]) -> list[dict[str, Any]]:
    """thclient 5.0.0's ``get_jobs(project, push_id=X, count=None)``, for every push."""
    session = requests.Session()
    session.headers.update(
        {"Accept": "application/json; version=1.0", "User-Agent": "treeherder-pyclient/5.0.0"}
    )
    jobs: list[dict[str, Any]] = []
    for push_id, repo in repo_of.items():
        offset = 0
        while True:
            answer = session.get(
                f"{url}/api/project/{repo}/jobs/",
                params={"push_id": push_id, "count": 2000, "offset": offset},
                timeout=30,
            )
            answer.raise_for_status()
            page = answer.json()["results"]
            jobs.extend(page)
            if len(page) < 2000:
                break
            offset += 2000
    return jobs


def _timed(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    fn()  # warm-up: connections, the emulator's first queries
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def run(options: Options) -> list[Row]:
    from thsources.compat import TreeherderClient
    from thsources.sources.treeherder import TreeherderSource
    from thsources.testing import TreeherderEmulator

    n = options.rows or 50
    rows: list[Row] = []
    with TreeherderEmulator() as emu:
        fast = TreeherderSource(url=emu.url, pace=float("inf"))
        polite = TreeherderSource(url=emu.url)
        repo_of: dict[int, str] = {}
        for repo in ("autoland", "mozilla-central"):
            for push_id in fast.pushes(repo, count=n // 2 + n % 2).column("push_id"):
                if len(repo_of) < n:
                    repo_of[push_id] = repo
        ids = sorted(repo_of)
        compat = TreeherderClient(server_url=emu.url)

        def counted(fn: Callable[[], Any]) -> Callable[[], tuple[Any, int]]:
            def wrapped() -> tuple[Any, int]:
                since = len(emu.requests)
                out = fn()
                return out, len(emu.requests) - since

            return wrapped

        base_s, (base_jobs, base_reqs) = _timed(
            counted(lambda: thclient_approach(emu.url, repo_of)), options.repeat
        )
        expected = sorted(j["id"] for j in base_jobs)
        rows.append(
            Row(
                f"thclient approach: offset calls per push ({n} pushes)",
                base_s,
                1.0,
                note=f"{len(expected)} jobs, {base_reqs} requests",
            )
        )

        paths: list[tuple[str, Callable[[], Any], Callable[[Any], list[int]]]] = [
            (
                "thsources jobs(push_ids=...), no pacing",
                lambda: fast.jobs(push_ids=ids),
                lambda r: r.column("job_id"),
            ),
            (
                "thsources jobs(push_ids=...), default pace 5/s",
                lambda: polite.jobs(push_ids=ids),
                lambda r: r.column("job_id"),
            ),
            (
                "thsources jobs(...).to_pandas(), no pacing",
                lambda: fast.jobs(push_ids=ids).to_pandas(),
                lambda df: [int(v) for v in df["job_id"]],
            ),
            (
                "compat get_jobs per push (default pace)",
                lambda: [
                    j for p, repo in repo_of.items() for j in compat.get_jobs(repo, push_id=p)
                ],
                lambda jobs: [j["id"] for j in jobs],
            ),
        ]
        for name, fn, job_ids in paths:
            seconds, (out, reqs) = _timed(counted(fn), options.repeat)
            got = sorted(job_ids(out))
            same = "same jobs" if got == expected else f"DIFFERENT jobs ({len(got)})"
            rows.append(Row(name, seconds, seconds / base_s, note=f"{same}, {reqs} requests"))
        for src in (fast, polite):
            src.close()
    return rows
