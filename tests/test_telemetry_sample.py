"""The telemetry tables beside the sample: shaped like Mozilla's, keyed as thsources.keys
says, made from the sample's pushes, built once per seed and scale, atomically."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from thsources import keys
from thsources.local import loader, telemetry
from thsources.local.telemetry import ensure_telemetry_db


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    c.execute(f"ATTACH '{loader.ensure_sample_db()}' AS th (READ_ONLY)")
    c.execute(f"ATTACH '{ensure_telemetry_db()}' AS tm (READ_ONLY)")
    keys.register_sql(c)
    yield c
    c.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def test_every_release_channel_push_has_one_build_per_os_and_locale(
    con: duckdb.DuckDBPyConnection,
) -> None:
    pushes = one(
        con,
        "SELECT count(*) FROM th.push p JOIN th.repository r ON r.id = p.repository_id "
        "WHERE repository_channel(r.name) IS NOT NULL",
    )
    assert one(con, "SELECT count(DISTINCT build.build.id) FROM tm.telemetry.buildhub2") == pushes
    assert one(con, "SELECT count(*) FROM tm.telemetry.buildhub2") == pushes * 3 * 2
    # One revision per build id, and the build id's channel is its repository's.
    mismatched = one(
        con,
        "SELECT count(*) FROM tm.telemetry.buildhub2 b "
        "LEFT JOIN th.push p ON p.revision = b.build.source.revision "
        "LEFT JOIN th.repository r ON r.id = p.repository_id "
        "WHERE r.name IS NULL OR repository_channel(r.name) <> b.build.target.channel "
        "OR b.build.source.tree NOT LIKE '%' || r.name",
    )
    assert mismatched == 0


def test_a_build_id_is_the_builds_time_minutes_after_its_push(
    con: duckdb.DuckDBPyConnection,
) -> None:
    lags = con.execute(
        "SELECT DISTINCT epoch(buildid_to_timestamp(b.build.build.id)) - epoch(p.time), "
        "buildid_to_timestamp(b.build.build.id) = b.build.build.date "
        "FROM tm.telemetry.buildhub2 b JOIN th.push p ON p.revision = b.build.source.revision"
    ).fetchall()
    assert lags and all(0 < lag <= 1500 + 60 and same for lag, same in lags)


def test_daily_rows_name_builds_of_buildhub2_and_oses_of_platform_os(
    con: duckdb.DuckDBPyConnection,
) -> None:
    orphans = one(
        con,
        "SELECT count(*) FROM tm.telemetry.error_aggregates e WHERE NOT EXISTS (SELECT 1 "
        "FROM tm.telemetry.buildhub2 b WHERE b.build.build.id = e.build_id "
        "AND b.build.target.channel = e.channel AND b.build.target.version = e.version)",
    )
    assert orphans == 0
    oses = {
        r[0]
        for r in con.execute(
            "SELECT DISTINCT os_name FROM tm.telemetry.error_aggregates"
        ).fetchall()
    }
    platforms = [r[0] for r in con.execute("SELECT platform FROM th.machine_platform").fetchall()]
    assert oses == {"Windows_NT", "Darwin", "Linux"}
    assert oses <= {keys.platform_os(p) for p in platforms}
    # Seven days from the build's UTC day, none after the sample's last day.
    spans = con.execute(
        "SELECT min(submission_date - utc_day(buildid_to_timestamp(build_id))), "
        "max(submission_date - utc_day(buildid_to_timestamp(build_id))), max(submission_date) "
        "FROM tm.telemetry.error_aggregates"
    ).fetchone()
    assert spans is not None and spans[:2] == (0, 6) and str(spans[2]) == "2026-10-31"


def test_crash_rate_rises_with_the_share_of_failed_jobs_on_that_os(
    con: duckdb.DuckDBPyConnection,
) -> None:
    by_os = dict(
        con.execute(
            """
            WITH failures AS (
                SELECT p.revision, platform_os(mp.platform) AS os,
                       count(*) FILTER (WHERE j.result IN ('testfailed', 'busted'))
                           / count(*) AS share
                FROM th.job j JOIN th.push p ON p.id = j.push_id
                JOIN th.machine_platform mp ON mp.id = j.machine_platform_id
                WHERE j.state = 'completed' AND j.tier <= 2
                  AND j.result NOT IN ('retry', 'usercancel', 'superseded')
                GROUP BY ALL
            ),
            crashes AS (
                SELECT b.revision, e.os_name,
                       sum(main_crashes + content_crashes + startup_crashes + gpu_crashes)
                           / sum(usage_hours) AS rate
                FROM tm.telemetry.error_aggregates e
                JOIN (SELECT DISTINCT build.build.id AS id, build.source.revision AS revision
                      FROM tm.telemetry.buildhub2) b ON b.id = e.build_id
                GROUP BY ALL
            )
            SELECT c.os_name, corr(f.share, c.rate)
            FROM crashes c JOIN failures f ON f.revision = c.revision AND f.os = c.os_name
            GROUP BY 1
            """
        ).fetchall()
    )
    assert set(by_os) == {"Windows_NT", "Darwin", "Linux"}
    assert all(r > 0.5 for r in by_os.values()), by_os


def test_the_same_seed_gives_the_same_rows_and_another_seed_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    source = loader.ensure_sample_db(seed=11, scale=0.02)
    with duckdb.connect() as c:
        pushes = telemetry._pushes(c, source)
    assert pushes
    first, again, other = (telemetry.generate(pushes, s) for s in (11, 11, 12))
    assert first == again and first != other


def test_built_once_atomically_and_reused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    path = ensure_telemetry_db(seed=11, scale=0.02)
    assert (
        path
        == tmp_path / f"telemetry-sample-v{telemetry.GENERATOR_VERSION}-seed11-scale0.02.duckdb"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [path.name, loader.sample_db_path(seed=11, scale=0.02).name]
    )  # no temporary leftovers
    with duckdb.connect(str(path), read_only=True) as c:
        assert one(c, "SELECT count(*) FROM telemetry.error_aggregates") > 0
    stat = path.stat()

    def no_rebuild(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("rebuilt although the cached file is current")

    monkeypatch.setattr(loader, "build_atomically", no_rebuild)
    assert ensure_telemetry_db(seed=11, scale=0.02) == path
    assert path.stat().st_mtime_ns == stat.st_mtime_ns


def test_a_foreign_file_is_replaced_and_a_failed_build_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    target = telemetry.telemetry_db_path(seed=11, scale=0.02)
    target.write_bytes(b"not a database")
    loader.ensure_sample_db(seed=11, scale=0.02)
    before = sorted(p.name for p in tmp_path.iterdir())

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("generator broke")

    with monkeypatch.context() as m:
        m.setattr(telemetry, "generate", broken)
        with pytest.raises(RuntimeError, match="generator broke"):
            ensure_telemetry_db(seed=11, scale=0.02)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no half-built file
    assert target.read_bytes() == b"not a database"
    assert ensure_telemetry_db(seed=11, scale=0.02) == target
    with duckdb.connect(str(target), read_only=True) as c:
        assert one(c, "SELECT count(*) FROM telemetry.buildhub2") > 0
