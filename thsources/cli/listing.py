"""``thsources tables``, ``queries`` and ``sources``: what there is to query.

A source's tables (or one table's columns) is a result like any other, written in any
``--format``; the named queries and the configured profiles are text for a person, with
secrets masked.
"""

from __future__ import annotations

import argparse
from typing import Any, TextIO

from ..catalog import describe_params, get, list_queries
from ..config import close_matches, load_config, mask, members, resolve
from ..errors import ConfigError, NotFound, ThsourcesError
from ..result import Column, Result
from ..sources.base import source_class
from .connect import connect_source
from .console import Console, check_output, emit
from .options import Subcommands, add_global_options, add_output_options

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    tb = sub.add_parser("tables", help="a source's tables, or one table's columns")
    tb.add_argument("name", nargs="?", help="show this table's columns and types")
    add_global_options(tb, top=False)
    add_output_options(tb)
    tb.set_defaults(handler=_show_tables)

    ql = sub.add_parser("queries", help="list the named queries with their parameters")
    ql.add_argument("name", nargs="?", help="show one query in full")
    add_global_options(ql, top=False)
    ql.set_defaults(handler=_show_queries)

    sc = sub.add_parser("sources", help="list configured profiles (secrets masked)")
    add_global_options(sc, top=False)
    sc.set_defaults(handler=_show_sources)


def _show_tables(args: argparse.Namespace, console: Console) -> int:
    emit(_tables(args, console.stdout, console.stderr), args, console)
    return 0


def _tables(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> Result:
    """The source's tables with their column counts, or one table's columns."""
    check_output(args, stdout)
    with connect_source(args, stderr) as source:
        schema = source.tables()
    records = schema.records()
    if args.name is None:
        counts: dict[str, int] = {}
        for r in records:
            counts[r["table_name"]] = counts.get(r["table_name"], 0) + 1
        return Result.from_columns(
            [Column("table_name", "string"), Column("columns", "integer")],
            [list(counts), list(counts.values())],
            schema.meta,
        )
    rows = [r for r in records if r["table_name"] == args.name]
    if not rows:
        names = sorted({r["table_name"] for r in records})
        close = close_matches(args.name, names)
        hint = f"did you mean {', '.join(close)}?" if close else f"tables: {', '.join(names)}"
        raise NotFound(
            f"no table {args.name!r} in source {source.name!r}; {hint}", source=source.name
        )
    return Result.from_columns(
        [Column("column_name", "string"), Column("data_type", "string")],
        [[r["column_name"] for r in rows], [r["data_type"] for r in rows]],
        schema.meta,
    )


def _show_queries(args: argparse.Namespace, console: Console) -> int:
    """Every named query with its description and parameters, or one query in full."""
    stdout = console.stdout
    if args.name:
        q = get(args.name)
        stdout.write(f"{q.name}\n\n{q.description}\n\nparameters:\n")
        for p in q.params:
            default = "(required)" if p.required else f"default {p.default!r}"
            stdout.write(f"  {p.name}: {p.type} {default}  {p.description}\n")
        stdout.write("columns:\n")
        for c in q.columns:
            stdout.write(f"  {c.name}: {c.type}\n")
        stdout.write(f"order: {q.order}\nvariants: {', '.join(sorted(q.variants))}\n")
        return 0
    for q in list_queries():
        description = "".join(f"    {line}\n" for line in q.description.strip().splitlines())
        stdout.write(f"{q.name}\n{description}    params: {describe_params(q.params) or '-'}\n")
    return 0


def _show_sources(args: argparse.Namespace, console: Console) -> int:
    """The config file and each profile (options with secrets masked, and why a profile
    cannot be used, if it cannot)."""
    stdout = console.stdout
    config = load_config()
    stdout.write(f"config file: {config.path}{'' if config.exists else ' (not found)'}\n")
    if not config.profiles:
        stdout.write("no profiles: `thsources` uses the embedded local sample\n")
    for name, profile in sorted(config.profiles.items()):
        if profile.sources:  # a list profile: its sources are listed on their own lines
            _show_list_profile(name, config, stdout)
            continue
        try:
            secrets = frozenset(source_class(profile.kind).secret_options())
        except ThsourcesError:
            secrets = frozenset()
        shown = ", ".join(f"{k}={mask(k, v, secrets)}" for k, v in sorted(profile.options.items()))
        marker = " (default)" if name == "default" else ""
        status = ""
        try:
            resolve(name, {}, config=config)
        except ConfigError as exc:
            status = f"  [not usable: {exc}]"
        stdout.write(f"{name}{marker}: kind={profile.kind} {shown}{status}\n")
    return 0


def _show_list_profile(name: str, config: Any, stdout: TextIO) -> None:
    marker = " (default)" if name == "default" else ""
    status = ""
    try:
        members(name, config=config)
    except ConfigError as exc:
        status = f"  [not usable: {exc}]"
    listed = ", ".join(config.profiles[name].sources)
    stdout.write(f"{name}{marker}: sources={listed}{status}\n")
