"""Did the failure rate of a platform's tests move with its crash rate per build?

Treeherder's side is the named query ``failure-rate-by-push`` (per push and platform) on a
Redash data source of Treeherder; telemetry's side a BigQuery query on a Redash BigQuery data
source (crashes per 1,000 usage hours per build id and OS, with each build's revision from
``buildhub2``). One ``thsources.local_sql`` join puts them together with the key functions:
a revision matches whatever its length (``short_revision``), a Treeherder platform meets its
telemetry OS (``platform_os``), a build id gives the build's time (``buildid_to_timestamp``).

With no arguments it starts the Redash emulator (the embedded sample and its telemetry), so it
runs with no credentials; ``--url``/``--api-key`` point it at a real Redash instead::

    python examples/crash_rate_vs_failures.py --platform windows11-64 --plot out.png

The plot needs matplotlib (``pip install 'thsources[plot]'``); without it the plot is skipped.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import thsources
from thsources import keys

TELEMETRY_SQL = """
WITH builds AS (
  SELECT build.build.id AS build_id, ANY_VALUE(build.source.revision) AS revision
  FROM `moz-fx-data-shared-prod.telemetry.buildhub2`
  WHERE build.target.channel = :channel
  GROUP BY build_id
)
SELECT
  e.build_id,
  b.revision,
  e.os_name,
  SUM(e.usage_hours) AS usage_hours,
  SAFE_DIVIDE(SUM(e.main_crashes + e.content_crashes + e.gpu_crashes), SUM(e.usage_hours))
    * 1000 AS crashes_per_1k_hours
FROM `moz-fx-data-shared-prod.telemetry.error_aggregates` AS e
JOIN builds AS b USING (build_id)
WHERE e.channel = :channel
  AND e.submission_date >= DATE_SUB(:until, INTERVAL :days DAY)
GROUP BY e.build_id, b.revision, e.os_name
"""

JOIN_SQL = """
SELECT f.platform, c.os_name, f.push_id, f.revision, f.push_time,
       buildid_to_timestamp(c.build_id) AS build_time,
       f.jobs, f.failure_rate, c.usage_hours, c.crashes_per_1k_hours
FROM failures f
JOIN crashes c
  ON short_revision(c.revision) = short_revision(f.revision)
 AND c.os_name = platform_os(f.platform)
ORDER BY f.platform, f.push_time
"""


@dataclass(frozen=True)
class Answer:
    """The joined rows (one per platform and build) and the correlation per platform."""

    joined: thsources.Result
    correlations: list[tuple[str, int, float]]  # (platform, builds, Pearson's r)
    plot: Path | None


def correlations(joined: thsources.Result, min_builds: int = 5) -> list[tuple[str, int, float]]:
    """Pearson's r of failure rate and crash rate per platform (platforms with enough builds),
    strongest first."""
    frame = joined.to_pandas()
    out = []
    for platform, rows in frame.groupby("platform"):
        if len(rows) >= min_builds:
            r = rows["failure_rate"].corr(rows["crashes_per_1k_hours"])
            out.append((str(platform), len(rows), float(r)))
    return sorted(out, key=lambda t: (-t[2], t[0]))


def compare(
    treeherder: thsources.Source,
    telemetry: thsources.Source,
    *,
    repository: str = "mozilla-central",
    days: int = 60,
) -> thsources.Result:
    """Failure rate per push and platform joined to crash rate per build and OS."""
    channel = keys.repository_channel(repository)
    if channel is None:
        raise thsources.ParameterError(
            f"{repository} ships to no channel, so no telemetry counts its builds: use "
            "mozilla-central, mozilla-beta or mozilla-release"
        )
    failures = thsources.run(
        "failure-rate-by-push",
        params={"repository": repository, "days": days, "min_jobs": 5},
        source=treeherder,
    )
    until = max(r["push_time"] for r in failures.records()) if len(failures) else None
    crashes = telemetry.query(
        TELEMETRY_SQL,
        params={
            "channel": channel,
            "until": (until or dt.datetime.now(dt.UTC)).date(),
            "days": days + 7,
        },
    )
    return thsources.local_sql(JOIN_SQL, failures=failures, crashes=crashes)


def plot(joined: thsources.Result, platform: str, path: Path, out: TextIO) -> Path | None:
    """A scatter of one platform's builds: failure rate against crash rate. None (and a note)
    without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'thsources[plot]'): no plot", file=out)
        return None
    rows = [r for r in joined.records() if r["platform"] == platform]
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.scatter([100 * r["failure_rate"] for r in rows], [r["crashes_per_1k_hours"] for r in rows])
    axes.set_xlabel(f"{platform}: failed jobs per push (%)")
    axes.set_ylabel(f"{rows[0]['os_name'] if rows else ''} crashes per 1,000 usage hours")
    axes.set_title("Failure rate vs crash rate, one point per build")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


@contextlib.contextmanager
def _redash(url: str | None, api_key: str | None) -> Iterator[tuple[str, str]]:
    if url is not None:
        if not api_key:
            raise SystemExit("--api-key is needed with --url")
        yield url, api_key
        return
    from thsources.testing import RedashEmulator

    with RedashEmulator() as emulator:  # the sample as "Treeherder", its telemetry as BigQuery
        yield emulator.url, emulator.api_key


def main(argv: Sequence[str] | None = None, out: TextIO = sys.stdout) -> Answer:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="a Redash server (default: start the emulator)")
    parser.add_argument("--api-key", help="its API key")
    parser.add_argument("--treeherder", default="Treeherder", help="Treeherder's data source")
    parser.add_argument(
        "--telemetry", default="Telemetry (BigQuery)", help="the BigQuery data source"
    )
    parser.add_argument("--repository", default="mozilla-central")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--platform", default="windows11-64", help="the one to plot")
    parser.add_argument("--plot", type=Path, help="write the scatter plot here (PNG)")
    args = parser.parse_args(argv)
    with _redash(args.url, args.api_key) as (url, key):
        connect: dict[str, Any] = {"url": url, "api_key": key}
        with (
            thsources.connect("redash", data_source=args.treeherder, **connect) as treeherder,
            thsources.connect("redash", data_source=args.telemetry, **connect) as telemetry,
        ):
            joined = compare(treeherder, telemetry, repository=args.repository, days=args.days)
    found = correlations(joined)
    print(f"{len(joined)} (platform, build) pairs on {args.repository}", file=out)
    print(f"{'platform':<28} {'builds':>6} {'r':>6}", file=out)
    for platform, builds, r in found:
        print(f"{platform:<28} {builds:>6} {r:>6.2f}", file=out)
    written = plot(joined, args.platform, args.plot, out) if args.plot else None
    if written is not None:
        print(f"plot: {written}", file=out)
    return Answer(joined, found, written)


if __name__ == "__main__":
    main()
