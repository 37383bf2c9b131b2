"""Where the local history lives and how processes take turns with it.

The history store is one DuckDB file (``thsources pull`` writes it, the ``history`` source
reads it). DuckDB lets one process write a file and refuses every other opener meanwhile, so
a second pull or a reader arriving mid-pull would fail at random; instead every user of the
file first takes an ``flock`` on a lock file beside it: exclusive to write, shared to read.
A pull then waits for the one before it, and a query waits for a pull to finish.
"""

from __future__ import annotations

import contextlib
import fcntl
import math
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from ..errors import ConfigError, QueryTimeout

__all__ = [
    "HISTORY_ENV",
    "PULLS_TABLE",
    "check_table_name",
    "default_path",
    "locked",
]

HISTORY_ENV: Final = "THSOURCES_HISTORY"
"""Environment variable naming the history file (tests point it at a temporary folder)."""

PULLS_TABLE: Final = "pulls"
"""The table recording every pull: when, from where, what, and how many rows it added."""

_LOCK_POLL: Final = 0.05
"""Seconds between tries for a busy lock when the wait has a deadline."""

_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def default_path() -> Path:
    """``$THSOURCES_HISTORY``, else ``history.duckdb`` in the user data directory."""
    configured = os.environ.get(HISTORY_ENV)
    if configured:
        return Path(configured).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("thsources")) / "history.duckdb"


def check_table_name(name: str) -> str:
    """``name`` if it can be a history table (a plain identifier, not the pulls table)."""
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ConfigError(
            f"{name!r} cannot name a history table: use letters, digits and underscores, "
            "not starting with a digit (e.g. --into autoland_pushes)"
        )
    if name.lower() == PULLS_TABLE:
        raise ConfigError(
            f"the table {PULLS_TABLE!r} is where the history records its pulls; "
            "pull into another table"
        )
    return name


@contextlib.contextmanager
def locked(path: Path, *, exclusive: bool, timeout: float = math.inf) -> Iterator[None]:
    """Hold the store's lock file (``<path>.lock``) while the block runs; waits for it up to
    ``timeout`` s, then raises ``QueryTimeout`` (the caller's deadline covers the wait)."""
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(
            f"cannot use the history store at {str(path)!r}: {exc.strerror} "
            f"({lock_path}); set {HISTORY_ENV} to a file in a writable folder"
        ) from None
    try:
        _acquire(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH, timeout, path)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _acquire(fd: int, mode: int, timeout: float, path: Path) -> None:
    if math.isinf(timeout):
        fcntl.flock(fd, mode)  # Ctrl-C interrupts the wait
        return
    end = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= end:
                raise QueryTimeout(
                    f"the history store {str(path)!r} stayed busy (another pull or query held "
                    f"it) for {timeout:g} s; try again, or pass a larger timeout"
                ) from None
            time.sleep(_LOCK_POLL)
