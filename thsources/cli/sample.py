"""``thsources sample load``: Treeherder's tables, filled with the sample dataset, in a real
PostgreSQL or MySQL database (for the ``sql`` source and Redash's database-backed jobs)."""

from __future__ import annotations

import argparse

from .console import Console
from .options import CommandParser, Subcommands

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    sa = sub.add_parser("sample", help="the sample dataset: load it into a real database")
    sa_sub = sa.add_subparsers(dest="sample_command", required=True, parser_class=CommandParser)
    load = sa_sub.add_parser(
        "load", help="create Treeherder's tables in a PostgreSQL or MySQL database and fill them"
    )
    load.add_argument("url", help="postgresql://user:password@host/db or mysql://user@host/db")
    load.add_argument("--seed", type=int, default=None, help="generator seed (default: fixed)")
    load.add_argument("--scale", type=float, default=1.0, help="sample size factor")
    load.add_argument("--replace", action="store_true", help="drop the tables if they exist")
    load.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sa.set_defaults(handler=_load)


def _load(args: argparse.Namespace, console: Console) -> int:
    """Load, with a line per table on a terminal, and a summary line (never the password)."""
    from ..local.sample import DEFAULT_SEED
    from ..sources.sql_load import load_sample

    stderr = console.stderr

    def show(table: str, rows: int) -> None:
        stderr.write(f"thsources: loaded {rows} rows into {table}\n")

    report = load_sample(
        args.url,
        seed=DEFAULT_SEED if args.seed is None else args.seed,
        scale=args.scale,
        replace=args.replace,
        progress=show if stderr.isatty() else None,
    )
    stderr.write(
        f"thsources: loaded the sample ({report.total} rows in {len(report.rows)} tables) "
        f"into {report.url}\n"
    )
    return 0
