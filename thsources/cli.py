"""The ``thsources`` command: run SQL, named queries and saved queries from the shell.

Every failure prints one line on stderr (what went wrong and how to fix it) and exits with
the code DESIGN.md documents; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__, connect
from .catalog import describe_params, get, list_queries, run_named
from .config import load_config, mask, resolve
from .errors import ConfigError, ParameterError, ThsourcesError, exit_code_for
from .output import FORMATS, check_writable, format_for_path, write_result
from .result import Result
from .sources.base import Source, source_class

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


def _common(parser: argparse.ArgumentParser, *, query: bool = True) -> None:
    parser.add_argument(
        "-s", "--source", help="profile or source kind (default: profile 'default', else local)"
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    if not query:
        return
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a query parameter (repeatable); lists as a,b,c",
    )
    parser.add_argument("--format", choices=FORMATS, help="output format (default: table)")
    parser.add_argument("-o", "--output", type=Path, help="write to FILE (atomically)")
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
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    q = sub.add_parser("query", help="run SQL (argument, -f FILE or stdin)")
    q.add_argument("sql", nargs="?", help="the SQL text; :name placeholders take -p values")
    q.add_argument("-f", "--file", type=Path, help="read the SQL from FILE")
    _common(q)

    r = sub.add_parser("run", help="run a named query (see `thsources queries`)")
    r.add_argument("name")
    _common(r)

    sv = sub.add_parser("saved", help="run a saved Redash query by id")
    sv.add_argument("query_id", type=int)
    _common(sv)

    ql = sub.add_parser("queries", help="list the named queries with their parameters")
    ql.add_argument("name", nargs="?", help="show one query in full")
    ql.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    sc = sub.add_parser("sources", help="list configured profiles (secrets masked)")
    sc.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    se = sub.add_parser("serve", help="run a service emulator on 127.0.0.1 (for testing)")
    se.add_argument("service", choices=["redash"])
    se.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    se.add_argument(
        "--job-duration", type=float, default=0.0, help="seconds each query takes at least"
    )
    se.add_argument("--workers", type=int, default=4, help="background workers running jobs")
    se.add_argument(
        "--database", type=Path, help="DuckDB file to serve (default: the embedded sample)"
    )
    se.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)

    _add_sample_parser(sub)
    return parser


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


def one_line(message: str) -> str:
    """A multi-line server message (SQL excerpt, caret line) folded into one line."""
    parts = [p.strip() for p in message.splitlines()]
    return " ".join(p for p in parts if p and set(p) != {"^"})


def _params(pairs: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ParameterError(f"parameter {pair!r} is not NAME=VALUE; write -p name=value")
        out[name.strip()] = value
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


def _connect(args: argparse.Namespace, stderr: TextIO) -> Source:
    if args.source is None:
        config = load_config()
        if "default" not in config.profiles:
            stderr.write(
                "thsources: no 'default' profile configured; using the embedded local sample "
                "(see `thsources sources`)\n"
            )
    return connect(args.source)


def _run_query(args: argparse.Namespace, stdin: TextIO, stderr: TextIO) -> Result:
    fmt = format_for_path(args.output, args.format)
    if args.output is not None:
        check_writable(args.output)
    if fmt == "parquet" and args.output is None and sys.stdout.isatty():
        raise ConfigError("Parquet is binary: write it with -o FILE.parquet")
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
        first = q.description.splitlines()[0] if q.description else ""
        stdout.write(f"{q.name}\n    {first}\n    params: {describe_params(q.params) or '-'}\n")


def _list_sources(stdout: TextIO) -> None:
    config = load_config()
    stdout.write(f"config file: {config.path}{'' if config.exists else ' (not found)'}\n")
    if not config.profiles:
        stdout.write("no profiles: `thsources` uses the embedded local sample\n")
    for name, profile in sorted(config.profiles.items()):
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


def _serve(args: argparse.Namespace, stdout: TextIO) -> None:
    from .testing import RedashEmulator

    emulator = RedashEmulator(
        args.database, port=args.port, workers=args.workers, job_duration=args.job_duration
    )
    emulator.serve_forever()


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
    debug = getattr(args, "debug", False)
    started = time.monotonic()
    try:
        if args.command == "queries":
            _list_queries(args, stdout)
        elif args.command == "sources":
            _list_sources(stdout)
        elif args.command == "serve":
            _serve(args, stdout)
        elif args.command == "sample":
            _sample(args, stderr)
        else:
            result = _run_query(args, stdin, stderr)
            fmt = format_for_path(args.output, args.format)
            if args.output is not None:
                write_result(result, fmt, path=args.output)
                stderr.write(
                    f"thsources: wrote {len(result)} rows to {args.output} "
                    f"in {time.monotonic() - started:.1f}s\n"
                )
            else:
                binary = getattr(stdout, "buffer", None)
                max_rows = 100 if stdout.isatty() else None
                if binary is not None:
                    stdout.flush()
                    write_result(result, fmt, stream=binary, table_max_rows=max_rows)
                else:
                    from .output import render

                    stdout.write(render(result, fmt))
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
