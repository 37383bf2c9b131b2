"""``thsources check``: the named queries run on several sources, and where they agree.

The table of verdicts goes to stdout; diffs, errors and a summary line go to stderr. One
profile that cannot connect is a verdict of its own and does not stop the others.
"""

from __future__ import annotations

import argparse
import traceback
from collections.abc import Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, TextIO

from .. import connect
from ..catalog import get, list_queries
from ..config import load_config
from ..errors import ConfigError, ThsourcesError
from ..output import render
from ..polling import check_timeout
from ..result import Column, Result
from ..sources.base import DEFAULT_TIMEOUT
from .console import Console, one_line
from .options import Subcommands, add_global_options

if TYPE_CHECKING:
    from ..agreement import CheckRow

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    ck = sub.add_parser(
        "check", help="run the named queries on several sources and say where they agree"
    )
    ck.add_argument(
        "sources",
        nargs="*",
        metavar="SOURCE",
        help="profiles or kinds to compare, the first is the reference "
        "(default: local, then every configured profile that is one source)",
    )
    ck.add_argument(
        "-q",
        "--query",
        action="append",
        dest="queries",
        metavar="NAME",
        help="only this named query (repeatable; default: every one)",
    )
    ck.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="give up (and cancel) each run after this"
    )
    add_global_options(ck, top=False)
    ck.set_defaults(handler=_check)


def _check(args: argparse.Namespace, console: Console) -> int:
    """A table of named queries by source (agrees, DIFFERS, no variant, error); the diffs
    and errors follow on stderr. Exit 0 when every answer agrees, 1 otherwise."""
    from ..agreement import check

    names = args.queries or [q.name for q in list_queries()]
    for name in names:
        get(name)  # an unknown name fails before anything runs
    config = load_config()
    chosen = args.sources or [
        "local",
        *(n for n, p in sorted(config.profiles.items()) if not p.sources and n != "local"),
    ]
    for name in chosen:
        profile = config.profiles.get(name)
        if profile is not None and profile.sources:
            raise ConfigError(
                f"profile {name!r} lists sources; check them by name: "
                f"thsources check {' '.join(profile.sources)}"
            )
    check_timeout(args.timeout, DEFAULT_TIMEOUT)
    unusable: dict[str, ThsourcesError] = {}
    with ExitStack() as stack:
        sources = []
        for name in chosen:
            try:
                sources.append(stack.enter_context(connect(name)))
            except ThsourcesError as failed:  # one broken profile does not stop the others
                unusable[name] = failed
        rows = check(names, sources, timeout=args.timeout)
    return _report(rows, chosen, unusable, args.debug, console.stdout, console.stderr)


def _report(
    rows: Sequence[CheckRow],
    chosen: Sequence[str],
    unusable: dict[str, ThsourcesError],
    debug: bool,
    stdout: TextIO,
    stderr: TextIO,
) -> int:
    """The table on stdout; connection failures, diffs and errors, then a summary, on stderr."""
    for name, exc in unusable.items():
        for row in rows:
            row.verdicts[name] = f"error: {type(exc).__name__}"
    labels = [name for name in chosen if name in unusable or name in rows[0].verdicts]
    table = Result.from_columns(
        [Column("query", "string"), *(Column(label, "string") for label in labels)],
        [[r.query for r in rows], *([r.verdicts.get(label, "") for r in rows] for label in labels)],
    )
    stdout.write(render(table, "table"))
    for name, exc in unusable.items():
        stderr.write(f"cannot connect to {name!r}: {one_line(str(exc))}\n")
    for row in rows:
        for diff in row.diffs:
            stderr.write(diff + "\n")
    if debug:
        for failure in [*unusable.values(), *(e for r in rows for e in r.errors)]:
            stderr.write("".join(traceback.format_exception(failure)))
    agreeing = sum(r.agrees for r in rows)
    connected = [label for label in labels if label not in unusable]
    stderr.write(
        f"thsources: check: {agreeing} of {len(rows)} named queries agree on "
        f"{', '.join(connected) or 'no source'}"
        + (f"; could not connect to {', '.join(unusable)}" if unusable else "")
        + "\n"
    )
    return 0 if agreeing == len(rows) and not unusable else 1
