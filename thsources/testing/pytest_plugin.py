"""pytest plugin (entry point ``thsources``): ``redash_emulator``, ``treeherder_emulator`` and
``activedata_emulator`` fixtures for any test suite.

Override ``redash_emulator_database`` (a DuckDB file path) or ``redash_emulator_options``
(keyword arguments for :class:`~thsources.testing.redash.RedashEmulator`, e.g.
``{"database_url": "postgresql://..."}`` to run the jobs on a real database) in a conftest to
change what the fixture serves; by default it serves the embedded Treeherder sample.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from thsources.testing.activedata import ActiveDataEmulator
    from thsources.testing.redash import RedashEmulator
    from thsources.testing.treeherder import TreeherderEmulator


@pytest.fixture
def redash_emulator_database() -> str | Path | None:
    """The DuckDB file to serve; None means the embedded sample (built on first use)."""
    return None


@pytest.fixture
def redash_emulator_options() -> dict[str, Any]:
    """Extra keyword arguments for the emulator (data sources, saved queries, durations...)."""
    return {}


def _own_result_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A result cache of the test's own (``THSOURCES_RESULT_CACHE_DIR``), set by every
    emulator fixture: an emulator on a port an earlier test or run used must not be answered
    from that one's entries, which ``max_age`` would otherwise accept (the cache keys on the
    URL)."""
    monkeypatch.setenv("THSOURCES_RESULT_CACHE_DIR", str(tmp_path / "thsources-results"))


@pytest.fixture
def redash_emulator(
    redash_emulator_database: str | Path | None,
    redash_emulator_options: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[RedashEmulator]:
    """A started Redash emulator on 127.0.0.1; fresh state for every test."""
    from thsources.testing.redash import RedashEmulator

    _own_result_cache(tmp_path, monkeypatch)
    with RedashEmulator(redash_emulator_database, **redash_emulator_options) as emulator:
        yield emulator


@pytest.fixture
def treeherder_emulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TreeherderEmulator]:
    """A started Treeherder REST emulator over the embedded sample; fresh for every test."""
    from thsources.testing.treeherder import TreeherderEmulator

    _own_result_cache(tmp_path, monkeypatch)
    with TreeherderEmulator() as emulator:
        yield emulator


@pytest.fixture
def activedata_emulator(
    redash_emulator_database: str | Path | None,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ActiveDataEmulator]:
    """A started ActiveData emulator on 127.0.0.1 over the same database; fresh per test."""
    from thsources.testing.activedata import ActiveDataEmulator

    _own_result_cache(tmp_path, monkeypatch)
    with ActiveDataEmulator(redash_emulator_database) as emulator:
        yield emulator
