"""The local source speaks PostgreSQL: checks that need no PostgreSQL server.

Expected values are computed here in Python from the sample's raw rows (fetched with plain
column reads), never written in by hand; the comparison with a real PostgreSQL is
``tests/test_dialect_postgres.py``. What must be refused is listed in
``tests/dialect_corpus/refused.toml``.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import statistics
import subprocess
import sys
import tomllib
from collections import defaultdict
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest
from hypothesis import given
from hypothesis import strategies as st

import thsources
from thsources.errors import PermissionDenied, QueryError, UnsupportedQuery
from thsources.local import pgdialect

CORPUS = Path(__file__).parent / "dialect_corpus"
AGREE = tomllib.loads((CORPUS / "agree.toml").read_text(encoding="utf-8"))["query"]
REFUSED = tomllib.loads((CORPUS / "refused.toml").read_text(encoding="utf-8"))
_ERRORS: dict[str, type[Exception]] = {"QueryError": QueryError}


@pytest.fixture(scope="module")
def local() -> Iterator[Any]:
    with thsources.connect("local") as src:
        yield src


@pytest.mark.parametrize("case", AGREE, ids=[q["name"] for q in AGREE])
def test_every_corpus_query_runs_on_local_with_rows(local: Any, case: dict[str, Any]) -> None:
    res = local.query(case["sql"])
    assert len(res) > 0
    assert all(c.name for c in res.columns)


@pytest.mark.parametrize("case", REFUSED["refused"], ids=lambda c: c["sql"][:40] or "empty")
def test_refused_with_the_construct_named(local: Any, case: dict[str, Any]) -> None:
    kind = _ERRORS.get(case.get("error", ""), UnsupportedQuery)
    with pytest.raises(kind) as err:
        local.query(case["sql"])
    assert type(err.value) is kind
    assert case["construct"] in str(err.value)
    assert err.value.source == "local"


@pytest.mark.parametrize("case", REFUSED["read_only"], ids=lambda c: c["sql"][:40])
def test_writes_are_permission_denied(local: Any, case: dict[str, Any]) -> None:
    with pytest.raises(PermissionDenied, match=case["construct"]):
        local.query(case["sql"])


def test_copy_wrote_no_file(local: Any) -> None:
    target = Path("/tmp/thsources-copy-test.csv")
    target.unlink(missing_ok=True)
    with pytest.raises(PermissionDenied):
        local.query(f"COPY job TO '{target}'")
    assert not target.exists()


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv_auto('/etc/passwd')",
        "COPY (SELECT 1) TO '/tmp/thsources-dialect-x.csv'",
        "ATTACH '/tmp/thsources-dialect-y.duckdb' AS y",
        "INSTALL httpfs",
        "SET enable_external_access = true",
        "SET integer_division = false",
    ],
)
def test_the_connection_itself_has_no_file_access_and_a_locked_configuration(
    local: Any, sql: str
) -> None:
    """Defence in depth: even SQL that bypassed the translation could not touch files."""
    Path("/tmp/thsources-dialect-x.csv").unlink(missing_ok=True)
    cursor = local._connection_and_path()[0].cursor()
    try:
        with pytest.raises(duckdb.Error, match="disabled|configuration|Permission"):
            cursor.execute(sql)
    finally:
        cursor.close()
    assert not Path("/tmp/thsources-dialect-x.csv").exists()


@pytest.mark.parametrize("sql", ["", "   \n", "-- just a comment", "/* c */", "SELECT 1; SELECT 2"])
def test_empty_and_several_statements_exit_2_on_the_command_line(tmp_path: Path, sql: str) -> None:
    env = {**os.environ, "THSOURCES_CONFIG": str(tmp_path / "none.toml")}
    done = subprocess.run(
        [sys.executable, "-m", "thsources", "query", "-s", "local", sql],
        input="",  # an empty argument makes the command read stdin: give it nothing either
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert "rows" not in done.stdout
    assert "statement" in done.stderr or "empty" in done.stderr


def test_a_refused_command_is_one_line_on_stderr(tmp_path: Path) -> None:
    """sqlglot's own warning about SHOW must not reach the terminal beside the refusal."""
    env = {**os.environ, "THSOURCES_CONFIG": str(tmp_path / "none.toml")}
    done = subprocess.run(
        [sys.executable, "-m", "thsources", "query", "-s", "local", "SHOW TABLES"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "thsources: error: the local source does not run SHOW: only SELECT queries run on "
        "the sample\n"
    )


def _rows(local: Any, sql: str) -> list[tuple[Any, ...]]:
    return local.query(sql).rows()


@pytest.mark.parametrize(
    ("column", "table"), [("id", "job"), ("name", "repository"), ("time::date", "push")]
)
def test_empty_lists_bind_for_any_column_type(local: Any, column: str, table: str) -> None:
    """The binder's PostgreSQL form for [] (``= ANY('{}')``) must run on the sample too."""
    total = local.query(f"SELECT count(*) AS n FROM {table}").records()[0]["n"]
    for op, expected in (("IN", 0), ("NOT IN", total)):
        sql = f"SELECT count(*) AS n FROM {table} WHERE {column} {op} :xs"
        assert local.query(sql, {"xs": []}).records() == [{"n": expected}]


@given(
    st.text(
        alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
        max_size=30,
    )
)
def test_any_text_round_trips_through_the_postgresql_binder_and_translation(
    local: Any, value: str
) -> None:
    """Values with backslashes are bound as E'...' strings; the sample must read them back."""
    assert local.query("SELECT :v AS v", {"v": value}).records() == [{"v": value}]


def test_integer_division_and_modulo_truncate_toward_zero(local: Any) -> None:
    raw = _rows(local, "SELECT id, tier FROM job ORDER BY id LIMIT 500")
    got = _rows(
        local, "SELECT id / 7, -id / 7, id % 7, -id % 7, id / tier FROM job ORDER BY id LIMIT 500"
    )
    for (ident, tier), row in zip(raw, got, strict=True):
        want = (
            int(ident / 7),
            int(-ident / 7),
            int(math.fmod(ident, 7)),
            int(math.fmod(-ident, 7)),
            int(ident / tier),
        )
        assert row == want


def test_division_by_zero_is_an_error_as_in_postgresql(local: Any) -> None:
    for sql in ("SELECT 7 / 0", "SELECT 7 % 0", "SELECT 1.5 / 0", "SELECT 1.0::float8 / 0"):
        with pytest.raises(QueryError, match="Division by zero"):
            local.query(sql)


def test_nulls_sort_last_ascending_and_first_descending(local: Any) -> None:
    raw = _rows(local, "SELECT id, bug_number FROM performance_alert_summary")
    assert any(b is None for _, b in raw) and any(b is not None for _, b in raw)
    nulls = sorted(i for i, b in raw if b is None)
    present = sorted((b, i) for i, b in raw if b is not None)
    ascending = [i for _, i in present] + nulls
    descending = nulls + [i for _, i in sorted(present, key=lambda p: (-p[0], p[1]))]
    sql = "SELECT id FROM performance_alert_summary ORDER BY bug_number {}, id"
    assert [r[0] for r in _rows(local, sql.format("ASC"))] == ascending
    assert [r[0] for r in _rows(local, sql.format("DESC"))] == descending
    windowed = _rows(
        local,
        "SELECT id, row_number() OVER (ORDER BY bug_number DESC, id) "
        "FROM performance_alert_summary ORDER BY 2",
    )
    assert [r[0] for r in windowed] == descending


def test_avg_and_sum_of_integers_are_exact_per_repository(local: Any) -> None:
    raw = _rows(local, "SELECT repository_id, tier, id FROM job")
    tiers: dict[int, list[int]] = defaultdict(list)
    ids: dict[int, int] = defaultdict(int)
    for repo, tier, ident in raw:
        tiers[repo].append(tier)
        ids[repo] += ident
    res = local.query(
        "SELECT repository_id, avg(tier), sum(tier), sum(id), round(avg(tier), 2) "
        "FROM job GROUP BY 1 ORDER BY 1"
    )
    assert [c.type for c in res.columns] == ["integer", "float", "integer", "float", "float"]
    for repo, avg, total, id_total, rounded in res.rows():
        exact = Decimal(sum(tiers[repo])) / len(tiers[repo])
        assert math.isclose(avg, float(exact), rel_tol=1e-12)
        assert total == sum(tiers[repo])
        assert id_total == float(ids[repo])
        assert rounded == float(exact.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def test_now_is_the_latest_push_and_relative_windows_find_rows(local: Any) -> None:
    times = [r[0] for r in _rows(local, "SELECT time FROM push")]
    latest = max(times)
    now, today, local_now = _rows(local, "SELECT now(), current_date, localtimestamp")[0]
    assert now == latest == local_now
    assert today == latest.date()
    week = sum(1 for t in times if t > latest - dt.timedelta(days=7))
    assert week > 0
    counted = _rows(local, "SELECT count(*) FROM push WHERE time > now() - interval '7 days'")
    assert counted == [(week,)]


def test_to_char_renders_like_strftime(local: Any) -> None:
    raw = _rows(local, "SELECT time FROM push ORDER BY id LIMIT 50")
    got = _rows(
        local,
        "SELECT to_char(time, 'YYYY-MM-DD HH24:MI:SS'), to_char(time, 'DD Mon YYYY'), "
        "to_char(time, 'IYYY-IW') FROM push ORDER BY id LIMIT 50",
    )
    for (t,), row in zip(raw, got, strict=True):
        assert row == (
            t.strftime("%Y-%m-%d %H:%M:%S"),
            t.strftime("%d %b %Y"),
            t.strftime("%G-%V"),
        )


def test_date_trunc_week_starts_on_monday(local: Any) -> None:
    raw = [r[0] for r in _rows(local, "SELECT time FROM push")]
    weeks: dict[dt.datetime, int] = defaultdict(int)
    for t in raw:
        day = t.replace(hour=0, minute=0, second=0, microsecond=0)
        weeks[day - dt.timedelta(days=day.weekday())] += 1
    got = _rows(local, "SELECT date_trunc('week', time), count(*) FROM push GROUP BY 1 ORDER BY 1")
    assert got == sorted(weeks.items())


def test_string_agg_and_array_agg_follow_their_order_by(local: Any) -> None:
    names = [r[0] for r in _rows(local, "SELECT name FROM repository")]
    got = _rows(
        local,
        "SELECT string_agg(name, ',' ORDER BY name DESC), array_agg(name ORDER BY name), "
        "jsonb_agg(name ORDER BY name) FROM repository",
    )
    assert got == [(",".join(sorted(names, reverse=True)), sorted(names), sorted(names))]


def test_median_per_signature(local: Any) -> None:
    raw = _rows(local, "SELECT signature_id, value FROM performance_datum")
    values: dict[int, list[float]] = defaultdict(list)
    for sig, value in raw:
        values[sig].append(value)
    got = _rows(
        local,
        "SELECT signature_id, percentile_cont(0.5) WITHIN GROUP (ORDER BY value) "
        "FROM performance_datum GROUP BY 1 ORDER BY 1",
    )
    assert len(got) == len(values)
    for sig, median in got:
        assert math.isclose(median, statistics.median(values[sig]), rel_tol=1e-12)


@pytest.mark.parametrize(
    ("expression", "name"),
    [
        ("count(*)", "count"),
        ("max(x)", "max"),
        ("1 + 1", "?column?"),
        ("x::date", "x"),
        ("CAST(t.x AS text)", "x"),
        ("'1'::integer", "int4"),
        ("2::double precision", "float8"),
        ("interval '1 day'", "interval"),
        ("date_trunc('day', x)", "date_trunc"),
        ("date_part('day', x)", "date_part"),
        ("extract(day from x)", "extract"),
        ("CASE WHEN x THEN 1 END", "case"),
        ("coalesce(x, 0)", "coalesce"),
        ("ARRAY[1, 2]", "array"),
        ("(ARRAY[1, 2])[1]", "array"),
        ("(SELECT max(y) FROM t)", "max"),
        ("EXISTS (SELECT 1)", "exists"),
        ("x -> 'k'", "?column?"),
        ("now()", "now"),
        ("current_date", "current_date"),
        ("row_number() OVER ()", "row_number"),
        ("count(*) FILTER (WHERE x)", "count"),
    ],
)
def test_output_names_follow_postgresql_rules(expression: str, name: str) -> None:
    """The rule table (PostgreSQL's FigureColname); tests/test_dialect_postgres checks it live."""
    tree = pgdialect._parse(f"SELECT {expression}")[0][0]
    assert tree is not None
    assert pgdialect.output_name(tree.expressions[0]) == name


def test_translations_are_cached_per_text() -> None:
    sql = "SELECT count(*) FROM job WHERE tier = 1"
    first = pgdialect.translate(sql)
    assert pgdialect.translate(sql) is first


def test_named_query_variants_bind_postgresql_literals(local: Any) -> None:
    res = local.query("SELECT :s AS s, :n::text AS n", params={"s": "it's", "n": 3})
    assert res.rows() == [("it's", "3")]
    assert local.dialect == "postgresql"


def test_the_redash_emulator_answers_postgresql_data_sources_the_same_way(local: Any) -> None:
    """Its PostgreSQL data sources run through the same step, so it no longer hides DuckDB."""
    from thsources.testing.redash import DataSource, RedashEmulator, User

    key = "dialect-test-key-0123456789abcdef0123456789"
    sql = (
        "SELECT count(*), 7 / 2, max(time)::date, extract(year FROM max(time)) "
        "FROM push WHERE repository_id = 1"
    )
    with (
        RedashEmulator(
            users=[User(api_key=key)], data_sources=[DataSource(1, "Treeherder")], workers=1
        ) as emu,
        thsources.connect(
            "redash", url=emu.url, api_key=key, data_source="Treeherder", timeout=60
        ) as redash,
    ):
        mine, theirs = local.query(sql), redash.query(sql)
        assert [c.name for c in theirs.columns] == [c.name for c in mine.columns]
        assert theirs.rows() == mine.rows()
        with pytest.raises(QueryError, match="FROM before SELECT"):
            redash.query("FROM push SELECT id")
        with pytest.raises(QueryError, match="read_csv_auto"):
            redash.query("SELECT * FROM read_csv_auto('/etc/passwd')")
