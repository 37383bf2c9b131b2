"""examples/crash_rate_vs_failures.py against the Redash emulator: a Treeherder named query,
a BigQuery query, one local join. Its answer is checked against the same question asked
directly of the two DuckDB files in one hand-written statement."""

from __future__ import annotations

import importlib.util
import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

from thsources.local.loader import ensure_sample_db
from thsources.local.telemetry import ensure_telemetry_db
from thsources.testing import RedashEmulator

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "crash_rate_vs_failures.py"

# The question, asked of the files themselves: per platform, Pearson's r between the failure
# rate of each mozilla-central push (last 60 days) and the crash rate of its nightly build on
# the platform's OS (OS by platform prefix, revision by equality).
DIRECT_SQL = """
WITH until AS (SELECT max(time) AS t FROM th.push),
failures AS (
    SELECT p.revision, p.time, mp.platform, count(*) AS jobs,
           count(*) FILTER (WHERE j.result IN ('testfailed', 'busted')) AS failed
    FROM th.push p
    JOIN th.repository r ON r.id = p.repository_id
    JOIN th.job j ON j.push_id = p.id
    JOIN th.machine_platform mp ON mp.id = j.machine_platform_id
    WHERE r.name = 'mozilla-central' AND p.time > (SELECT t FROM until) - INTERVAL 60 DAY
      AND j.state = 'completed' AND j.result NOT IN ('retry', 'usercancel', 'superseded')
      AND j.tier <= 2
    GROUP BY ALL HAVING count(*) >= 5
),
builds AS (
    SELECT DISTINCT build.build.id AS build_id, build.source.revision AS revision
    FROM tm.telemetry.buildhub2 WHERE build.target.channel = 'nightly'
),
crashes AS (
    SELECT e.build_id, b.revision, e.os_name,
           sum(e.main_crashes + e.content_crashes + e.gpu_crashes) / sum(e.usage_hours) * 1000
               AS rate
    FROM tm.telemetry.error_aggregates e JOIN builds b ON b.build_id = e.build_id
    WHERE e.channel = 'nightly'
      AND e.submission_date >= CAST((SELECT max(time) FROM failures) AS DATE) - 67
    GROUP BY ALL
)
SELECT f.platform, count(*) AS builds, corr(f.failed / f.jobs, c.rate) AS r
FROM failures f
JOIN crashes c ON c.revision = f.revision AND c.os_name = CASE
    WHEN f.platform LIKE 'windows%' THEN 'Windows_NT'
    WHEN f.platform LIKE 'macosx%' OR f.platform LIKE 'osx%' THEN 'Darwin'
    WHEN f.platform LIKE 'linux%' THEN 'Linux' END
GROUP BY f.platform
ORDER BY r DESC, f.platform
"""


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_rate_vs_failures", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def example() -> ModuleType:
    return _load()


@pytest.fixture(scope="module")
def emu() -> Iterator[RedashEmulator]:
    with RedashEmulator(workers=2) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def direct() -> list[tuple[str, int, float]]:
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{ensure_sample_db()}' AS th (READ_ONLY)")
        con.execute(f"ATTACH '{ensure_telemetry_db()}' AS tm (READ_ONLY)")
        return [(p, n, r) for p, n, r in con.execute(DIRECT_SQL).fetchall()]
    finally:
        con.close()


def _args(emu: RedashEmulator, *more: str) -> list[str]:
    return ["--url", emu.url, "--api-key", emu.api_key, *more]


def test_the_example_finds_what_the_files_say(
    example: ModuleType, emu: RedashEmulator, direct: list[tuple[str, int, float]]
) -> None:
    out = io.StringIO()
    answer = example.main(_args(emu), out=out)
    assert [(p, n) for p, n, _ in answer.correlations] == [(p, n) for p, n, _ in direct]
    assert [r for _, _, r in answer.correlations] == pytest.approx([r for _, _, r in direct])
    assert len(answer.joined) == sum(n for _, n, _ in direct)
    # Failures and crashes move together on every desktop platform of the sample.
    assert all(r > 0 for _, _, r in answer.correlations) and len(answer.correlations) >= 6
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{len(answer.joined)} (platform, build) pairs on mozilla-central"
    p, n, r = answer.correlations[0]
    assert lines[2] == f"{p:<28} {n:>6} {r:>6.2f}"
    assert answer.plot is None
    # Each build's time (from its build id) is minutes after its push.
    for row in answer.joined.records():
        assert 0 < (row["build_time"] - row["push_time"]).total_seconds() < 1800


def test_the_example_plots_with_matplotlib(
    example: ModuleType, emu: RedashEmulator, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    out = io.StringIO()
    answer = example.main(_args(emu, "--plot", str(tmp_path / "p.png")), out=out)
    assert answer.plot == tmp_path / "p.png"
    assert (tmp_path / "p.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.getvalue().splitlines()[-1] == f"plot: {tmp_path / 'p.png'}"


def test_without_matplotlib_only_the_plot_is_skipped(
    example: ModuleType, emu: RedashEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    out = io.StringIO()
    answer = example.main(_args(emu, "--plot", str(tmp_path / "p.png")), out=out)
    assert answer.plot is None and not (tmp_path / "p.png").exists()
    assert len(answer.correlations) >= 6
    assert out.getvalue().splitlines()[-1] == (
        "matplotlib is not installed (pip install 'thsources[plot]'): no plot"
    )


def test_a_repository_of_no_channel_is_refused(example: ModuleType, emu: RedashEmulator) -> None:
    import thsources

    with pytest.raises(thsources.ParameterError, match="autoland ships to no channel"):
        example.main(_args(emu, "--repository", "autoland"), out=io.StringIO())


def test_it_runs_with_no_arguments_on_its_own_emulator(
    direct: list[tuple[str, int, float]],
) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)], capture_output=True, text=True, timeout=300, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[0] == f"{sum(n for _, n, _ in direct)} (platform, build) pairs on mozilla-central"
    assert [line.split()[0] for line in lines[2:]] == [p for p, _, _ in direct]


def test_the_readme_block_runs_as_shown() -> None:
    import re

    import thsources

    readme = (EXAMPLE.parents[1] / "README.md").read_text(encoding="utf-8")
    (block,) = [
        b for b in re.findall(r"```python\n(.*?)```", readme, re.S) if "RedashEmulator()" in b
    ]
    assert len(block.splitlines()) < 15
    code = block.replace("    thsources.local_sql(", "    answer = thsources.local_sql(", 1)
    space: dict[str, object] = {"thsources": thsources, "RedashEmulator": RedashEmulator}
    exec(compile(code, "README.md", "exec"), space)
    answer = space["answer"]
    assert isinstance(answer, thsources.Result)
    assert answer.column_names == ["platform", "r"] and len(answer) >= 6
    rs = answer.column("r")
    assert rs == sorted(rs, reverse=True) and rs[0] > 0.3
