"""The agreement matrix: every named query on every source that has a variant for it, with
the same parameters, gives the records ``local`` gives (same columns, types and values in
the declared order), the only loss forgiven being the precision query.toml declares.

All sources read one sample (a fifth of the default, to keep the PostgreSQL load short): the
local source, the Redash, ActiveData and Treeherder emulators serving its file, and the
``sql`` source on real PostgreSQL and MariaDB servers loaded with it (when
``THSOURCES_TEST_POSTGRES_URL`` / ``THSOURCES_TEST_MYSQL_URL`` are set).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

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
# Each source of the matrix (a label) and the dialect whose variant it runs.
DIALECTS = {
    "redash": "postgresql",
    "activedata": "jx",
    "treeherder": "rest",
    "sql": "postgresql",
    "sql-mysql": "mysql",
}
# Parameter sets beyond each query's defaults (required values come from the data).
EXTRA: dict[str, list[dict[str, Any]]] = {
    "pushes": [
        {"repository": "try", "days": 30, "max_tier": 3},
        {
            "repository": "mozilla-central",
            "days": 10,
            "until": "2026-09-15T00:00:00",
            "max_tier": 3,
        },
        {"until": "2026-10-15T00:00:00", "days": 3},
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


def _loaded(kind: str) -> Iterator[Source]:
    """The sample loaded by `thsources sample load` into a space of its own on a real server."""
    import os

    if not os.environ.get(ENV[kind]):
        pytest.skip(f"{ENV[kind]} is not set: no sql source on a real {kind} server")
    with server(kind) as srv:
        err = io.StringIO()
        code = main(
            ["sample", "load", srv.url, "--scale", str(SCALE)], stdout=io.StringIO(), stderr=err
        )
        assert code == 0, err.getvalue()
        with thsources.connect("sql", url=srv.url) as src:
            yield src


@pytest.fixture(scope="module")
def sql() -> Iterator[Source]:
    yield from _loaded("postgresql")


@pytest.fixture(scope="module")
def sql_mysql() -> Iterator[Source]:
    yield from _loaded("mysql")


def _source(kind: str, request: pytest.FixtureRequest) -> Source:
    if kind.startswith("sql"):
        return request.getfixturevalue(kind.replace("-", "_"))  # type: ignore[no-any-return]
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

[profiles.nokey]
kind = "redash"
url = "{emulators["redash"].url}"
api_key_env = "THSOURCES_AGREE_UNSET_KEY"
"""
    )
    path.chmod(0o600)
    monkeypatch.setenv("THSOURCES_CONFIG", str(path))
    monkeypatch.setenv("THSOURCES_AGREE_UNSET_KEY", emulators["redash"].api_key)
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
    assert lines[0].split() == ["query", "local", "ad", "nokey", "rd", "th"]
    assert lines[2].split() == [
        "pushes",
        "reference",
        "(" + str(pushes),
        "rows)",
        "agrees",
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
        "agrees",
        "no",
        "variant",
    ]
    assert err == "thsources: check: 2 of 2 named queries agree on local, ad, nokey, rd, th\n"


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


def test_check_reports_a_source_it_cannot_connect_and_checks_the_others(
    configured: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THSOURCES_AGREE_UNSET_KEY", raising=False)
    code, out, err = _cli("check", "local", "nokey", "th", "-q", "perf-alerts")
    assert code == 1
    header, _, row = out.splitlines()[:3]
    assert header.split() == ["query", "local", "nokey", "th"]
    assert row.split()[-3:] == ["error:", "ConfigError", "agrees"]
    assert err.splitlines() == [
        "cannot connect to 'nokey': profile 'nokey' reads api_key from the environment "
        "variable THSOURCES_AGREE_UNSET_KEY, which is not set; export "
        "THSOURCES_AGREE_UNSET_KEY=... or pass api_key=...",
        "thsources: check: 1 of 1 named queries agree on local, th; could not connect to nokey",
    ]


def test_check_refuses_a_bad_timeout_before_running_anything(configured: Path) -> None:
    code, _, err = _cli("check", "--timeout", "0", "-q", "pushes")
    assert code == 2 and "timeout" in err


# -- declarations in query.toml ------------------------------------------------------------------

_COLUMNS = """
[[columns]]
name = "v"
type = "float"
{v}
[[columns]]
name = "t"
type = "datetime"
{t}
"""


@pytest.mark.parametrize(
    ("v", "t", "message"),
    [
        ("precision = { tree = { decimals = 2 } }", "", r"precision names 'tree', which is not a "),
        ("precision = { treeherder = { decimals = -1 } }", "", r"decimals must be a whole number"),
        ("precision = { treeherder = { decimals = 1.5 } }", "", r"decimals must be a whole number"),
        ('precision = { redash = { truncate = "ms" } }', "", r"truncate does not apply to a float"),
        ("", "precision = { redash = { decimals = 3 } }", r"decimals does not apply to a datetime"),
        ("", 'precision = { redash = { truncate = "us" } }', r'truncate takes "ms" or "s", not '),
        ("", "precision = { redash = {} }", r"precision.redash must hold one of decimals, trunc"),
        ("precision = 2", "", r"precision must be a table of source kinds, e.g. precision = "),
    ],
)
def test_a_bad_precision_is_refused_when_the_query_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, v: str, t: str, message: str
) -> None:
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "query.toml").write_text('order = "v"\n' + _COLUMNS.format(v=v, t=t))
    (folder / "postgresql.sql").write_text("SELECT 1.0 AS v, now() AS t")
    monkeypatch.setenv(QUERIES_PATH_ENV, str(tmp_path))
    with pytest.raises(thsources.ConfigError, match=message):
        get("q")


def test_precision_and_examples_are_read_from_the_shipped_queries() -> None:
    from thsources.catalog import Precision

    series = get("perf-series")
    assert series.precision["value"] == {"treeherder": Precision(decimals=2)}
    assert series.precision_for("value", ["local", "sql"]) is None
    assert series.precision_for("value", ["redash", "treeherder"]) == Precision(decimals=2)
    assert series.precision_for("push_time", ["local", "redash"]) == Precision(truncate="ms")
    assert {p.name: p.example for p in series.params}["signature_hash"] == (
        "perf-alerts.signature_hash"
    )
    # the coarsest of two declared rules wins, whichever side declares it
    two, three = Precision(decimals=2), Precision(decimals=3)
    assert two.coarsest(three) == three.coarsest(two) == two
    ms, s = Precision(truncate="ms"), Precision(truncate="s")
    assert ms.coarsest(s) == s.coarsest(ms) == s
    when = dt.datetime(2026, 1, 1, 0, 0, 1, 999999, tzinfo=dt.UTC)
    assert s.apply(when) == when.replace(microsecond=0)
    assert ms.apply(when) == when.replace(microsecond=999000)
    assert two.apply(float("nan")) != two.apply(float("nan"))  # NaN stays NaN
    assert two.apply(None) is None


def test_a_bad_example_is_refused_when_the_query_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "query.toml").write_text(
        'order = "v"\n[[params]]\nname = "x"\ntype = "integer"\nexample = "pushes"\n'
        + _COLUMNS.format(v="", t="")
    )
    (folder / "postgresql.sql").write_text("SELECT :x * 1.0 AS v, now() AS t")
    monkeypatch.setenv(QUERIES_PATH_ENV, str(tmp_path))
    with pytest.raises(thsources.ConfigError, match=r'example must be "query-name.column", not '):
        get("q")


def test_a_required_parameter_without_an_example_is_not_guessed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, local: Source
) -> None:
    folder = tmp_path / "q"
    folder.mkdir()
    (folder / "query.toml").write_text(
        'order = "v"\n[[params]]\nname = "x"\ntype = "integer"\n' + _COLUMNS.format(v="", t="")
    )
    (folder / "postgresql.sql").write_text("SELECT :x * 1.0 AS v, now() AS t")
    monkeypatch.setenv(QUERIES_PATH_ENV, str(tmp_path))
    with pytest.raises(thsources.UnsupportedQuery, match=r"needs 'x' and declares no example"):
        example_params(get("q"), local)


def test_check_with_a_source_lacking_a_variant_first(configured: Path, local: Source) -> None:
    """The first source has no variant: it is skipped, not an error, and the example
    parameters come from the next one."""
    code, out, err = _cli("check", "th", "local", "-q", "intermittent-bugs", "-q", "jobs-for-push")
    assert code == 0, err
    bugs, jobs = out.splitlines()[2:4]
    assert bugs.split()[:4] == ["intermittent-bugs", "no", "variant", "reference"]
    push_id = example_params(get("jobs-for-push"), local)["push_id"]
    rows = len(thsources.run("jobs-for-push", {"push_id": push_id}, source=local))
    assert jobs.split() == ["jobs-for-push", "reference", f"({rows}", "rows)", "agrees"]


# -- values finer than a source carries --------------------------------------------------------

FINER: Final = [
    "UPDATE performance_datum SET value = value + 0.001234",
    "UPDATE push SET time = time + INTERVAL 123456 MICROSECONDS",
    "UPDATE performance_alert_summary SET created = created + INTERVAL 654321 MICROSECONDS",
    "UPDATE bug_job_map SET created = created + INTERVAL 777 MICROSECONDS",
]
# (query, source kind, the columns whose declared precision that kind needs on finer data)
LOSSY: Final = [
    ("pushes", "redash", {"push_time"}),
    ("pushes", "treeherder", {"push_time"}),
    ("perf-series", "treeherder", {"value"}),
    ("perf-alerts", "redash", {"created"}),
    ("intermittent-bugs", "redash", {"first_seen", "last_seen"}),
]


@pytest.fixture(scope="module")
def finer(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Source]]:
    """The sample with values finer than Treeherder's REST API and Redash carry, served by
    the local source and both emulators."""
    import duckdb

    path = tmp_path_factory.mktemp("finer") / "finer.duckdb"
    shutil.copy(sample, path)
    with duckdb.connect(str(path)) as con:
        for statement in FINER:
            con.execute(statement)
    with RedashEmulator(path, workers=2) as redash, TreeherderEmulator(path) as treeherder:
        sources = {
            "local": thsources.connect("local", path=str(path)),
            "redash": thsources.connect(
                "redash", url=redash.url, api_key=redash.api_key, data_source="Treeherder"
            ),
            "treeherder": thsources.connect("treeherder", url=treeherder.url, pace=float("inf")),
        }
        yield sources
        for src in sources.values():
            src.close()


@pytest.mark.parametrize(("name", "kind", "lossy"), LOSSY, ids=[f"{n}-{k}" for n, k, _ in LOSSY])
def test_the_declared_precision_is_exactly_what_the_source_loses(
    finer: dict[str, Source], name: str, kind: str, lossy: set[str]
) -> None:
    """On finer data the source agrees under the declared precision, and differs without it
    in exactly the columns that declare one for it."""
    query = get(name)
    params = example_params(query, finer["local"])
    bound = bind_params(query, params)
    reference, answer = ask(name, finer["local"], params), ask(name, finer[kind], params)
    assert reference.result is not None and len(reference.result) > 0
    declared = compare(query, bound, reference, answer)
    assert declared.agrees, declared.diff
    undeclared = compare(dataclasses.replace(query, precision={}), bound, reference, answer)
    differing = {line.split("'")[1] for line in undeclared.diff.splitlines() if "column '" in line}
    assert differing == lossy
