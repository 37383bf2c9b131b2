"""``thsources pull``: a named query's new rows appended to the local history store, which
``-s history`` then reads (``thsources.history``)."""

from __future__ import annotations

import argparse

from .connect import connect_source
from .console import Console
from .inputs import params
from .options import Subcommands, add_global_options

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    pu = sub.add_parser(
        "pull", help="append a named query's new rows to the local history (-s history reads it)"
    )
    pu.add_argument("name", help="the named query (see `thsources queries`)")
    pu.add_argument("--into", required=True, metavar="TABLE", help="the history table")
    pu.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter"
    )
    pu.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after this long")
    add_global_options(pu, top=False)
    pu.set_defaults(handler=_pull)


def _pull(args: argparse.Namespace, console: Console) -> int:
    """Pull, then one line on stderr: rows returned, rows new, where they went."""
    from ..history import pull

    stderr = console.stderr
    with connect_source(args, stderr) as source:
        done = pull(
            args.name,
            params(args.param),
            source,
            args.into,
            timeout=args.timeout,
        )
    stderr.write(
        f"thsources: pull {done.pull_id}: {args.name} on {source.name!r} returned "
        f"{done.rows_returned} rows, {done.rows_added} new, added to {done.table} in "
        f"{done.path}\n"
    )
    return 0
