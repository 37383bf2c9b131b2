"""``thsources join``: DuckDB SQL over Parquet files given by name, e.g. results that
``thsources run ... -o FILE.parquet`` wrote from different sources (``thsources.local_sql``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ParameterError
from ..result import Result
from .console import Console, check_output, emit
from .inputs import read_sql
from .options import Subcommands, add_global_options, add_output_options

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    jo = sub.add_parser(
        "join", help="DuckDB SQL over Parquet files given by name (thsources.local_sql)"
    )
    jo.add_argument("sql", nargs="?", help="the DuckDB SQL; tables are the --with names")
    jo.add_argument("-f", "--file", type=Path, help="read the SQL from FILE")
    jo.add_argument(
        "-w",
        "--with",
        dest="tables",
        action="append",
        default=[],
        metavar="NAME=FILE.parquet",
        help="a table the SQL can use (repeatable), e.g. written by `run ... -o FILE.parquet`",
    )
    jo.add_argument("--timeout", type=float, metavar="SECONDS", help="stop after this long")
    add_global_options(jo, top=False)
    add_output_options(jo)
    jo.set_defaults(handler=_join_and_emit)


def _join_and_emit(args: argparse.Namespace, console: Console) -> int:
    emit(_join(args, console), args, console)
    return 0


def _join(args: argparse.Namespace, console: Console) -> Result:
    from ..localsql import local_sql

    check_output(args, console.stdout)
    tables: dict[str, str] = {}
    for pair in args.tables:
        name, sep, path = pair.partition("=")
        if not sep or not name.strip() or not path:
            raise ParameterError(f"--with takes NAME=FILE.parquet, not {pair!r}")
        if name.strip() in tables:
            raise ParameterError(f"--with names the table {name.strip()!r} twice")
        tables[name.strip()] = path
    return local_sql(read_sql(args, console.stdin), timeout=args.timeout, **tables)
