"""Emulators of the services thsources talks to, for tests and local demos.

Importing this package starts nothing and imports nothing heavy: the emulator classes load on
first use, so ``import thsources.testing`` stays cheap inside a pytest plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thsources.testing.activedata import ActiveDataEmulator, ActiveDataFaults
    from thsources.testing.redash import (
        DataSource,
        Faults,
        RecordedRequest,
        RedashEmulator,
        SavedQuery,
        User,
    )
    from thsources.testing.treeherder import TreeherderEmulator, TreeherderFaults

__all__ = [
    "ActiveDataEmulator",
    "ActiveDataFaults",
    "DataSource",
    "Faults",
    "RecordedRequest",
    "RedashEmulator",
    "SavedQuery",
    "TreeherderEmulator",
    "TreeherderFaults",
    "User",
]

_ACTIVEDATA_NAMES = frozenset({"ActiveDataEmulator", "ActiveDataFaults"})
_TREEHERDER_NAMES = frozenset({"TreeherderEmulator", "TreeherderFaults"})
_REDASH_NAMES = frozenset(__all__) - _ACTIVEDATA_NAMES - _TREEHERDER_NAMES


def __getattr__(name: str) -> Any:
    if name in _ACTIVEDATA_NAMES:
        from thsources.testing import activedata

        return getattr(activedata, name)
    if name in _REDASH_NAMES:
        from thsources.testing import redash

        return getattr(redash, name)
    if name in _TREEHERDER_NAMES:
        from thsources.testing import treeherder

        return getattr(treeherder, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
