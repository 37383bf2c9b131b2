"""The embedded sample: deterministic, big enough, relationally sound, realistic.

Most checks run against one full-size sample loaded once into an in-memory DuckDB; checks
driven by the schema (foreign keys, keys, types) are generic so a new table is covered
automatically.
"""

from __future__ import annotations

import base64
import hashlib
import os
import statistics
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from thsources.local import loader, sample
from thsources.local.sample import DEFAULT_SEED, SAMPLE_END, SAMPLE_START
from thsources.local.schema import TABLES, ForeignKey, TableDef, ddl, quote_ident, table

EPOCH = datetime(1970, 1, 1)
SMALL = 0.05


def q(name: str) -> str:
    return quote_ident(name, "duckdb")


# The content checks hold for any seed; THSOURCES_SAMPLE_SEED runs them against another one.
SEED = int(os.environ.get("THSOURCES_SAMPLE_SEED", DEFAULT_SEED))


@pytest.fixture(scope="session")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    """The full-size sample, loaded once."""
    c = duckdb.connect()
    loader.load_into_duckdb(c, SEED, 1.0)
    yield c
    c.close()


def one(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    assert row is not None
    return row[0]


def digest(data: dict[str, list[tuple[Any, ...]]]) -> dict[str, str]:
    return {name: hashlib.sha256(repr(rows).encode()).hexdigest() for name, rows in data.items()}


# ---- (a) determinism ----------------------------------------------------------------------


def test_same_seed_gives_identical_data() -> None:
    assert digest(sample.generate(7, SMALL)) == digest(sample.generate(7, SMALL))


def test_other_seed_gives_other_data() -> None:
    a, b = digest(sample.generate(7, SMALL)), digest(sample.generate(8, SMALL))
    assert a["job"] != b["job"]
    assert a["push"] != b["push"]
    assert a["failure_classification"] == b["failure_classification"]  # fixtures are fixed


def test_output_does_not_depend_on_hash_randomisation() -> None:
    """A fresh interpreter with another PYTHONHASHSEED produces the same rows."""
    code = (
        "import hashlib; from thsources.local import sample; "
        f"d = sample.generate(7, {SMALL}); "
        "print(hashlib.sha256(repr([d[t] for t in sorted(d)]).encode()).hexdigest())"
    )
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    d = sample.generate(7, SMALL)
    assert out == hashlib.sha256(repr([d[t] for t in sorted(d)]).encode()).hexdigest()


def test_iter_tables_follows_schema_order() -> None:
    names = [t.name for t, _ in sample.iter_tables(3, 0.02)]
    assert names == [t.name for t in TABLES]


# ---- (b) size and time window --------------------------------------------------------------


def test_default_size_meets_minimums(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT count(*) FROM job") >= 50_000
    assert one(con, "SELECT count(*) FROM push") >= 1_500
    assert one(con, "SELECT count(*) FROM performance_datum") >= 80_000
    repos = {r[0] for r in con.execute("SELECT DISTINCT repository_id FROM push").fetchall()}
    assert len(repos) >= 4
    assert {1, 4, 6, 77} <= repos  # real fixture ids: central, try, beta, autoland


def test_pushes_cover_the_120_day_window(con: duckdb.DuckDBPyConnection) -> None:
    lo, hi, days = con.execute(
        "SELECT min(time), max(time), count(DISTINCT CAST(time AS DATE)) FROM push"
    ).fetchone() or (None, None, None)
    assert lo >= SAMPLE_START and hi < SAMPLE_END
    assert lo < SAMPLE_START + timedelta(days=1) and hi > SAMPLE_END - timedelta(days=1)
    assert days >= 120


def test_scale_shrinks_the_sample() -> None:
    small = sample.generate(3, 0.02)
    assert 0 < len(small["job"]) < 5_000
    assert len({r[1] for r in small["push"]}) == 5


# ---- (c) foreign keys ----------------------------------------------------------------------

FKS = [(t, fk) for t in TABLES for fk in t.foreign_keys]


@pytest.mark.parametrize(
    ("t", "fk"), FKS, ids=[f"{t.name}.{fk.columns[0]}->{fk.ref_table}" for t, fk in FKS]
)
def test_foreign_key_resolves(con: duckdb.DuckDBPyConnection, t: TableDef, fk: ForeignKey) -> None:
    cond = " AND ".join(
        f"p.{q(r)} = c.{q(c)}" for c, r in zip(fk.columns, fk.ref_columns, strict=True)
    )
    not_null = " AND ".join(f"c.{q(c)} IS NOT NULL" for c in fk.columns)
    missing = one(
        con,
        f"SELECT count(*) FROM {q(t.name)} c WHERE {not_null} "
        f"AND NOT EXISTS (SELECT 1 FROM {q(fk.ref_table)} p WHERE {cond})",
    )
    assert missing == 0


def test_foreign_keys_are_well_formed() -> None:
    """Targets exist earlier (or are the table itself), are keys, and have the same type."""
    seen: set[str] = set()
    for t in TABLES:
        for fk in t.foreign_keys:
            assert fk.ref_table in seen or fk.ref_table == t.name
            ref = table(fk.ref_table)
            assert fk.ref_columns == ref.primary_key or fk.ref_columns in ref.unique
            for c, r in zip(fk.columns, fk.ref_columns, strict=True):
                assert t.column(c).type == ref.column(r).type, f"{t.name}.{c}"
        seen.add(t.name)


# ---- (d) keys ------------------------------------------------------------------------------

KEYS = [(t, key) for t in TABLES for key in (t.primary_key, *t.unique)]


@pytest.mark.parametrize(("t", "key"), KEYS, ids=[f"{t.name}({','.join(k)})" for t, k in KEYS])
def test_key_is_unique(con: duckdb.DuckDBPyConnection, t: TableDef, key: tuple[str, ...]) -> None:
    cols = ", ".join(q(c) for c in key)
    not_null = " AND ".join(f"{q(c)} IS NOT NULL" for c in key)
    dupes = one(
        con,
        f"SELECT count(*) FROM (SELECT {cols} FROM {q(t.name)} WHERE {not_null} "
        f"GROUP BY {cols} HAVING count(*) > 1)",
    )
    assert dupes == 0


def test_primary_keys_are_not_null(con: duckdb.DuckDBPyConnection) -> None:
    for t in TABLES:
        cond = " OR ".join(f"{q(c)} IS NULL" for c in t.primary_key)
        assert one(con, f"SELECT count(*) FROM {q(t.name)} WHERE {cond}") == 0, t.name


# ---- (e) types -----------------------------------------------------------------------------

DUCKDB_TYPES = {
    "int": "INTEGER",
    "bigint": "BIGINT",
    "smallint": "SMALLINT",
    "varchar": "VARCHAR",
    "text": "VARCHAR",
    "tsvector": "VARCHAR",
    "boolean": "BOOLEAN",
    "timestamp": "TIMESTAMP",
    "date": "DATE",
    "double": "DOUBLE",
    "json": "JSON",
}


@pytest.mark.parametrize("t", TABLES, ids=[t.name for t in TABLES])
def test_duckdb_columns_match_schema(con: duckdb.DuckDBPyConnection, t: TableDef) -> None:
    got = con.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_name = ? ORDER BY ordinal_position",
        [t.name],
    ).fetchall()
    want = [(c.name, DUCKDB_TYPES[c.base], "YES" if c.nullable else "NO") for c in t.columns]
    assert got == want


@pytest.mark.parametrize(
    "t", [t for t in TABLES if any(c.base == "varchar" for c in t.columns)], ids=lambda t: t.name
)
def test_strings_fit_their_varchar_length(con: duckdb.DuckDBPyConnection, t: TableDef) -> None:
    """PostgreSQL/MySQL enforce the lengths the sample will later be loaded with."""
    for c in t.columns:
        if c.base == "varchar":
            longest = one(con, f"SELECT coalesce(max(length({q(c.name)})), 0) FROM {q(t.name)}")
            assert longest <= (c.length or 0), f"{t.name}.{c.name}"


def test_row_values_have_neutral_python_types() -> None:
    """What every loader receives: ints, floats, bools, str, naive datetimes, dates."""
    expect: dict[str, tuple[type, ...]] = {
        "int": (int,), "bigint": (int,), "smallint": (int,), "varchar": (str,),
        "text": (str,), "tsvector": (str,), "boolean": (bool,), "timestamp": (datetime,),
        "date": (date,), "double": (float,), "json": (str,),
    }  # fmt: skip
    for t, rows in sample.iter_tables(5, 0.02):
        assert all(len(r) == len(t.columns) for r in rows), t.name
        for i, c in enumerate(t.columns):
            for r in rows:
                v = r[i]
                if v is None:
                    assert c.nullable, f"{t.name}.{c.name} is NULL"
                    continue
                assert isinstance(v, expect[c.base]), f"{t.name}.{c.name}={v!r}"
                if c.base in ("int", "bigint", "smallint"):
                    assert not isinstance(v, bool), f"{t.name}.{c.name}"
                if c.base == "timestamp":
                    assert isinstance(v, datetime) and v.tzinfo is None, f"{t.name}.{c.name}"
                if c.base == "date":
                    assert not isinstance(v, datetime)


def test_ids_use_the_width_treeherder_uses(con: duckdb.DuckDBPyConnection) -> None:
    """performance_datum ids exceed int4 in production; the sample exercises int8 there."""
    assert one(con, "SELECT min(id) FROM performance_datum") > 2**31
    assert table("job").column("id").type == "bigint"
    assert table("push").column("id").type == "int"
    assert table("bugscache").column("id").type == "bigint"


# ---- DDL -----------------------------------------------------------------------------------


def test_full_duckdb_ddl_executes_with_all_constraints() -> None:
    c = duckdb.connect()
    for stmt in ddl("duckdb", foreign_keys=True):
        c.execute(stmt)
    assert one(c, "SELECT count(*) FROM information_schema.tables") == len(TABLES)


@pytest.mark.parametrize("dialect", ["postgresql", "mysql"])
def test_ddl_renders_for_other_engines(dialect: Any) -> None:
    stmts = ddl(dialect)
    assert len(stmts) == len(TABLES)
    text = "\n".join(stmts)
    quote = "`" if dialect == "mysql" else '"'
    assert f"CREATE TABLE {quote}group{quote} (" in text
    assert f"CREATE TABLE {quote}commit{quote} (" in text
    assert text.count("FOREIGN KEY") == sum(len(t.foreign_keys) for t in TABLES)
    assert "varchar(40)" in text.lower()
    if dialect == "postgresql":
        assert "timestamp without time zone" in text and "jsonb" in text
    else:
        assert "DATETIME(6)" in text and "utf8mb4_bin" in text


# ---- (f) realistic content -----------------------------------------------------------------


def test_job_results_states_and_tiers(con: duckdb.DuckDBPyConnection) -> None:
    results = dict(con.execute("SELECT result, count(*) FROM job GROUP BY 1").fetchall())
    assert {"success", "testfailed", "busted", "exception", "retry", "usercancel"} <= set(results)
    share = results["success"] / sum(results.values())
    assert 0.78 <= share <= 0.92
    tiers = {r[0] for r in con.execute("SELECT DISTINCT tier FROM job").fetchall()}
    assert tiers == {1, 2, 3}
    states = dict(con.execute("SELECT state, count(*) FROM job GROUP BY 1").fetchall())
    assert set(states) == {"completed", "running", "pending"}
    assert states["completed"] > 0.99 * sum(states.values())


TIMES = [
    (t, c.name)
    for t in TABLES
    for c in t.columns
    if c.base in ("timestamp", "date") and not c.name.endswith("due_date")
]


@pytest.mark.parametrize(("t", "col"), TIMES, ids=[f"{t.name}.{c}" for t, c in TIMES])
def test_nothing_happens_after_the_anchor(
    con: duckdb.DuckDBPyConnection, t: TableDef, col: str
) -> None:
    """The sample is a snapshot taken at SAMPLE_END (due dates may lie beyond it)."""
    latest = one(con, f"SELECT max({q(col)}) FROM {q(t.name)}")
    assert latest is None or latest <= (SAMPLE_END if t.column(col).base == "timestamp" else
                                        SAMPLE_END.date())  # fmt: skip


def test_unfinished_jobs_use_epoch_zero(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT j.state, j.result, j.start_time, j.end_time, p.time FROM job j "
        "JOIN push p ON p.id = j.push_id WHERE j.state <> 'completed'"
    ).fetchall()
    assert rows
    for state, result, start, end, push_time in rows:
        assert result == "unknown" and end == EPOCH
        assert (start == EPOCH) == (state == "pending")
        assert push_time > SAMPLE_END - timedelta(days=1)  # only the latest pushes
    bad = one(
        con,
        "SELECT count(*) FROM job j JOIN push p ON p.id = j.push_id WHERE j.state = 'completed' "
        "AND NOT (p.time <= j.submit_time AND j.submit_time <= j.start_time "
        "AND j.start_time <= j.end_time AND j.end_time <= TIMESTAMP '2026-11-01')",
    )
    assert bad == 0


def test_failure_rates_differ_by_platform(con: duckdb.DuckDBPyConnection) -> None:
    rates = con.execute(
        "SELECT mp.platform, avg(CASE WHEN j.result = 'testfailed' THEN 1.0 ELSE 0 END) "
        "FROM job j JOIN machine_platform mp ON mp.id = j.machine_platform_id "
        "JOIN job_type jt ON jt.id = j.job_type_id "
        "WHERE jt.name LIKE 'test-%' AND j.state = 'completed' GROUP BY 1"
    ).fetchall()
    values = [r[1] for r in rates]
    assert len(values) >= 6
    assert max(values) > 2 * min(values)


def test_labels_symbols_and_groups_look_like_taskcluster(con: duckdb.DuckDBPyConnection) -> None:
    names = [r[0] for r in con.execute("SELECT name FROM job_type").fetchall()]
    assert "Gecko Decision Task" in names
    assert "test-linux1804-64-qr/debug-mochitest-browser-chrome-3" in names
    assert sum(n.startswith("test-") for n in names) > 80
    platforms = {r[0] for r in con.execute("SELECT platform FROM machine_platform").fetchall()}
    assert {
        "linux1804-64-qr",
        "windows11-64",
        "macosx1015-64",
        "android-em-7-0-x86_64",
    } <= platforms


def test_option_collection_hashes(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT oc.option_collection_hash, list(o.name ORDER BY o.name) FROM option_collection oc "
        "JOIN option o ON o.id = oc.option_id GROUP BY 1"
    ).fetchall()
    names = {tuple(opts) for _, opts in rows}
    assert {("opt",), ("debug",), ("asan",), ("shippable",)} <= names
    assert any(len(opts) > 1 for opts in names)  # a collection fanning out to several options
    for h, opts in rows:
        assert h == hashlib.sha1("".join(sorted(opts)).encode()).hexdigest()
    orphans = one(
        con,
        "SELECT count(*) FROM job j WHERE NOT EXISTS (SELECT 1 FROM option_collection oc "
        "WHERE oc.option_collection_hash = j.option_collection_hash)",
    )
    assert orphans == 0


def test_taskcluster_ids(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT count(*) FROM job") == one(
        con, "SELECT count(*) FROM taskcluster_metadata"
    )
    rows = con.execute(
        "SELECT j.guid, tm.task_id, tm.retry_id FROM job j "
        "JOIN taskcluster_metadata tm ON tm.job_id = j.id USING SAMPLE 500 ROWS"
    ).fetchall()
    for guid, task_id, retry_id in rows:
        assert len(task_id) == 22
        raw = base64.urlsafe_b64decode(task_id + "==")
        assert guid == f"{uuid.UUID(bytes=raw)}/{retry_id}"
    assert one(con, "SELECT max(retry_id) FROM taskcluster_metadata") >= 1
    reruns = one(
        con,
        "SELECT count(*) FROM (SELECT task_id FROM taskcluster_metadata GROUP BY 1 "
        "HAVING count(*) > 1)",
    )
    assert reruns > 100


def test_classifications_and_notes(con: duckdb.DuckDBPyConnection) -> None:
    fcs = dict(con.execute("SELECT failure_classification_id, count(*) FROM job GROUP BY 1")
               .fetchall())  # fmt: skip
    assert {1, 2, 4, 5, 6, 7, 8} <= set(fcs)
    # the job column is the latest note's classification; classified jobs have notes
    mismatched = one(
        con,
        "SELECT count(*) FROM job j JOIN (SELECT job_id, arg_max(failure_classification_id, "
        "created) AS fc FROM job_note GROUP BY 1) n ON n.job_id = j.id "
        "WHERE n.fc <> j.failure_classification_id",
    )
    assert mismatched == 0
    unexplained = one(
        con,
        "SELECT count(*) FROM job j WHERE j.failure_classification_id <> 1 "
        "AND NOT EXISTS (SELECT 1 FROM job_note n WHERE n.job_id = j.id)",
    )
    assert unexplained == 0
    assert one(con, "SELECT count(*) FROM job_note WHERE user_id IS NULL") > 0  # autoclassifier
    assert one(con, "SELECT count(*) FROM job_note WHERE user_id IS NOT NULL") > 0


def test_intermittents_link_to_bugscache_by_internal_id(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT bjm.bug_id, b.id, b.bugzilla_id, j.failure_classification_id, j.result "
        "FROM bug_job_map bjm JOIN bugscache b ON b.id = bjm.bug_id JOIN job j ON j.id = bjm.job_id"
    ).fetchall()
    assert len(rows) > 1000
    assert all(bug_id == bid for bug_id, bid, *_ in rows)
    assert all(bz is None or bz != bid for _, bid, bz, *_ in rows)
    assert {fc for *_, fc, _ in rows} <= {4, 7}
    assert {res for *_, res in rows} == {"testfailed"}
    assert any(bz is None for _, _, bz, *_ in rows)  # an "internal issue" without Bugzilla id
    # no Bugzilla number accidentally equals an internal id
    assert (
        one(con, "SELECT count(*) FROM bugscache b JOIN bugscache c ON b.bugzilla_id = c.id") == 0
    )
    # a handful of bugs recur across many pushes
    top = con.execute(
        "SELECT bjm.bug_id, count(DISTINCT j.push_id) AS pushes FROM bug_job_map bjm "
        "JOIN job j ON j.id = bjm.job_id GROUP BY 1 ORDER BY 2 DESC LIMIT 5"
    ).fetchall()
    assert top[0][1] >= 100 and top[4][1] >= 30


def test_failure_lines_join_failed_jobs(con: duckdb.DuckDBPyConnection) -> None:
    n, failed = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE j.result = 'testfailed') FROM failure_line fl "
        "JOIN job j ON j.guid = fl.job_guid AND j.repository_id = fl.repository_id"
    ).fetchone() or (0, 0)
    assert n == one(con, "SELECT count(*) FROM failure_line") and n == failed and n > 1000
    via_log = one(
        con,
        "SELECT count(*) FROM failure_line fl JOIN job_log jl ON jl.id = fl.job_log_id "
        "JOIN job j ON j.id = jl.job_id WHERE j.guid <> fl.job_guid",
    )
    assert via_log == 0


def test_manifest_results_have_errors(con: duckdb.DuckDBPyConnection) -> None:
    rows = con.execute(
        "SELECT g.name, count(*) FILTER (WHERE gs.status = 2) FROM group_status gs "
        'JOIN "group" g ON g.id = gs.group_id JOIN job_log jl ON jl.id = gs.job_log_id '
        "JOIN job j ON j.id = jl.job_id WHERE j.repository_id IN (1, 77) GROUP BY 1"
    ).fetchall()
    assert len(rows) > 20 and sum(r[1] > 0 for r in rows) > 10


def test_perf_data_points_come_from_their_jobs(con: duckdb.DuckDBPyConnection) -> None:
    bad = one(
        con,
        "SELECT count(*) FROM performance_datum d JOIN job j ON j.id = d.job_id "
        "JOIN performance_signature s ON s.id = d.signature_id "
        "WHERE j.push_id <> d.push_id OR j.repository_id <> d.repository_id "
        "OR s.repository_id <> d.repository_id OR j.machine_platform_id <> s.platform_id",
    )
    assert bad == 0
    assert (
        one(con, "SELECT count(*) FROM performance_signature WHERE length(signature_hash) <> 40")
        == 0
    )
    frameworks = {
        r[0]
        for r in con.execute("SELECT DISTINCT framework_id FROM performance_signature").fetchall()
    }
    assert {1, 2, 4, 13} <= frameworks


def series(con: duckdb.DuckDBPyConnection, sig: int, repo: int) -> list[tuple[int, float]]:
    return con.execute(
        "SELECT push_id, value FROM performance_datum WHERE signature_id = ? AND repository_id = ? "
        "ORDER BY push_timestamp",
        [sig, repo],
    ).fetchall()


def test_alerts_sit_on_real_step_changes(con: duckdb.DuckDBPyConnection) -> None:
    alerts = con.execute(
        "SELECT a.series_signature_id, s.repository_id, s.push_id, s.prev_push_id, a.prev_value, "
        "a.new_value, a.amount_pct, a.is_regression, sig.lower_is_better, a.amount_abs "
        "FROM performance_alert a JOIN performance_alert_summary s ON s.id = a.summary_id "
        "JOIN performance_signature sig ON sig.id = a.series_signature_id"
    ).fetchall()
    assert len(alerts) >= 40
    for sig, repo, push, prev_push, pv, nv, pct, regression, lower, amount_abs in alerts:
        points = series(con, sig, repo)
        pushes = [p for p, _ in points]
        k = pushes.index(push)
        assert pushes[k - 1] == prev_push  # prev_push is the previous data point's push
        before = statistics.median(v for _, v in points[max(0, k - 5) : k])
        after = statistics.median(v for _, v in points[k : k + 5])
        change = (after - before) / before
        assert (change > 0) == (nv > pv)
        assert abs(change) > 0.5 * pct / 100, (sig, push)
        assert abs(before - pv) / pv < 0.05 and abs(after - nv) / nv < 0.05
        assert pct == pytest.approx(abs(nv - pv) / pv * 100, abs=0.01)
        assert amount_abs == pytest.approx(nv - pv)
        assert regression == ((nv > pv) == lower)


def test_alert_summaries_are_consistent(con: duckdb.DuckDBPyConnection) -> None:
    assert one(con, "SELECT count(*) FROM performance_alert_summary") >= 15
    bad = one(
        con,
        "SELECT count(*) FROM performance_alert a JOIN performance_alert_summary s "
        "ON s.id = a.summary_id JOIN performance_signature sig ON sig.id = a.series_signature_id "
        "WHERE sig.framework_id <> s.framework_id OR sig.repository_id <> s.repository_id",
    )
    assert bad == 0
    # Django's rule: related_summary is set exactly for downstream/reassigned alerts
    assert one(con, "SELECT count(*) FROM performance_alert WHERE (related_summary_id IS NOT NULL) "
                    "<> (status IN (1, 2))") == 0  # fmt: skip
    statuses = {r[0] for r in con.execute("SELECT DISTINCT status FROM performance_alert_summary")
                .fetchall()}  # fmt: skip
    assert len(statuses) >= 5 and {0, 4} <= statuses  # untriaged, improvement, ...
    kinds = {r[0] for r in con.execute("SELECT DISTINCT is_regression FROM performance_alert")
             .fetchall()}  # fmt: skip
    assert kinds == {True, False}
    order = one(
        con,
        "SELECT count(*) FROM performance_alert_summary s JOIN push p ON p.id = s.push_id "
        "JOIN push pp ON pp.id = s.prev_push_id WHERE NOT (pp.time < p.time AND p.time < s.created "
        "AND pp.repository_id = s.repository_id AND p.repository_id = s.repository_id)",
    )
    assert order == 0


def test_recent_browsertime_alerts_on_autoland(con: duckdb.DuckDBPyConnection) -> None:
    """The reference's "browsertime alerts on autoland, last 30 days" query finds some."""
    recent = one(
        con,
        "SELECT count(*) FROM performance_alert_summary s "
        "JOIN performance_framework pf ON pf.id = s.framework_id "
        "JOIN repository r ON r.id = s.repository_id "
        "JOIN performance_alert a ON a.summary_id = s.id "
        "WHERE pf.name = 'browsertime' AND r.name = 'autoland' "
        "AND s.created >= TIMESTAMP '2026-11-01' - INTERVAL 30 DAY",
    )
    assert recent > 0


# ---- (g) the cached database ---------------------------------------------------------------


def test_ensure_sample_db_builds_atomically_and_reuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    path = loader.ensure_sample_db(seed=11, scale=0.02)
    assert path.parent == tmp_path
    assert f"v{sample.GENERATOR_VERSION}" in path.name and "seed11" in path.name
    assert "scale0.02" in path.name
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary leftovers
    with duckdb.connect(str(path), read_only=True) as c:
        assert one(c, "SELECT count(*) FROM job") > 0
    stat = path.stat()

    def no_rebuild(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("rebuilt although the cached file is current")

    monkeypatch.setattr(loader, "load_into_duckdb", no_rebuild)
    assert loader.ensure_sample_db(seed=11, scale=0.02) == path
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_ino == stat.st_ino


def test_reuse_while_this_process_holds_the_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A plain read-write ``duckdb.connect`` on the file must not make it look unusable."""
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    path = loader.ensure_sample_db(seed=12, scale=0.02)
    held = duckdb.connect(str(path))
    try:
        monkeypatch.setattr(loader, "_validated", set())  # forget the first validation

        def no_rebuild(*args: Any, **kwargs: Any) -> Any:
            raise AssertionError("rebuilt although the cached file is current")

        monkeypatch.setattr(loader, "load_into_duckdb", no_rebuild)
        assert loader.ensure_sample_db(seed=12, scale=0.02) == path
        assert one(held, "SELECT count(*) FROM push") > 0
    finally:
        held.close()


def test_generator_version_change_rebuilds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))
    old = loader.ensure_sample_db(seed=11, scale=0.02)
    monkeypatch.setattr(sample, "GENERATOR_VERSION", sample.GENERATOR_VERSION + 100)
    new = loader.ensure_sample_db(seed=11, scale=0.02)
    assert new != old and new.exists()
    with duckdb.connect(str(new), read_only=True) as c:
        version = one(c, f"SELECT value FROM {loader.INFO_TABLE} WHERE key = 'generator_version'")
    assert version == str(sample.GENERATOR_VERSION)


def test_explicit_path_is_rebuilt_when_it_holds_something_else(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "sample.duckdb"
    loader.ensure_sample_db(target, seed=1, scale=0.02)
    with duckdb.connect(str(target), read_only=True) as c:
        first = one(c, "SELECT min(revision) FROM push")
    loader.ensure_sample_db(target, seed=2, scale=0.02)
    with duckdb.connect(str(target), read_only=True) as c:
        assert one(c, "SELECT value FROM thsources_sample_info WHERE key = 'seed'") == "2"
        assert one(c, "SELECT min(revision) FROM push") != first
    target.write_bytes(b"not a database")
    loader.ensure_sample_db(target, seed=2, scale=0.02)
    with duckdb.connect(str(target), read_only=True) as c:
        assert one(c, "SELECT count(*) FROM push") > 0


def test_failed_build_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(loader.CACHE_ENV, str(tmp_path))

    def boom(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("disk full")

    monkeypatch.setattr(loader, "load_into_duckdb", boom)
    with pytest.raises(RuntimeError):
        loader.ensure_sample_db(seed=11, scale=0.02)
    assert list(tmp_path.iterdir()) == []


def test_concurrent_first_use_is_safe(tmp_path: Path) -> None:
    """Two processes building at once both end with the complete file."""
    code = (
        "from thsources.local.loader import ensure_sample_db; import duckdb; "
        "p = ensure_sample_db(seed=13, scale=0.02); "
        "c = duckdb.connect(str(p), read_only=True); "
        "print(p, c.execute('SELECT count(*) FROM job').fetchone()[0])"
    )
    env = dict(os.environ, **{loader.CACHE_ENV: str(tmp_path)})
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate()[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] and int(outs[0].split()[-1]) > 0
    assert len(list(tmp_path.iterdir())) == 1


def test_load_into_memory_returns_counts() -> None:
    c = duckdb.connect()
    counts = loader.load_into_duckdb(c, 5, 0.02)
    assert set(counts) == {t.name for t in TABLES}
    for name, n in counts.items():
        assert one(c, f"SELECT count(*) FROM {q(name)}") == n
