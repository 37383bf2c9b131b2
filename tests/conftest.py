"""Keep the suite away from the developer's own config and cache."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """An empty config file for every test; the sample cache is shared across the run."""
    saved = {k: os.environ.get(k) for k in ("THSOURCES_CONFIG", "THSOURCES_CACHE_DIR")}
    config = tmp_path_factory.mktemp("config") / "config.toml"
    config.write_text("")
    os.environ["THSOURCES_CONFIG"] = str(config)
    if not os.environ.get("THSOURCES_CACHE_DIR"):
        # One cache for the whole run, outside the user's own cache dir.
        os.environ["THSOURCES_CACHE_DIR"] = str(Path(tmp_path_factory.getbasetemp()) / "cache")
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
