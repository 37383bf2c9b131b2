"""The argparse pieces every subcommand shares: the parser class and the common options.

The global options (``-s``, ``--debug``, ``-v``) are accepted before the subcommand and after
it, so each subcommand adds them again; ``--format`` and ``-o`` mean the same wherever a
command writes a result.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO, TypeAlias

from ..output import FORMATS

__all__ = [
    "EXIT_USAGE",
    "CommandParser",
    "Subcommands",
    "add_global_options",
    "add_output_options",
]

EXIT_USAGE = 2


class CommandParser(argparse.ArgumentParser):
    """argparse that exits with code 2 and one line, like every other usage error here,
    writing to the streams ``main`` was given."""

    streams: tuple[TextIO, TextIO] = (sys.stdout, sys.stderr)

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"thsources: error: {message} (see `thsources --help`)\n")

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            out, err = CommandParser.streams
            (err if file is None or file is sys.stderr else out).write(message)


Subcommands: TypeAlias = "argparse._SubParsersAction[CommandParser]"
"""What ``add_subparsers()`` returns: each command module adds its subcommands to it."""


def add_global_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before the subcommand and after it.

    On subcommands they default to SUPPRESS, so one given before the subcommand is not
    overwritten by the subcommand's default.
    """
    unset: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument(
        "-s",
        "--source",
        help="profile or source kind (default: profile 'default', else local)",
        **({"default": None} if top else unset),
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors", **unset)
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="say on stderr which source runs the query",
        **unset,
    )


def add_output_options(parser: argparse.ArgumentParser) -> None:
    """``--format`` and ``-o``, for the commands that write a result."""
    parser.add_argument("--format", choices=FORMATS, help="output format (default: table)")
    parser.add_argument(
        "-o", "--output", type=Path, help="write to FILE (atomically; '-' is stdout)"
    )
