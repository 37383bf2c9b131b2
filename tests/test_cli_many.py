"""``thsources run A B ...``: several named queries at once, on the embedded sample."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from thsources.cli import main

NAMES = ("pushes", "perf-alerts")


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def single(name: str, fmt: str, *params: str) -> str:
    code, out, err = run_cli("run", name, "-s", "local", "--format", fmt, *params)
    assert (code, err) == (0, "")
    return out


def test_jsonl_on_stdout_is_tagged_by_query() -> None:
    code, out, err = run_cli("run", *NAMES, "-s", "local", "--format", "jsonl")
    assert (code, err) == (0, "")
    lines = [json.loads(line) for line in out.splitlines()]
    assert {line["query"] for line in lines} == set(NAMES)
    for name in NAMES:
        alone = [json.loads(line) for line in single(name, "jsonl").splitlines()]
        assert alone  # the comparison below means something
        assert [line["record"] for line in lines if line["query"] == name] == alone


def test_tables_on_stdout_each_under_its_name() -> None:
    code, out, err = run_cli("run", *NAMES, "-s", "local")
    assert (code, err) == (0, "")
    for name in NAMES:
        alone = single(name, "table")
        assert f"== {name}\n{alone}\n" in out


def test_a_folder_gets_one_parquet_file_per_query(tmp_path: Path) -> None:
    code, out, err = run_cli("run", *NAMES, "-s", "local", "-o", str(tmp_path))
    assert (code, out) == (0, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["perf-alerts.parquet", "pushes.parquet"]
    for name in NAMES:
        table = pq.read_table(tmp_path / f"{name}.parquet")
        assert table.num_rows == len(single(name, "jsonl").splitlines())
        assert f"thsources: {name}: wrote {table.num_rows} rows to {tmp_path / name}.parquet" in err


def test_a_name_pattern_picks_each_file_and_format(tmp_path: Path) -> None:
    pattern = str(tmp_path / "out-{name}.csv")
    code, _, _ = run_cli("run", *NAMES, "-s", "local", "-o", pattern, "-p", "days=400")
    assert code == 0
    for name in NAMES:
        written = (tmp_path / f"out-{name}.csv").read_text()
        assert written == single(name, "csv", "-p", "days=400")
        assert len(list(csv.reader(io.StringIO(written)))) > 1


def test_one_jsonl_file_holds_every_result_tagged(tmp_path: Path) -> None:
    target = tmp_path / "all.jsonl"
    code, out, err = run_cli("run", *NAMES, "-s", "local", "-o", str(target))
    assert (code, out) == (0, "")
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    for name in NAMES:
        alone = [json.loads(line) for line in single(name, "jsonl").splitlines()]
        assert [line["record"] for line in lines if line["query"] == name] == alone
    assert err.endswith(f"rows of 2 queries to {target}\n")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--format", "csv"],
            "several results cannot share one csv stream: use --format jsonl, -o DIR/ "
            "or -o 'PATH/{name}.csv'",
        ),
        (
            ["-o", "all.csv"],
            "several results cannot share one csv file: use -o DIR/, -o 'PATH/{name}.EXT' "
            "or a .jsonl file",
        ),
        (
            ["-o", "missing-dir"],
            "cannot write several results to missing-dir: no such directory; create it first, "
            "or give -o 'PATH/{name}.EXT'",
        ),
        (
            ["-p", "nope=1"],
            "none of pushes, perf-alerts has a parameter 'nope'; see `thsources queries NAME`",
        ),
        (
            ["-p", "jobs:days=1"],
            "-p 'jobs:days=1' names the query 'jobs', which is not run here; "
            "the queries are pushes, perf-alerts",
        ),
        (
            ["-p", "pushes:framework=x"],
            "named query 'pushes' has no parameter(s) framework; "
            "its parameters: repository, days, until, max_tier",
        ),
    ],
)
def test_bad_output_or_parameters_are_refused_before_running(
    args: list[str], message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = run_cli("run", *NAMES, "-s", "local", *args)
    assert (code, out) == (2, "")
    assert err == f"thsources: error: {message}\n"
    assert list(tmp_path.iterdir()) == []


def test_a_query_named_twice_is_refused() -> None:
    code, _, err = run_cli("run", "pushes", "pushes", "-s", "local")
    assert code == 2
    assert err == "thsources: error: the query 'pushes' is named twice; name each query once\n"


def test_the_first_failure_ends_the_run_with_its_exit_code() -> None:
    code, _, err = run_cli(
        "run", *NAMES, "-s", "local", "--format", "jsonl", "-p", "pushes:repository=nope-repo"
    )
    assert code == 4  # NotFound for pushes only
    assert err.startswith("thsources: error: pushes: named query 'pushes' found no rows")
    assert err.count("thsources: error:") == 1


def test_keep_going_lets_the_others_finish_and_scoped_parameters_reach_one_query() -> None:
    code, out, err = run_cli(
        "run",
        *NAMES,
        "-s",
        "local",
        "--format",
        "jsonl",
        "--keep-going",
        "-p",
        "pushes:repository=nope-repo",
    )
    assert code == 4
    assert err.startswith("thsources: error: pushes: named query 'pushes' found no rows")
    tagged = [json.loads(line) for line in out.splitlines()]
    alone = [json.loads(line) for line in single("perf-alerts", "jsonl").splitlines()]
    assert [t["record"] for t in tagged] == alone
