"""``thsources query``, ``run`` and ``saved``: one query on one source, its result written.

The three share their options (``-p``, ``--format``, ``-o``, ``--max-age``, ``--timeout``)
and their path: check the output, connect, ask, write. ``run`` with several names goes to
``run_several``, which writes each result as it finishes.
"""

from __future__ import annotations

import argparse
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ..catalog import run_named
from ..errors import ConfigError
from ..result import Result
from ..sources.base import Source
from .connect import connect_source
from .console import Console, check_output, emit
from .inputs import params, read_sql
from .options import Subcommands, add_global_options, add_output_options

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    q = sub.add_parser("query", help="run SQL (argument, -f FILE or stdin)")
    q.add_argument("sql", nargs="?", help="the SQL text; :name placeholders take -p values")
    q.add_argument("-f", "--file", type=Path, help="read the SQL from FILE")
    _add_query_options(q)
    q.set_defaults(handler=_answer_and_emit)

    r = sub.add_parser("run", help="run named queries (see `thsources queries`)")
    r.add_argument("name", nargs="+", metavar="NAME", help="one or more named queries")
    _add_query_options(r)
    r.add_argument(
        "--keep-going",
        action="store_true",
        help="with several queries: let the others finish when one fails",
    )
    r.set_defaults(handler=_run)

    sv = sub.add_parser("saved", help="run a saved Redash query by id or URL")
    sv.add_argument("query_id", help="the query's id, or its URL (…/queries/12345…)")
    _add_query_options(sv)
    sv.set_defaults(handler=_answer_and_emit)


def _add_query_options(parser: argparse.ArgumentParser) -> None:
    add_global_options(parser, top=False)
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter (repeatable); lists as a,b,c",
    )
    add_output_options(parser)
    parser.add_argument(
        "--max-age",
        type=float,
        default=0,
        metavar="SECONDS",
        help="accept a cached result up to this old (default 0: run now)",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="give up (and cancel) after this long"
    )


def _run(args: argparse.Namespace, console: Console) -> int:
    """``run NAME``, or ``run A B ...`` (several results, each written as it finishes)."""
    if len(args.name) > 1:
        from .run_several import run_several

        return run_several(args, console.stdout, console.stderr)
    args.name = args.name[0]
    return _answer_and_emit(args, console)


def _answer_and_emit(args: argparse.Namespace, console: Console) -> int:
    emit(_answer(args, console.stdin, console.stdout, console.stderr), args, console)
    return 0


def _answer(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> Result:
    check_output(args, stdout)
    bound = params(args.param)
    sql = read_sql(args, stdin) if args.command == "query" else None
    progress = _progress_printer(stderr)
    options: dict[str, Any] = {"max_age": args.max_age, "timeout": args.timeout}
    if progress is not None:
        options["progress"] = progress
    with connect_source(args, stderr) as source:
        if progress is not None and not _accepts_progress(source):
            options.pop("progress")
        try:
            if args.command == "query":
                assert sql is not None
                return source.query(sql, bound, **options)
            if args.command == "run":
                return run_named(args.name, source, bound, **options)
            run_saved = getattr(source, "run_saved", None)
            if run_saved is None:
                raise ConfigError(
                    f"source {source.name!r} ({source.kind}) has no saved queries; "
                    "saved queries are a Redash feature: use -s with a redash profile"
                )
            result: Result = run_saved(args.query_id, bound, **options)
            return result
        finally:
            if progress is not None:
                stderr.write("\r\x1b[K")
                stderr.flush()


def _progress_printer(stderr: TextIO) -> Callable[[Any], None] | None:
    """A callback that keeps one status line on a terminal: state and elapsed time."""
    if not stderr.isatty():
        return None

    def show(event: Any) -> None:
        state = getattr(getattr(event, "state", None), "value", getattr(event, "state", ""))
        elapsed = getattr(event, "elapsed_s", 0.0)
        stderr.write(f"\r\x1b[K{state} {elapsed:.1f}s")
        stderr.flush()

    return show


def _accepts_progress(source: Source) -> bool:
    return "progress" in inspect.signature(source.query).parameters
