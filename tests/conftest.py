"""Keep the suite away from the developer's own config and cache; make property tests
deterministic.

Hypothesis profiles: ``ci`` (the default, and what CI runs) draws the same examples on every
run and keeps no example database, so a test fails for everyone or for no one. ``dev`` draws
new examples each run and remembers failures in ``.hypothesis/``; ask for it with
``HYPOTHESIS_PROFILE=dev pytest`` or ``pytest --hypothesis-profile=dev``. Neither has a
deadline or timing health check: a loaded machine must not fail a test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("ci", derandomize=True, database=None, print_blob=True, **_UNTIMED)
settings.register_profile("dev", **_UNTIMED)
# CI sets CI=true; the ci profile is also the default for a plain `pytest`, so the README's
# command is deterministic too. --hypothesis-profile (read later by hypothesis) overrides this.
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or "ci")


@pytest.fixture(autouse=True, scope="session")
def _isolated_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An empty config file for every test, a history store of the run's own (never the
    user's data dir); the sample cache is shared across the run."""
    names = ("THSOURCES_CONFIG", "THSOURCES_CACHE_DIR", "THSOURCES_HISTORY")
    saved = {k: os.environ.get(k) for k in names}
    config = tmp_path_factory.mktemp("config") / "config.toml"
    config.write_text("")
    os.environ["THSOURCES_CONFIG"] = str(config)
    os.environ["THSOURCES_HISTORY"] = str(tmp_path_factory.mktemp("history") / "history.duckdb")
    if not os.environ.get("THSOURCES_CACHE_DIR"):
        # One cache for the whole run, outside the user's own cache dir.
        os.environ["THSOURCES_CACHE_DIR"] = str(Path(tmp_path_factory.getbasetemp()) / "cache")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(autouse=True)
def _isolated_result_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A result cache of each test's own: an emulator on a port another test used before
    must not answer from that test's entries (the cache keys on the URL)."""
    monkeypatch.setenv("THSOURCES_RESULT_CACHE_DIR", str(tmp_path_factory.mktemp("results")))
    monkeypatch.delenv("THSOURCES_RESULT_CACHE_SIZE", raising=False)


@pytest.fixture
def no_result_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """The local result cache off, for tests of a server's own cache (Redash's max_age)."""
    monkeypatch.setenv("THSOURCES_RESULT_CACHE_SIZE", "0")
