"""The ``thsources`` command: run SQL, named queries and saved queries from the shell.

Every failure prints one line on stderr (what went wrong and how to fix it) and exits with
the code docs/design.md documents; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

from . import __version__, connect
from .catalog import describe_params, get, list_queries, run_named
from .config import close_matches, load_config, mask, resolve
from .errors import ConfigError, NotFound, ParameterError, ThsourcesError, exit_code_for
from .output import (
    FORMATS,
    STDOUT,
    TABLE_MAX_ROWS_TTY,
    check_writable,
    format_for_path,
    render,
    write_result,
)
from .polling import check_timeout
from .result import Column, Result
from .sources.base import DEFAULT_TIMEOUT, Source, source_class

if TYPE_CHECKING:
    from .agreement import CheckRow

__all__ = ["main"]

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse that exits with code 2 and one line, like every other usage error here,
    writing to the streams ``main`` was given."""

    streams: tuple[TextIO, TextIO] = (sys.stdout, sys.stderr)

    def error(self, message: str) -> Any:
        self.exit(EXIT_USAGE, f"thsources: error: {message} (see `thsources --help`)\n")

    def _print_message(self, message: str, file: Any = None) -> None:
        if message:
            out, err = _Parser.streams
            (err if file is None or file is sys.stderr else out).write(message)


def _global(parser: argparse.ArgumentParser, *, top: bool) -> None:
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


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=FORMATS, help="output format (default: table)")
    parser.add_argument(
        "-o", "--output", type=Path, help="write to FILE (atomically; '-' is stdout)"
    )


def _common(parser: argparse.ArgumentParser) -> None:
    _global(parser, top=False)
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter (repeatable); lists as a,b,c",
    )
    _output_options(parser)
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="thsources",
        description="Query Treeherder's data wherever it lives and get the same typed records.",
    )
    parser.add_argument("--version", action="version", version=f"thsources {__version__}")
    _global(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    q = sub.add_parser("query", help="run SQL (argument, -f FILE or stdin)")
    q.add_argument("sql", nargs="?", help="the SQL text; :name placeholders take -p values")
    q.add_argument("-f", "--file", type=Path, help="read the SQL from FILE")
    _common(q)

    r = sub.add_parser("run", help="run named queries (see `thsources queries`)")
    r.add_argument("name", nargs="+", metavar="NAME", help="one or more named queries")
    _common(r)
    r.add_argument(
        "--keep-going",
        action="store_true",
        help="with several queries: let the others finish when one fails",
    )

    sv = sub.add_parser("saved", help="run a saved Redash query by id or URL")
    sv.add_argument("query_id", help="the query's id, or its URL (…/queries/12345…)")
    _common(sv)

    tb = sub.add_parser("tables", help="a source's tables, or one table's columns")
    tb.add_argument("name", nargs="?", help="show this table's columns and types")
    _global(tb, top=False)
    _output_options(tb)

    ql = sub.add_parser("queries", help="list the named queries with their parameters")
    ql.add_argument("name", nargs="?", help="show one query in full")
    _global(ql, top=False)

    sc = sub.add_parser("sources", help="list configured profiles (secrets masked)")
    _global(sc, top=False)

    se = sub.add_parser("serve", help="run a service emulator on 127.0.0.1 (for testing)")
    se.add_argument("service", choices=["redash", "treeherder", "activedata"])
    se.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    se.add_argument(
        "--job-duration", type=float, default=0.0, help="seconds each query takes at least"
    )
    se.add_argument("--workers", type=int, default=4, help="background workers running jobs")
    se.add_argument(
        "--database", type=Path, help="DuckDB file to serve (default: the embedded sample)"
    )
    se.add_argument(
        "--database-url",
        metavar="URL",
        help="redash: run the jobs on this PostgreSQL or MySQL/MariaDB database instead "
        "(postgresql://user@host/db, mysql://user@host/db), read-only",
    )
    _global(se, top=False)

    _add_sample_parser(sub)
    _add_join_and_pull_parsers(sub)
    _add_check_parser(sub)
    _add_cache_parser(sub)
    return parser


def _add_check_parser(sub: Any) -> None:
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
    _global(ck, top=False)


def _add_cache_parser(sub: Any) -> None:
    ca = sub.add_parser("cache", help="the local result cache (--max-age): list or clear it")
    ca_sub = ca.add_subparsers(dest="cache_command", required=True, parser_class=_Parser)
    ls = ca_sub.add_parser("ls", help="stored results, most recently used first")
    _global(ls, top=False)
    _output_options(ls)
    cl = ca_sub.add_parser("clear", help="remove stored results (-s NAME: that profile or kind's)")
    _global(cl, top=False)


def _cache(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> Result | None:
    """``cache ls`` as a result (any output format), or ``cache clear`` (a line on stderr).
    ``-s`` narrows either to the entries a profile or a kind stored."""
    from .result_cache import default_cache, human_size, listing

    cache = default_cache()
    if args.cache_command == "clear":
        removed, freed = cache.clear(args.source)
        which = f" of {args.source!r}" if args.source else ""
        stderr.write(
            f"thsources: removed {removed} cached result{'s' if removed != 1 else ''}{which} "
            f"({human_size(freed)}) from {cache.root}\n"
        )
        return None
    _check_output(args, stdout)
    entries = [e for e in cache.entries() if args.source in (None, e.source, e.kind)]
    total = sum(e.size for e in entries)
    cap = human_size(cache.max_bytes) if cache.enabled else "off"
    stderr.write(
        f"thsources: {len(entries)} cached result{'s' if len(entries) != 1 else ''}, "
        f"{human_size(total)} (cap {cap}) in {cache.root}\n"
    )
    return listing(entries)


def _add_sample_parser(sub: Any) -> None:
    sa = sub.add_parser("sample", help="the sample dataset: load it into a real database")
    sa_sub = sa.add_subparsers(dest="sample_command", required=True, parser_class=_Parser)
    load = sa_sub.add_parser(
        "load", help="create Treeherder's tables in a PostgreSQL or MySQL database and fill them"
    )
    load.add_argument("url", help="postgresql://user:password@host/db or mysql://user@host/db")
    load.add_argument("--seed", type=int, default=None, help="generator seed (default: fixed)")
    load.add_argument("--scale", type=float, default=1.0, help="sample size factor")
    load.add_argument("--replace", action="store_true", help="drop the tables if they exist")
    load.add_argument("--debug", action="store_true", help="show tracebacks on errors")


def _sample(args: argparse.Namespace, stderr: TextIO) -> None:
    from .local.sample import DEFAULT_SEED
    from .sources.sql_load import load_sample

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


def _add_join_and_pull_parsers(sub: Any) -> None:
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
    _global(jo, top=False)
    _output_options(jo)

    pu = sub.add_parser(
        "pull", help="append a named query's new rows to the local history (-s history reads it)"
    )
    pu.add_argument("name", help="the named query (see `thsources queries`)")
    pu.add_argument("--into", required=True, metavar="TABLE", help="the history table")
    pu.add_argument(
        "-p", "--param", action="append", default=[], metavar="NAME=VALUE", help="a parameter"
    )
    pu.add_argument("--timeout", type=float, metavar="SECONDS", help="give up after this long")
    _global(pu, top=False)


def _join(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> Result:
    from .localsql import local_sql

    _check_output(args, stdout)
    tables: dict[str, str] = {}
    for pair in args.tables:
        name, sep, path = pair.partition("=")
        if not sep or not name.strip() or not path:
            raise ParameterError(f"--with takes NAME=FILE.parquet, not {pair!r}")
        if name.strip() in tables:
            raise ParameterError(f"--with names the table {name.strip()!r} twice")
        tables[name.strip()] = path
    return local_sql(_read_sql(args, stdin), timeout=args.timeout, **tables)


def _pull(args: argparse.Namespace, stderr: TextIO) -> None:
    from .history import pull

    with _connect(args, stderr) as source:
        done = pull(
            args.name,
            _params(args.param),
            source,
            args.into,
            timeout=args.timeout,
        )
    stderr.write(
        f"thsources: pull {done.pull_id}: {args.name} on {source.name!r} returned "
        f"{done.rows_returned} rows, {done.rows_added} new, added to {done.table} in "
        f"{done.path}\n"
    )


def one_line(message: str) -> str:
    """A multi-line server message (SQL excerpt, caret line) folded into one line."""
    parts = [p.strip() for p in message.splitlines()]
    return " ".join(p for p in parts if p and set(p) != {"^"})


def _params(pairs: Sequence[str]) -> dict[str, str | list[str]]:
    """``-p`` values by name: a string, or a list when a name is repeated (one item per
    ``-p``), which list parameters take and scalar ones refuse."""
    out: dict[str, str | list[str]] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ParameterError(f"parameter {pair!r} is not NAME=VALUE; write -p name=value")
        if name not in out:
            out[name] = value
        else:
            seen = out[name]
            out[name] = [*seen, value] if isinstance(seen, list) else [seen, value]
    return out


def _read_sql(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.sql and args.file:
        raise ConfigError("give the SQL either as an argument or with -f FILE, not both")
    if args.file:
        try:
            return str(args.file.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot read {args.file}: {exc.strerror}") from None
    if args.sql:
        return str(args.sql)
    if stdin.isatty():
        raise ConfigError("no SQL given: pass it as an argument, with -f FILE, or on stdin")
    return stdin.read()


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


NOTICE_FALLBACK: Final = (
    "thsources: no 'default' profile configured; using the embedded local sample "
    "(see `thsources sources`)\n"
)


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


def _connect(args: argparse.Namespace, stderr: TextIO) -> Source:
    if args.source is None:
        config = load_config()
        if "default" not in config.profiles:
            _notice_fallback(stderr, args.verbose)
    source = connect(args.source)
    if args.verbose:
        stderr.write(f"thsources: source {source.name!r} (kind {source.kind})\n")
    return source


def _output_path(args: argparse.Namespace) -> Path | None:
    """The file to write, or None for standard output (``-o -`` included)."""
    if args.output is None or str(args.output) == STDOUT:
        return None
    return Path(args.output)


def _check_output(args: argparse.Namespace, stdout: TextIO) -> str:
    """The output format, refusing before any query runs what could not be written."""
    path = _output_path(args)
    fmt = format_for_path(path, args.format)
    if path is not None:
        check_writable(path)
    elif fmt == "parquet" and stdout.isatty():
        raise ConfigError("Parquet is binary: write it with -o FILE.parquet")
    return fmt


def _run_query(args: argparse.Namespace, stdin: TextIO, stdout: TextIO, stderr: TextIO) -> Result:
    _check_output(args, stdout)
    params = _params(args.param)
    sql = _read_sql(args, stdin) if args.command == "query" else None
    progress = _progress_printer(stderr)
    options: dict[str, Any] = {"max_age": args.max_age, "timeout": args.timeout}
    if progress is not None:
        options["progress"] = progress
    with _connect(args, stderr) as source:
        if progress is not None and not _accepts_progress(source):
            options.pop("progress")
        try:
            if args.command == "query":
                assert sql is not None
                return source.query(sql, params, **options)
            if args.command == "run":
                return run_named(args.name, source, params, **options)
            run_saved = getattr(source, "run_saved", None)
            if run_saved is None:
                raise ConfigError(
                    f"source {source.name!r} ({source.kind}) has no saved queries; "
                    "saved queries are a Redash feature: use -s with a redash profile"
                )
            result: Result = run_saved(args.query_id, params, **options)
            return result
        finally:
            if progress is not None:
                stderr.write("\r\x1b[K")
                stderr.flush()


def _accepts_progress(source: Source) -> bool:
    import inspect

    return "progress" in inspect.signature(source.query).parameters


def _tables(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> Result:
    """The source's tables with their column counts, or one table's columns."""
    _check_output(args, stdout)
    with _connect(args, stderr) as source:
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


def _list_queries(args: argparse.Namespace, stdout: TextIO) -> None:
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
        return
    for q in list_queries():
        description = "".join(f"    {line}\n" for line in q.description.strip().splitlines())
        stdout.write(f"{q.name}\n{description}    params: {describe_params(q.params) or '-'}\n")


def _list_sources(stdout: TextIO) -> None:
    config = load_config()
    stdout.write(f"config file: {config.path}{'' if config.exists else ' (not found)'}\n")
    if not config.profiles:
        stdout.write("no profiles: `thsources` uses the embedded local sample\n")
    for name, profile in sorted(config.profiles.items()):
        if profile.sources:  # a list profile: its sources are listed on their own lines
            _list_fallback(name, config, stdout)
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


def _check(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """A table of named queries by source (agrees, DIFFERS, no variant, error); the diffs
    and errors follow on stderr. Exit 0 when every answer agrees, 1 otherwise."""
    from contextlib import ExitStack

    from .agreement import check

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
    return _check_report(rows, chosen, unusable, args.debug, stdout, stderr)


def _check_report(
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


def _list_fallback(name: str, config: Any, stdout: TextIO) -> None:
    from .config import members

    marker = " (default)" if name == "default" else ""
    status = ""
    try:
        members(name, config=config)
    except ConfigError as exc:
        status = f"  [not usable: {exc}]"
    listed = ", ".join(config.profiles[name].sources)
    stdout.write(f"{name}{marker}: sources={listed}{status}\n")


def _serve(args: argparse.Namespace, stdout: TextIO) -> None:
    if args.database_url is not None and args.service != "redash":
        raise ParameterError("--database-url is for `thsources serve redash` only")
    if args.service == "treeherder":
        from .testing import TreeherderEmulator

        TreeherderEmulator(args.database, port=args.port).serve_forever()
        return
    if args.service == "activedata":
        from .testing import ActiveDataEmulator

        ActiveDataEmulator(args.database, port=args.port).serve_forever()
        return
    from .testing import RedashEmulator

    emulator = RedashEmulator(
        args.database,
        port=args.port,
        workers=args.workers,
        job_duration=args.job_duration,
        database_url=args.database_url,
    )
    emulator.serve_forever()


def _emit(
    result: Result, args: argparse.Namespace, stdout: TextIO, stderr: TextIO, started: float
) -> None:
    path = _output_path(args)
    fmt = format_for_path(path, args.format)
    skipped = result.meta.extra.get("skipped")
    if getattr(args, "verbose", False) and skipped is not None:  # a list profile answered
        passed = "".join(f"; passed over {name} ({why})" for name, why in skipped.items())
        stderr.write(f"thsources: answered by {result.meta.source!r}{passed}\n")
    if path is not None:
        write_result(result, fmt, path=path)
        stderr.write(
            f"thsources: wrote {len(result)} rows to {path} in {time.monotonic() - started:.1f}s\n"
        )
        return
    max_rows = TABLE_MAX_ROWS_TTY if stdout.isatty() else None
    binary = getattr(stdout, "buffer", None)
    if binary is not None:
        stdout.flush()
        write_result(result, fmt, stream=binary, table_max_rows=max_rows)
    else:
        stdout.write(render(result, fmt, max_rows))


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
    _Parser.streams = (stdout, stderr)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    debug = args.debug
    started = time.monotonic()
    several = args.command == "run" and len(args.name) > 1
    if args.command == "run" and not several:
        args.name = args.name[0]
    try:
        if several:
            from .cli_many import run_several

            return run_several(args, stdout, stderr)
        elif args.command == "queries":
            _list_queries(args, stdout)
        elif args.command == "sources":
            _list_sources(stdout)
        elif args.command == "serve":
            _serve(args, stdout)
        elif args.command == "sample":
            _sample(args, stderr)
        elif args.command == "pull":
            _pull(args, stderr)
        elif args.command == "check":
            return _check(args, stdout, stderr)
        elif args.command == "cache":
            listed = _cache(args, stdout, stderr)
            if listed is not None:
                _emit(listed, args, stdout, stderr, started)
        else:
            if args.command == "tables":
                result = _tables(args, stdout, stderr)
            elif args.command == "join":
                result = _join(args, stdin, stdout)
            else:
                result = _run_query(args, stdin, stdout, stderr)
            _emit(result, args, stdout, stderr, started)
        return 0
    except KeyboardInterrupt:
        stderr.write("thsources: interrupted\n")
        if debug:
            traceback.print_exc(file=stderr)
        return 130
    except ThsourcesError as exc:
        stderr.write(f"thsources: error: {one_line(str(exc))}\n")
        if debug:
            traceback.print_exc(file=stderr)
        return exit_code_for(exc)
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
