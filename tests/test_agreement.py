"""The agreement matrix: every named query on every source that has a variant for it, with
the same parameters, gives the records ``local`` gives (same columns, types and values in
the declared order), the only loss forgiven being the precision query.toml declares.

All sources read one sample (a fifth of the default, to keep the PostgreSQL load short): the
local source, the Redash, ActiveData and Treeherder emulators serving its file, and the
``sql`` source on a real PostgreSQL server loaded with it (when
``THSOURCES_TEST_POSTGRES_URL`` is set).
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sql_servers import ENV, server

import thsources
from thsources.agreement import Answer, ask, check, compare, example_params
from thsources.catalog import QUERIES_PATH_ENV, bind_params, get, list_queries
from thsources.cli import main
from thsources.local.loader import ensure_sample_db
from thsources.result import Column, Result
from thsources.sources.base import Source
from thsources.testing import ActiveDataEmulator, RedashEmulator, TreeherderEmulator

SCALE = 0.2
DIALECTS = {"redash": "postgresql", "activedata": "jx", "treeherder": "rest", "sql": "postgresql"}
# Parameter sets beyond each query's defaults (required values come from the data).
EXTRA: dict[str, list[dict[str, Any]]] = {
    "pushes": [
        {"repository": "try", "days": 30, "max_tier": 3},
        {"repository": "mozilla-central", "days": 10, "until": "2026-09-15T00:00:00"},
    ],
    "failure-rate-by-platform": [{"repository": "mozilla-central", "min_jobs": 10}],
    "perf-alerts": [{"days": 60}],
}
NAMES = [q.name for q in list_queries()]


def _has_variant(name: str, dialect: str) -> bool:
    try:
        get(name).variant_for(dialect)
    except thsources.UnsupportedQuery:
        return False
    return True


CASES = [
    pytest.param(name, i, kind, id=f"{name}-{i}-{kind}")
    for name in NAMES
    for i in range(1 + len(EXTRA.get(name, [])))
    for kind in DIALECTS
    if _has_variant(name, DIALECTS[kind])
]


@pytest.fixture(scope="module")
def sample() -> Path:
    return ensure_sample_db(scale=SCALE)


@pytest.fixture(scope="module")
def local(sample: Path) -> Iterator[Source]:
    with thsources.connect("local", scale=SCALE) as src:
        yield src


@pytest.fixture(scope="module")
def emulators(sample: Path) -> Iterator[dict[str, Any]]:
    with (
        RedashEmulator(sample, workers=2) as redash,
        ActiveDataEmulator(sample) as activedata,
        TreeherderEmulator(sample) as treeherder,
    ):
        yield {"redash": redash, "activedata": activedata, "treeherder": treeherder}


@pytest.fixture(scope="module")
def remotes(emulators: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The emulated sources, started once; ``sql`` is loaded on first use."""
    redash = emulators["redash"]
    sources: dict[str, Any] = {
        "redash": thsources.connect(
            "redash", url=redash.url, api_key=redash.api_key, data_source="Treeherder"
        ),
        "activedata": thsources.connect("activedata", url=emulators["activedata"].url),
        "treeherder": thsources.connect(
            "treeherder", url=emulators["treeherder"].url, pace=float("inf")
        ),
    }
    yield sources
    for src in sources.values():
        src.close()


@pytest.fixture(scope="module")
def sql() -> Iterator[Source]:
    import os

    if not os.environ.get(ENV["postgresql"]):
        pytest.skip(f"{ENV['postgresql']} is not set: no sql source on a real PostgreSQL")
    with server("postgresql") as srv:
        err = io.StringIO()
        code = main(
            ["sample", "load", srv.url, "--scale", str(SCALE)], stdout=io.StringIO(), stderr=err
        )
        assert code == 0, err.getvalue()
        with thsources.connect("sql", url=srv.url) as src:
            yield src


def _source(kind: str, request: pytest.FixtureRequest) -> Source:
    if kind == "sql":
        return request.getfixturevalue("sql")  # type: ignore[no-any-return]
    return request.getfixturevalue("remotes")[kind]  # type: ignore[no-any-return]


_PARAMS: dict[tuple[str, int], dict[str, Any]] = {}


def _params(name: str, i: int, local: Source) -> dict[str, Any]:
    if (name, i) not in _PARAMS:
        base = example_params(get(name), local)
        _PARAMS[name, i] = {**base, **([{}, *EXTRA.get(name, [])][i])}
    return _PARAMS[name, i]


def test_every_named_query_is_in_the_matrix_on_every_source_with_a_variant() -> None:
    covered = {(p.values[0], p.values[2]) for p in CASES}
    assert {name for name, _ in covered} == set(NAMES)
    for name in NAMES:
        for kind, dialect in DIALECTS.items():
            assert ((name, kind) in covered) == _has_variant(name, dialect)
    # every remote kind answers at least one query: the matrix is not empty anywhere
    assert {kind for _, kind in covered} == set(DIALECTS)


@pytest.mark.parametrize(("name", "i", "kind"), CASES)
def test_the_source_gives_the_records_local_gives(
    name: str, i: int, kind: str, local: Source, request: pytest.FixtureRequest
) -> None:
    params = _params(name, i, local)
    source = _source(kind, request)
    reference = ask(name, local, params)
    answer = ask(name, source, params)
    assert reference.result is not None, reference.error
    assert answer.result is not None, answer.error or answer.skipped
    assert len(reference.result) > 0
    assert answer.result.meta.source == source.name
    comparison = compare(get(name), bind_params(get(name), params), reference, answer)
    assert comparison.agrees, comparison.diff


# -- the comparison itself --------------------------------------------------------------------


def _copy_of(name: str, tmp_path: Path) -> Path:
    folder = tmp_path / name
    shutil.copytree(get(name).folder or "", folder)
    return folder


def test_a_duration_in_minutes_in_one_variant_fails_with_a_readable_diff(
    local: Source, remotes: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The postgresql variant of a copy of jobs-for-push gives minutes in duration_s; the
    ActiveData variant (untouched) gives seconds: the diff names the query, both sources,
    the column and the first rows that differ, by job_id."""
    params = example_params(get("jobs-for-push"), local)
    truth = ask("jobs-for-push", local, params).result
    assert truth is not None
    folder = _copy_of("jobs-for-push", tmp_path)
    sql = (folder / "postgresql.sql").read_text()
    wrong = sql.replace(
        "AS double precision)\n       END AS duration_s",
        "AS double precision) / 60\n       END AS duration_s",
    )
    assert wrong != sql
    (folder / "postgresql.sql").write_text(wrong)
    monkeypatch.setenv(QUERIES_PATH_ENV, str(tmp_path))

    query = get("jobs-for-push")
    bound = bind_params(query, params)
    on_local = ask("jobs-for-push", local, params)
    on_activedata = ask("jobs-for-push", remotes["activedata"], params)
    comparison = compare(query, bound, on_local, on_activedata)

    assert not comparison.agrees
    rows = truth.records()
    differing = [(i, r) for i, r in enumerate(rows) if r["duration_s"]]
    assert differing, "the push has finished jobs"
    expected = [
        f"named query 'jobs-for-push' (push_id={params['push_id']!r}): 'activedata' "
        "(activedata) differs from 'local' (local)",
        f"  column 'duration_s' (float): {len(differing)} of {len(rows)} rows differ; "
        "first differing rows:",
        *[
            f"    row {i} (job_id={r['job_id']!r}): local {r['duration_s'] / 60!r}, "
            f"activedata {r['duration_s']!r}"
            for i, r in differing[:3]
        ],
    ]
    assert comparison.diff == "\n".join(expected)


def _one_column(values: list[Any], kind: str, source: str) -> Answer:
    res = Result.from_columns([Column("value", "float")], [values])
    return Answer(source, kind, result=res)


def _perf(values: list[float]) -> Result:
    cols = [Column(c.name, c.type) for c in get("perf-series").columns]
    data: list[list[Any]] = [[] for _ in cols]
    for n, v in enumerate(values):
        row = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC), n, "a" * 40, v, n]
        for col, cell in zip(data, row, strict=True):
            col.append(cell)
    return Result.from_columns(cols, data)


def test_the_declared_rounding_is_forgiven_for_its_source_kind_only() -> None:
    query = get("perf-series")
    exact = Answer("db", "local", result=_perf([1.234567, 2.5]))
    rounded = Answer("th", "treeherder", result=_perf([1.23, 2.5]))
    assert compare(query, {}, exact, rounded).agrees
    # the same values from a kind with no declared precision differ
    other = Answer("ad", "activedata", result=_perf([1.23, 2.5]))
    diff = compare(query, {}, exact, other).diff
    assert diff.splitlines()[1:] == [
        "  column 'value' (float): 1 of 2 rows differ; first differing rows:",
        "    row 0 (push_id=0, push_time=2026-01-01T00:00:00+00:00, revision="
        f"{'a' * 40!r}, job_id=0): db 1.234567, ad 1.23",
    ]
    # a rounding beyond the declared one is not forgiven either
    off = Answer("th", "treeherder", result=_perf([1.24, 2.5]))
    assert "compared rounded to 2 decimals as declared" in compare(query, {}, exact, off).diff


def test_redash_milliseconds_are_forgiven_and_nothing_finer() -> None:
    query = get("pushes")
    when = dt.datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=dt.UTC)

    def pushes(at: dt.datetime) -> Result:
        values = [[1], ["r"], ["a"], [at], [1], [1], [0], [0], [0], [0]]
        return Result.from_columns(list(query.columns), values)

    exact = Answer("local", "local", result=pushes(when))
    ms = Answer("stmo", "redash", result=pushes(when.replace(microsecond=123000)))
    assert compare(query, {}, exact, ms).agrees
    wrong = Answer("stmo", "redash", result=pushes(when.replace(microsecond=122000)))
    assert "stmo 2026-03-01T12:00:00.122000+00:00" in compare(query, {}, exact, wrong).diff
    sql = Answer("db", "sql", result=pushes(when.replace(microsecond=123000)))
    assert not compare(query, {}, exact, sql).agrees


def test_columns_and_row_counts_are_compared_too() -> None:
    query = get("perf-series")
    a = Answer("a", "local", result=_perf([1.0, 2.0]))
    b = Answer("b", "sql", result=_perf([1.0]))
    assert compare(query, {}, a, b).diff.splitlines()[1] == (
        "  a has 2 rows, b 1; rows compared by position up to 1"
    )
    renamed = Result.from_columns([Column("value", "float")], [[1.0, 2.0]])
    c = Answer("c", "sql", result=renamed)
    assert "columns differ: a has push_time:datetime, push_id:integer, revision:string, " in (
        compare(query, {}, a, c).diff
    )


def test_check_runs_the_comparison_over_sources(local: Source, remotes: dict[str, Any]) -> None:
    rows = check(["pushes", "intermittent-bugs"], [local, remotes["treeherder"]])
    pushes, bugs = rows
    assert pushes.agrees and bugs.agrees
    assert pushes.verdicts == {
        "local": f"reference ({len(thsources.run('pushes', source=local))} rows)",
        "treeherder": "agrees",
    }
    assert bugs.verdicts["treeherder"] == "no variant"


# -- thsources check ----------------------------------------------------------------------------


@pytest.fixture
def configured(emulators: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[profiles.local]
kind = "local"
scale = {SCALE}

[profiles.rd]
kind = "redash"
url = "{emulators["redash"].url}"
api_key = "{emulators["redash"].api_key}"
data_source = "Treeherder"

[profiles.ad]
kind = "activedata"
url = "{emulators["activedata"].url}"

[profiles.th]
kind = "treeherder"
url = "{emulators["treeherder"].url}"
pace = inf

[profiles.anywhere]
sources = ["th", "local"]
"""
    )
    path.chmod(0o600)
    monkeypatch.setenv("THSOURCES_CONFIG", str(path))
    return path


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_check_prints_a_table_of_what_agrees(configured: Path, local: Source) -> None:
    code, out, err = _cli("check", "-q", "pushes", "-q", "intermittent-bugs")
    assert code == 0, err
    pushes = len(thsources.run("pushes", source=local))
    bugs = len(thsources.run("intermittent-bugs", source=local))
    lines = out.splitlines()
    assert lines[0].split() == ["query", "local", "ad", "rd", "th"]
    assert lines[2].split() == [
        "pushes",
        "reference",
        "(" + str(pushes),
        "rows)",
        "agrees",
        "agrees",
        "agrees",
    ]
    assert lines[3].split() == [
        "intermittent-bugs",
        "reference",
        "(" + str(bugs),
        "rows)",
        "no",
        "variant",
        "agrees",
        "no",
        "variant",
    ]
    assert err == "thsources: check: 2 of 2 named queries agree on local, ad, rd, th\n"


def test_check_shows_the_diff_and_fails_when_a_variant_is_wrong(
    configured: Path, local: Source, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _copy_of("jobs-for-push", tmp_path / "queries")
    sql = (folder / "postgresql.sql").read_text()
    (folder / "postgresql.sql").write_text(
        sql.replace("AS double precision)\n", "AS double precision) / 60\n")
    )
    monkeypatch.setenv(QUERIES_PATH_ENV, str(folder.parent))
    code, out, err = _cli("check", "-q", "jobs-for-push", "ad", "local", "th")
    assert code == 1
    assert out.splitlines()[2].split() == [
        "jobs-for-push",
        "reference",
        "(" + out.split("(")[1].split()[0],
        "rows)",
        "DIFFERS",
        "agrees",
    ]
    push_id = example_params(get("jobs-for-push"), local)["push_id"]
    assert err.startswith(
        f"named query 'jobs-for-push' (push_id={push_id!r}): 'local' (local) differs from "
        "'ad' (activedata)\n  column 'duration_s' (float): "
    )
    assert err.endswith("thsources: check: 0 of 1 named queries agree on ad, local, th\n")


def test_check_refuses_a_list_profile_and_an_unknown_query(configured: Path) -> None:
    code, _, err = _cli("check", "local", "anywhere")
    assert (code, err) == (
        2,
        "thsources: error: profile 'anywhere' lists sources; check them by name: "
        "thsources check th local\n",
    )
    code, _, err = _cli("check", "-q", "pushs")
    assert code == 2 and "no named query 'pushs' (did you mean 'pushes'?)" in err
