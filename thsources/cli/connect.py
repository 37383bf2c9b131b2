"""The source a command runs on (``-s``), and the notice that the embedded sample answers
when no profile is configured.

The notice shows once per terminal session, so a first-time user learns where the answers
come from without every later command repeating it, and never lands in a pipe or a log.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Final, TextIO

from .. import connect
from ..config import load_config
from ..sources.base import Source

__all__ = ["NOTICE_FALLBACK", "connect_source"]

NOTICE_FALLBACK: Final = (
    "thsources: no 'default' profile configured; using the embedded local sample "
    "(see `thsources sources`)\n"
)


def connect_source(args: argparse.Namespace, stderr: TextIO) -> Source:
    """The source ``-s`` names (None: the 'default' profile, else the local sample); with
    ``-v``, a line on stderr saying which."""
    if args.source is None:
        config = load_config()
        if "default" not in config.profiles:
            _notice_fallback(stderr, args.verbose)
    source = connect(args.source)
    if args.verbose:
        stderr.write(f"thsources: source {source.name!r} (kind {source.kind})\n")
    return source


def _session_marker() -> Path:
    """A file whose presence says the fallback notice was shown in this terminal session.

    Keyed by the session id (the login shell of the terminal) and the terminal's name, so a
    new terminal shows the notice once again.
    """
    base = os.environ.get("THSOURCES_CACHE_DIR")
    if base:
        cache = Path(base)
    else:
        import platformdirs

        cache = Path(platformdirs.user_cache_dir("thsources"))
    try:
        tty = os.ttyname(2).replace("/", "_")
    except OSError:
        tty = "notty"
    return cache / "notices" / f"fallback-{os.getsid(0)}-{tty}"


def _notice_fallback(stderr: TextIO, verbose: bool) -> None:
    """Say that the local sample answers: always with -v, else once per terminal session,
    never into a pipe or a log file."""
    if verbose:
        stderr.write(NOTICE_FALLBACK)
        return
    if not stderr.isatty():
        return
    marker = _session_marker()
    if marker.exists():
        return
    stderr.write(NOTICE_FALLBACK)
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:
        pass  # a read-only cache only means the notice shows again
