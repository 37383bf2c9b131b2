"""``main()``: build the parser, run the chosen subcommand, and turn a failure into one line
on stderr and the exit code docs/design.md documents (``--debug`` adds the traceback).

Each command module registers its subcommands and their handler; a handler takes the parsed
arguments and the console and returns the exit code, so nothing here knows a command's
details.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Sequence
from typing import TextIO

from .. import __version__
from ..errors import ThsourcesError, exit_code_for
from . import cache, check, join, listing, pull, query, sample, serve
from .console import Console, one_line
from .options import CommandParser, add_global_options

__all__ = ["build_parser", "main"]

EXIT_INTERRUPTED = 130


def build_parser() -> CommandParser:
    """The ``thsources`` parser; the subcommands in the order ``--help`` lists them."""
    parser = CommandParser(
        prog="thsources",
        description="Query Treeherder's data wherever it lives and get the same typed records.",
    )
    parser.add_argument("--version", action="version", version=f"thsources {__version__}")
    add_global_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    for commands in (query, listing, serve, sample, join, pull, check, cache):
        commands.register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the command line; returns the exit code."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    parser = build_parser()
    CommandParser.streams = (stdout, stderr)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    debug = args.debug
    console = Console(stdin, stdout, stderr, started=time.monotonic())
    try:
        code: int = args.handler(args, console)
        return code
    except KeyboardInterrupt:
        stderr.write("thsources: interrupted\n")
        if debug:
            traceback.print_exc(file=stderr)
        return EXIT_INTERRUPTED
    except ThsourcesError as exc:
        stderr.write(f"thsources: error: {one_line(str(exc))}\n")
        if debug:
            traceback.print_exc(file=stderr)
        return exit_code_for(exc)
    except BrokenPipeError:
        return 0
