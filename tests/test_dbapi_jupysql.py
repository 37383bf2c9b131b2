"""The notebook session of docs/dbapi.md, run in an IPython shell with jupysql.

jupysql and IPython are in the ``test`` extra, so CI runs this; an environment without them
skips it.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PLOOMBER_STATS_ENABLED", "false")  # no telemetry from the test run
pytest.importorskip("sql", reason="jupysql is not installed")
interactiveshell = pytest.importorskip("IPython.core.interactiveshell")


def test_the_three_line_notebook_session() -> None:
    shell = interactiveshell.InteractiveShell.instance()
    try:
        shell.run_line_magic("load_ext", "sql")
        shell.run_line_magic("sql", "thsources://local")
        result = shell.run_line_magic(
            "sql", "SELECT name, id FROM repository WHERE name = 'autoland'"
        )
        assert list(result.DataFrame()["name"]) == ["autoland"]
        shell.run_line_magic("config", 'SqlMagic.named_parameters="enabled"')
        shell.user_ns["repo"] = "try"
        named = shell.run_line_magic("sql", "SELECT name FROM repository WHERE name = :repo")
        assert list(named.DataFrame()["name"]) == ["try"]
        shell.run_line_magic("sql", "--close thsources://local")
    finally:
        interactiveshell.InteractiveShell.clear_instance()
