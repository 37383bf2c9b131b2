"""Telemetry to join with the sample: Mozilla-shaped BigQuery tables made from its pushes.

The Treeherder sample (:mod:`.sample`) stands for Treeherder's database; this file stands for
the two telemetry tables a CI-versus-crashes question needs, as Mozilla's BigQuery has them:

- ``telemetry.buildhub2``: one row per build and locale, nested as buildhub2 nests it
  (``build.build.id``, ``build.source.revision``, ``build.target.channel``...);
- ``telemetry.error_aggregates``: crashes and usage hours per day, build id, channel, OS and
  architecture, in the manner of ``telemetry_derived.error_aggregates_v1`` (``os_name`` is
  telemetry's ``environment.system.os.name``: ``Windows_NT``, ``Darwin``, ``Linux``).

Every ``mozilla-central``, ``mozilla-beta`` and ``mozilla-release`` push of the sample gets one
build (build id: the push time plus a few minutes) for Linux, Windows and macOS, used for
seven days after it was built. Its crash rate per 1,000 usage hours on an OS grows with the
share of that push's finished jobs on that OS's platforms that failed, so a join finds a real
relation. The keys match :mod:`thsources.keys`: ``platform_os`` of a job's platform is the
``os_name``, ``repository_channel`` of its repository the ``channel``, and a build id leads
to its push's revision through ``buildhub2``.

The tables live in a DuckDB file of their own beside the sample (same cache directory, seed
and scale), so the file served as Treeherder's database holds Treeherder's tables only.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .. import keys
from . import loader
from .sample import DEFAULT_SEED, SAMPLE_END, _app_version

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "CREATE_SQL",
    "GENERATOR_VERSION",
    "ensure_telemetry_db",
    "generate",
    "telemetry_db_path",
]

#: Bump whenever the generated rows change (it names the cached file).
GENERATOR_VERSION: Final = 1

#: The dataset (a DuckDB schema) the tables live in.
DATASET: Final = "telemetry"

CREATE_SQL: Final[tuple[str, ...]] = (
    f"CREATE SCHEMA {DATASET}",
    f"""CREATE TABLE {DATASET}.buildhub2 (
        id VARCHAR,
        build STRUCT(
            build STRUCT(date TIMESTAMP, id VARCHAR, target VARCHAR),
            download STRUCT(date TIMESTAMP, mimetype VARCHAR, size BIGINT, url VARCHAR),
            source STRUCT(product VARCHAR, repository VARCHAR, revision VARCHAR, tree VARCHAR),
            target STRUCT(channel VARCHAR, locale VARCHAR, os VARCHAR, platform VARCHAR,
                          version VARCHAR)
        )
    )""",
    f"""CREATE TABLE {DATASET}.error_aggregates (
        submission_date DATE,
        channel VARCHAR,
        version VARCHAR,
        build_id VARCHAR,
        application VARCHAR,
        os_name VARCHAR,
        architecture VARCHAR,
        count BIGINT,
        main_crashes BIGINT,
        content_crashes BIGINT,
        startup_crashes BIGINT,
        gpu_crashes BIGINT,
        usage_hours DOUBLE
    )""",
)

_REPOSITORIES: Final = ("mozilla-central", "mozilla-beta", "mozilla-release")


@dataclass(frozen=True, slots=True)
class _Target:
    os_name: str  # telemetry's environment.system.os.name
    platform: str  # buildhub's target.platform
    os: str  # buildhub's target.os
    triple: str  # the compiler's target (build.build.target)
    package: str  # the file name's ending
    share: float  # share of a channel's usage hours
    crashes: float  # crashes per 1,000 usage hours with no failing job


_TARGETS: Final = (
    _Target("Windows_NT", "win64", "win", "x86_64-pc-windows-msvc", "win64.installer.exe",
            1.0, 2.4),
    _Target("Darwin", "mac", "mac", "x86_64-apple-darwin", "mac.dmg", 0.35, 1.6),
    _Target("Linux", "linux-x86_64", "linux", "x86_64-pc-linux-gnu", "linux-x86_64.tar.xz",
            0.2, 1.1),
)  # fmt: skip
_LOCALES: Final = ("de", "en-US")
# Usage hours per day of a build's first week, by channel: nightly users move to the next
# build within a day or two, release users stay.
_HOURS: Final = {"nightly": 40_000.0, "beta": 300_000.0, "release": 2_500_000.0}
_DECAY: Final = {"nightly": 0.45, "beta": 0.75, "release": 0.9}
_DAYS: Final = 7
# Share of crashes by kind (startup crashes are main-process crashes counted apart).
_KINDS: Final = (("main", 0.3), ("content", 0.55), ("startup", 0.05), ("gpu", 0.1))


@dataclass(frozen=True, slots=True)
class _Push:
    repository: str
    revision: str
    time: datetime
    finished: dict[str, int]  # per OS name: finished jobs
    failed: dict[str, int]  # per OS name: failed jobs


def telemetry_db_path(seed: int = DEFAULT_SEED, scale: float = 1.0) -> Path:
    """The cache file of the telemetry tables for this seed and scale (built or not)."""
    name = f"telemetry-sample-v{GENERATOR_VERSION}-seed{seed}-scale{float(scale):g}.duckdb"
    return loader.cache_dir() / name


def ensure_telemetry_db(
    path: Path | None = None, *, seed: int = DEFAULT_SEED, scale: float = 1.0
) -> Path:
    """Path of a ready DuckDB file holding the telemetry tables, building it (and the sample
    it is made from) on first use; reused while its generator version, seed and scale match."""
    target = Path(path) if path is not None else telemetry_db_path(seed, scale)
    if loader._matches(target, seed, scale, GENERATOR_VERSION):
        return target
    source = loader.ensure_sample_db(seed=seed, scale=scale)
    return loader.build_atomically(target, lambda con: _fill(con, source, seed, scale))


def _fill(con: duckdb.DuckDBPyConnection, source: Path, seed: int, scale: float) -> None:
    import pyarrow as pa

    builds, aggregates = generate(_pushes(con, source), seed)
    con.execute("BEGIN TRANSACTION")
    for statement in CREATE_SQL:
        con.execute(statement)
    for name, rows in (("buildhub2", builds), ("error_aggregates", aggregates)):
        schema = con.sql(f"SELECT * FROM {DATASET}.{name} LIMIT 0").to_arrow_table().schema
        con.register("__thsources_rows", pa.Table.from_pylist(rows, schema=schema))
        try:
            con.execute(f"INSERT INTO {DATASET}.{name} SELECT * FROM __thsources_rows")
        finally:
            con.unregister("__thsources_rows")
    loader._write_info(con, seed, scale, GENERATOR_VERSION)
    con.execute("COMMIT")


def _pushes(con: duckdb.DuckDBPyConnection, source: Path) -> list[_Push]:
    """The release-channel pushes of the sample with their finished and failed jobs per OS
    (tier 1-2, retried/cancelled/superseded runs left out, as the named queries count)."""
    escaped = str(source).replace("'", "''")
    con.execute(f"ATTACH '{escaped}' AS th (READ_ONLY)")
    try:
        rows = con.execute(
            """
            SELECT r.name, p.revision, p.time, mp.platform,
                   count(j.id) FILTER (WHERE j.state = 'completed'
                       AND j.result NOT IN ('retry', 'usercancel', 'superseded')),
                   count(j.id) FILTER (WHERE j.state = 'completed'
                       AND j.result IN ('testfailed', 'busted'))
            FROM th.push p
            JOIN th.repository r ON r.id = p.repository_id
            LEFT JOIN th.job j ON j.push_id = p.id AND j.tier <= 2
            LEFT JOIN th.machine_platform mp ON mp.id = j.machine_platform_id
            WHERE r.name IN ('mozilla-central', 'mozilla-beta', 'mozilla-release')
            GROUP BY ALL
            ORDER BY p.time, p.revision, mp.platform
            """
        ).fetchall()
    finally:
        con.execute("DETACH th")
    pushes: dict[str, _Push] = {}
    for repository, revision, time, platform, finished, failed in rows:
        push = pushes.setdefault(revision, _Push(repository, revision, time, {}, {}))
        os_name = keys.platform_os(platform) if platform else None
        if os_name is not None:
            push.finished[os_name] = push.finished.get(os_name, 0) + finished
            push.failed[os_name] = push.failed.get(os_name, 0) + failed
    return list(pushes.values())


def _count(rng: random.Random, mean: float) -> int:
    """A Poisson count of the given mean (a rounded normal once the mean is large)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def generate(
    pushes: list[_Push], seed: int = DEFAULT_SEED
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The rows of ``buildhub2`` and ``error_aggregates`` (as dicts) for ``pushes``."""
    rng = random.Random(seed)
    builds: list[dict[str, Any]] = []
    aggregates: list[dict[str, Any]] = []
    seen: set[str] = set()
    last_day = (SAMPLE_END - timedelta(days=1)).date()
    for push in pushes:
        channel = keys.repository_channel(push.repository)
        assert channel is not None
        built = push.time + timedelta(seconds=rng.randint(240, 1500))
        build_id = keys.datetime_to_buildid(built)
        while build_id in seen:  # two pushes in the same minutes: the next free second
            built += timedelta(seconds=1)
            build_id = keys.datetime_to_buildid(built)
        seen.add(build_id)
        version = _app_version(push.repository, push.time)
        published = built + timedelta(seconds=rng.randint(1800, 5400))
        builds.extend(_buildhub_rows(rng, push, channel, version, build_id, built, published))
        for target in _TARGETS:
            aggregates.extend(
                _daily_rows(rng, push, channel, version, build_id, built, target, last_day)
            )
    return builds, aggregates


def _buildhub_rows(
    rng: random.Random,
    push: _Push,
    channel: str,
    version: str,
    build_id: str,
    built: datetime,
    published: datetime,
) -> Iterator[dict[str, Any]]:
    folder = {"nightly": "nightly", "beta": "releases", "release": "releases"}[channel]
    tree = push.repository if channel == "nightly" else f"releases/{push.repository}"
    for target in _TARGETS:
        for locale in _LOCALES:
            name = f"firefox-{version}.{locale}.{target.package}"
            url = f"https://archive.mozilla.org/pub/firefox/{folder}/{build_id}/{name}"
            yield {
                "id": f"{build_id}-{rng.getrandbits(64):016x}",
                "build": {
                    "build": {"date": built, "id": build_id, "target": target.triple},
                    "download": {
                        "date": published,
                        "mimetype": "application/octet-stream",
                        "size": rng.randint(60_000_000, 140_000_000),
                        "url": url,
                    },
                    "source": {
                        "product": "firefox",
                        "repository": f"https://hg.mozilla.org/{tree}",
                        "revision": push.revision,
                        "tree": tree,
                    },
                    "target": {
                        "channel": channel,
                        "locale": locale,
                        "os": target.os,
                        "platform": target.platform,
                        "version": version,
                    },
                },
            }


def _daily_rows(
    rng: random.Random,
    push: _Push,
    channel: str,
    version: str,
    build_id: str,
    built: datetime,
    target: _Target,
    last_day: date,
) -> Iterator[dict[str, Any]]:
    finished = push.finished.get(target.os_name, 0)
    failed = push.failed.get(target.os_name, 0) / finished if finished else 0.0
    # Crashes per 1,000 hours: the OS's base rate, up by the share of failing jobs.
    rate = target.crashes * (1 + 4 * failed) * rng.uniform(0.9, 1.1)
    hours = _HOURS[channel] * target.share * rng.uniform(0.8, 1.2)
    first = keys.utc_day(built)
    for n in range(_DAYS):
        day = first + timedelta(days=n)
        if day > last_day:
            break
        usage = round(hours * _DECAY[channel] ** n * rng.uniform(0.9, 1.1), 2)
        crashes = {kind: _count(rng, usage / 1000 * rate * part) for kind, part in _KINDS}
        yield {
            "submission_date": day,
            "channel": channel,
            "version": version,
            "build_id": build_id,
            "application": "Firefox",
            "os_name": target.os_name,
            "architecture": "x86-64",
            "count": max(1, round(usage / rng.uniform(1.5, 3.0))),
            "main_crashes": crashes["main"],
            "content_crashes": crashes["content"],
            "startup_crashes": crashes["startup"],
            "gpu_crashes": crashes["gpu"],
            "usage_hours": usage,
        }
