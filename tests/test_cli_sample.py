"""The command line on the embedded sample, as a newcomer runs it: no config, no network."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def thsources(*argv: str, config: Path) -> subprocess.CompletedProcess[str]:
    """The installed command, run from outside the checkout as a user would."""
    env = {**os.environ, "THSOURCES_CONFIG": str(config)}
    return subprocess.run(
        [sys.executable, "-m", "thsources", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=config.parent,
        timeout=120,
    )


def test_readme_main_command_prints_real_rows(tmp_path: Path) -> None:
    main_command = re.search(r"pip install \. && (thsources [^\n`]*)", README.read_text())
    assert main_command is not None, "README names the main command"
    argv = main_command.group(1).split()[1:]
    assert argv == ["run", "pushes"]
    done = thsources(*argv, config=tmp_path / "none.toml")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # the no-default notice is for terminals (and -v), not pipes
    lines = done.stdout.splitlines()
    assert lines[0].split()[:4] == ["push_id", "revision", "author", "push_time"]
    first = lines[2].split()
    assert first[0].isdigit() and re.fullmatch(r"[0-9a-f]{40}", first[1])
    assert re.fullmatch(r"\(\d+ rows\)", lines[-1])


def test_three_table_join(tmp_path: Path) -> None:
    sql = (
        "SELECT r.name AS repository, COUNT(DISTINCT p.id) AS pushes, COUNT(*) AS jobs "
        "FROM job j JOIN push p ON p.id = j.push_id JOIN repository r ON r.id = p.repository_id "
        "GROUP BY r.name ORDER BY jobs DESC"
    )
    done = thsources("query", sql, "--format", "csv", config=tmp_path / "none.toml")
    assert done.returncode == 0, done.stderr
    rows = [line.split(",") for line in done.stdout.splitlines()]
    assert rows[0] == ["repository", "pushes", "jobs"]
    names = {r[0] for r in rows[1:]}
    assert {"autoland", "mozilla-central", "try"} <= names
    assert sum(int(r[2]) for r in rows[1:]) >= 50_000
