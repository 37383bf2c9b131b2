"""Named-query declarations: parameters, variants and the output contract."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from thsources import Column, Result, ResultMeta
from thsources.catalog import (
    Param,
    bind_params,
    conform,
    describe_params,
    get,
    list_queries,
)
from thsources.errors import ConfigError, ParameterError, QueryError, UnsupportedQuery

SHIPPED = [
    "failure-rate-by-platform",
    "failure-rate-by-push",
    "intermittent-bugs",
    "jobs-for-push",
    "perf-alerts",
    "perf-series",
    "pushes",
]


def make_query(root: Path, name: str, toml: str, sql: str, variant: str = "postgresql") -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    (folder / "query.toml").write_text(toml)
    (folder / f"{variant}.sql").write_text(sql)
    return folder


def test_the_six_shipped_queries_are_listed_with_columns_and_order() -> None:
    queries = {q.name: q for q in list_queries()}
    assert sorted(n for n in queries if n in SHIPPED) == SHIPPED
    for name in SHIPPED:
        q = queries[name]
        assert q.columns, name
        assert q.order, name
        assert "postgresql" in q.variants, name
        assert q.description, name


def test_units_are_in_column_names() -> None:
    cols = {c.name for c in get("jobs-for-push").columns}
    assert "duration_s" in cols and "duration" not in cols


def test_parameters_are_typed_and_defaults_filled() -> None:
    q = get("pushes")
    assert bind_params(q, {"days": "3"}) == {
        "repository": "autoland",
        "days": 3,
        "until": None,
        "max_tier": 2,
    }
    bound = bind_params(q, {"until": "2026-10-01T12:00:00+02:00"})
    assert bound["until"] == dt.datetime(2026, 10, 1, 10, tzinfo=dt.UTC)


def test_list_parameters_accept_lists_and_comma_strings() -> None:
    q = get("intermittent-bugs")
    assert bind_params(q, {"repositories": "autoland, try"})["repositories"] == [
        "autoland",
        "try",
    ]
    assert bind_params(q, {})["repositories"] == ["autoland", "mozilla-central"]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, r"named query 'jobs-for-push' needs parameter\(s\) push_id"),
        ({"push_id": "abc"}, r"parameter 'push_id' must be an integer, got 'abc'"),
        ({"push_id": 1.5}, r"parameter 'push_id' must be an integer"),
        ({"push_id": True}, r"parameter 'push_id' must be an integer"),
        (
            {"push_id": 1, "pushid": 2},
            r"has no parameter\(s\) pushid \(did you mean 'push_id'\?\); its parameters: push_id",
        ),
        ({"push_id": 0}, r"parameter 'push_id' must be at least 1, got 0"),
        ({"push_id": [1, 2]}, r"parameter 'push_id' takes one integer, got 2 values \(1, 2\)"),
        ([1], r"positional parameters are not supported; write :name"),
    ],
)
def test_bad_parameters_are_clear_errors(params: dict[str, object], message: str) -> None:
    with pytest.raises(ParameterError, match=message):
        bind_params(get("jobs-for-push"), params)


@pytest.mark.parametrize(
    ("ptype", "raw", "expected"),
    [
        ("boolean", "yes", True),
        ("boolean", "0", False),
        ("float", "2.5", 2.5),
        ("date", "2026-01-02", dt.date(2026, 1, 2)),
        ("datetime", dt.date(2026, 1, 2), dt.datetime(2026, 1, 2)),
        ("integer[]", "1,2", [1, 2]),
    ],
)
def test_param_coercion(ptype: str, raw: object, expected: object) -> None:
    assert Param("x", ptype).coerce(raw) == expected


@pytest.mark.parametrize(
    ("ptype", "raw", "expected"),
    [
        ("integer", np.int64(3), 3),
        ("integer", np.float64(3.0), 3),
        ("integer", " 3 ", 3),
        ("float", np.float64(2.5), 2.5),
        ("float", np.float32(0.5), 0.5),
        ("float", 2, 2.0),
        ("boolean", np.bool_(True), True),
        ("string", np.str_(" autoland "), "autoland"),
        ("string", "  autoland\t", "autoland"),
        ("date", np.datetime64("2026-01-02"), dt.date(2026, 1, 2)),
        ("date", " 2026-01-02 ", dt.date(2026, 1, 2)),
        (
            "datetime",
            pd.Timestamp("2026-01-02 03:00", tz="UTC"),
            dt.datetime(2026, 1, 2, 3, tzinfo=dt.UTC),
        ),
        ("datetime", np.datetime64("2026-01-02T03:00"), dt.datetime(2026, 1, 2, 3)),
        ("datetime", pd.NaT, None),
        ("integer", pd.NA, None),
        ("integer[]", np.array([1, 2]), [1, 2]),
        ("integer[]", pd.Series([1, 2]), [1, 2]),
        ("string[]", pd.Index(["a", "b"]), ["a", "b"]),
        ("string[]", {"b", "a"}, ["a", "b"]),
        ("string[]", " a , b ", ["a", "b"]),
        ("string[]", ("a",), ["a"]),
    ],
    ids=repr,
)
def test_param_coercion_takes_numpy_and_pandas_values_by_value(
    ptype: str, raw: object, expected: object
) -> None:
    got = Param("x", ptype).coerce(raw)
    assert got == expected
    assert type(got) is type(expected)


@pytest.mark.parametrize(
    ("ptype", "raw", "message"),
    [
        ("string", 5, "must be a string, got 5"),
        ("string", 1.5, "must be a string"),
        ("string", True, "must be a string"),
        ("string", dt.date(2026, 1, 1), "must be a string"),
        ("string", b"x", "parameter 'x': cannot bind a value of type bytes"),
        ("string", ["a", "b"], r"takes one string, got 2 values \('a', 'b'\)"),
        ("float", True, "must be a finite number, got True"),
        ("float", np.bool_(False), "must be a finite number, got False"),
        ("float", "nan", "must be a finite number, got 'nan'"),
        ("float", float("inf"), "must be a finite number"),
        ("float", dt.date(2026, 1, 1), "must be a finite number"),
        ("integer", np.bool_(True), "must be an integer, got True"),
        ("integer", dt.date(2026, 1, 1), "must be an integer"),
        ("integer", "1,2", "must be an integer, got '1,2'"),
        ("boolean", 2, "must be true or false"),
        ("boolean", 1.0, "must be true or false"),
        ("date", 20260101, "must be a date"),
        ("datetime", 1.5, "must be a datetime"),
        ("string[]", "a,,b", r"has an empty item in 'a,,b'"),
        ("string[]", "a,", r"has an empty item"),
        ("integer[]", [1, [2]], "cannot contain lists"),
    ],
)
def test_param_coercion_refuses_values_of_the_wrong_kind(
    ptype: str, raw: object, message: str
) -> None:
    with pytest.raises(ParameterError, match=message):
        Param("x", ptype).coerce(raw)


def test_bounds_and_patterns_from_the_declaration() -> None:
    q = get("pushes")
    for days in (0, -1, "0", " -3 "):
        with pytest.raises(ParameterError, match=r"parameter 'days' must be at least 1"):
            bind_params(q, {"days": days})
    with pytest.raises(ParameterError, match=r"parameter 'max_tier' must be at most 3, got 4"):
        bind_params(q, {"max_tier": 4})
    assert bind_params(q, {"max_tier": "3", "days": " 1"})["days"] == 1
    with pytest.raises(ParameterError, match=r"got 'a,b'; it takes one value, not a list"):
        bind_params(q, {"repository": "a,b"})
    with pytest.raises(ParameterError, match=r"'repositories' must match .* got 'a b'"):
        bind_params(get("intermittent-bugs"), {"repositories": "autoland,a b"})
    assert bind_params(q, {"repository": " try "})["repository"] == "try"


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("minimum = 1", r"unknown key\(s\) minimum \(did you mean 'min'\?\)"),
        ("default = 0\nmin = 1", r"the default does not fit: parameter 'a' must be at least 1"),
        ('lookup = "repository"', r'lookup must be "table.column"'),
        ('pattern = "["', r"pattern '\[' is not a regular expression"),
        ('max = "x"\ndefault = 1', r"max must be a number, not 'x'"),
    ],
)
def test_declaration_mistakes_are_config_errors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry: str, message: str
) -> None:
    ptype = "string" if "pattern" in entry else "integer"
    toml = f'[[params]]\nname = "a"\ntype = "{ptype}"\n{entry}\n'
    toml += '[[columns]]\nname = "x"\ntype = "integer"\n'
    make_query(tmp_path, "mine", toml, "SELECT :a AS x")
    monkeypatch.setenv("THSOURCES_QUERIES_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match=message):
        get("mine")


def test_param_coercion_refuses_wrong_types() -> None:
    with pytest.raises(ParameterError, match="must be a date"):
        Param("x", "date").coerce("yesterday")
    with pytest.raises(ParameterError, match="must be true or false"):
        Param("x", "boolean").coerce("maybe")
    with pytest.raises(ParameterError, match="at least one string"):
        Param("x", "string[]").coerce([])


def test_unknown_query_names_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"no named query 'nope'; known: .*pushes"):
        get("nope")
    with pytest.raises(
        ConfigError, match=r"no named query 'pushs' \(did you mean 'pushes'\?\); known: "
    ):
        get("pushs")


def test_variant_selection_by_dialect() -> None:
    q = get("pushes")
    assert q.variant_for("duckdb")[0] == "postgresql"
    assert q.variant_for("postgresql")[0] == "postgresql"
    assert q.variant_for("mysql")[0] == "mysql"
    with pytest.raises(UnsupportedQuery, match="no variant for the bigquery dialect"):
        q.variant_for("bigquery")


def test_extra_query_folders_and_placeholder_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = '[[params]]\nname = "a"\ntype = "integer"\n[[columns]]\nname = "x"\ntype = "integer"\n'
    make_query(tmp_path, "mine", toml, "SELECT :a AS x")
    monkeypatch.setenv("THSOURCES_QUERIES_PATH", str(tmp_path))
    assert get("mine").params == (Param("a", "integer"),)

    make_query(tmp_path, "broken", toml, "SELECT :b AS x")
    with pytest.raises(ConfigError, match=r"placeholders \['b'\] do not match"):
        list_queries()


def test_conform_orders_casts_and_keeps_extra_columns() -> None:
    q = get("perf-series")
    source = Result.from_arrow(
        pa.table(
            {
                "extra": ["e"],
                "value": pa.array([1], pa.int64()),
                "job_id": pa.array([None], pa.int64()),
                "revision": ["abc"],
                "push_id": pa.array([7], pa.int32()),
                "push_time": pa.array([dt.datetime(2026, 1, 1)], pa.timestamp("us")),
            }
        ),
        meta=ResultMeta(source="s"),
    )
    out = conform(q, source)
    assert [c.name for c in out.columns] == [
        "push_time",
        "push_id",
        "revision",
        "value",
        "job_id",
        "extra",
    ]
    assert out.columns[3] == Column("value", "float")
    assert out.records()[0]["value"] == 1.0
    assert out.meta.source == "s"


def test_conform_reports_missing_columns() -> None:
    res = Result.from_rows([Column("push_time", "datetime")], [])
    with pytest.raises(QueryError, match=r"returned no column\(s\) push_id, revision"):
        conform(get("perf-series"), res)


def test_describe_params() -> None:
    assert describe_params(get("jobs-for-push").params) == "push_id:integer (required)"
    assert "until:datetime=null" in describe_params(get("pushes").params)


def test_queries_are_installed_by_a_plain_pip_install(tmp_path: Path) -> None:
    """A non-editable install carries queries/ as thsources._queries, and the command (the
    thsources.cli package) that lists them."""
    # Build from a copy: setuptools writes build/ and *.egg-info/ next to the sources.
    checkout = Path(__file__).resolve().parents[1]
    before = sorted(os.listdir(checkout))
    root = tmp_path / "checkout"
    shutil.copytree(
        checkout,
        root,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "tests"
        ),
    )
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(root),
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    code = (
        "import thsources, thsources.catalog as c, thsources.cli as cli; "
        f"assert thsources.__file__.startswith({str(target)!r}), thsources.__file__; "
        # a subpackage missing from the install would be found in this checkout instead
        # (through the editable install's finder): say where it came from
        f"assert cli.__file__.startswith({str(target)!r}), cli.__file__; "
        "print(' '.join(q.name for q in c.list_queries()))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    env.pop("THSOURCES_QUERIES_PATH", None)
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    assert out.stdout.split() == SHIPPED
    command = subprocess.run(
        [sys.executable, "-m", "thsources", "queries"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert (command.returncode, command.stderr) == (0, "")
    assert [line for line in command.stdout.splitlines() if not line[0].isspace()] == SHIPPED
    assert sorted(os.listdir(checkout)) == before  # no build/ nor *.egg-info/ left behind


def test_queries_are_found_from_a_source_checkout(tmp_path: Path) -> None:
    """`python -m thsources` in the repository imports the package from the checkout, where
    thsources._queries is not a package: the top-level queries/ serves instead."""
    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys; sys.modules['thsources._queries'] = None; "
        "import thsources.catalog as c; print(' '.join(q.name for q in c.list_queries()))"
    )
    env = {k: v for k, v in os.environ.items() if k != "THSOURCES_QUERIES_PATH"}
    env["PYTHONPATH"] = str(root)
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=root, check=True
    )
    assert out.stdout.split() == SHIPPED
