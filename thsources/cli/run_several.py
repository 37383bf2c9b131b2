"""``thsources run A B C``: several named queries at once, each written as it finishes.

Where the results go (``-o``), since several results cannot share one CSV or table file:

- nothing or ``-o -``: standard output, each result as it finishes, as a table under a
  ``== NAME`` line, or with ``--format jsonl`` as ``{"query": NAME, "record": {...}}``
  lines; CSV, JSON and Parquet are refused there;
- ``-o 'out/{name}.csv'``: one file per query, ``{name}`` replaced by the query's name;
- ``-o DIR`` (an existing directory): ``DIR/NAME.parquet`` (or the ``--format``'s suffix);
- ``-o FILE.jsonl``: every result in one JSON-lines file, tagged as on standard output.

The first failure cancels the other queries (``--keep-going`` lets them finish); every
failure is one ``thsources: error: NAME: ...`` line and the exit code is the first one's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Final, TextIO

from ..catalog import bind_params, get
from ..errors import ConfigError, ParameterError, ThsourcesError, exit_code_for
from ..many import Query, run_many
from ..output import (
    STDOUT,
    TABLE_MAX_ROWS_TTY,
    check_writable,
    format_for_path,
    render,
    write_result,
    write_tagged_jsonl,
)
from ..result import Result
from .connect import connect_source
from .console import one_line
from .inputs import params

__all__ = ["run_several"]

NAME_FIELD: Final = "{name}"
SUFFIX: Final = {"table": ".txt", "csv": ".csv", "json": ".json", "jsonl": ".jsonl"}


def _split_params(names: list[str], pairs: list[str]) -> dict[str, list[str]]:
    """Each query's ``-p`` pairs: ``NAME=VALUE`` goes to every query declaring ``NAME``,
    ``QUERY:NAME=VALUE`` to ``QUERY`` alone."""
    declared = {n: {p.name for p in get(n).params} for n in names}
    out: dict[str, list[str]] = {n: [] for n in names}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        scope, colon, param = key.partition(":")
        if not sep or not key.strip():
            raise ParameterError(f"parameter {pair!r} is not NAME=VALUE; write -p name=value")
        if colon:
            if scope.strip() not in out:
                raise ParameterError(
                    f"-p {pair!r} names the query {scope.strip()!r}, which is not run here; "
                    f"the queries are {', '.join(names)}"
                )
            out[scope.strip()].append(f"{param}={value}")
            continue
        takers = [n for n in names if key.strip() in declared[n]]
        if not takers:
            raise ParameterError(
                f"none of {', '.join(names)} has a parameter {key.strip()!r}; "
                "see `thsources queries NAME`"
            )
        for n in takers:
            out[n].append(pair)
    return out


def _targets(names: list[str], args: argparse.Namespace, stdout: TextIO) -> tuple[str, object]:
    """Where results go: ("stdout", fmt), ("files", {name: (path, fmt)}) or ("jsonl", path);
    everything checked before a query runs."""
    out = args.output
    if out is None or str(out) == STDOUT:
        fmt = args.format or "table"
        if fmt not in ("table", "jsonl"):
            raise ConfigError(
                f"several results cannot share one {fmt} stream: use --format jsonl, "
                f"-o DIR/ or -o 'PATH/{{name}}.{fmt}'"
            )
        return "stdout", fmt
    text = str(out)
    if NAME_FIELD not in text and not out.is_dir() and not out.suffix:
        raise ConfigError(
            f"cannot write several results to {out}: no such directory; create it first, "
            "or give -o 'PATH/{name}.EXT'"
        )
    if NAME_FIELD in text or out.is_dir():
        files: dict[str, tuple[Path, str]] = {}
        for n in names:
            if NAME_FIELD in text:
                path = Path(text.replace(NAME_FIELD, n))
                fmt = format_for_path(path, args.format)
            else:
                fmt = args.format or "parquet"
                path = out / f"{n}{SUFFIX.get(fmt, '.parquet')}"
            check_writable(path)
            files[n] = (path, fmt)
        if len({p for p, _ in files.values()}) < len(files):
            raise ConfigError(f"-o {text!r} gives several queries the same file; use {{name}}")
        return "files", files
    fmt = format_for_path(out, args.format)
    if fmt != "jsonl":
        raise ConfigError(
            f"several results cannot share one {fmt} file: use -o DIR/, "
            "-o 'PATH/{name}.EXT' or a .jsonl file"
        )
    check_writable(out)
    return "jsonl", out


def run_several(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Run ``args.name`` (several) on one source; the exit code of the first failure, or 0."""
    names: list[str] = list(args.name)
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ParameterError(f"the query {twice[0]!r} is named twice; name each query once")
    per_query = {n: params(pairs) for n, pairs in _split_params(names, args.param).items()}
    for n in names:
        bind_params(get(n), per_query[n])  # a wrong parameter is refused before any query runs
    kind, target = _targets(names, args, stdout)
    collected: list[tuple[str, Result]] = []
    first: ThsourcesError | None = None
    with connect_source(args, stderr) as source:
        queries = [Query(n, per_query[n], source=source) for n in names]
        batch = run_many(queries, timeout=args.timeout, max_age=args.max_age)
        with batch:
            for answer in batch:
                if answer.error is not None:
                    if first is not None and not args.keep_going:
                        continue  # cancelled because of the first failure: said already
                    stderr.write(f"thsources: error: {answer.tag}: {one_line(str(answer.error))}\n")
                    if first is None:
                        first = answer.error
                    if not args.keep_going:
                        batch.cancel()
                    continue
                _emit_one(answer.tag, answer.result(), kind, target, stdout, stderr)
                if kind == "jsonl":
                    collected.append((answer.tag, answer.result()))
    if kind == "jsonl" and (first is None or args.keep_going):
        assert isinstance(target, Path)
        write_tagged_jsonl(collected, path=target)
        rows = sum(len(r) for _, r in collected)
        stderr.write(f"thsources: wrote {rows} rows of {len(collected)} queries to {target}\n")
    return 0 if first is None else exit_code_for(first)


def _emit_one(
    tag: str,
    result: Result,
    kind: str,
    target: object,
    stdout: TextIO,
    stderr: TextIO,
) -> None:
    if kind == "files":
        assert isinstance(target, dict)
        path, fmt = target[tag]
        started = time.monotonic()
        write_result(result, fmt, path=path)
        stderr.write(
            f"thsources: {tag}: wrote {len(result)} rows to {path} "
            f"in {time.monotonic() - started:.1f}s\n"
        )
    elif kind == "stdout":
        binary = getattr(stdout, "buffer", None)
        if target == "jsonl":
            if binary is not None:
                stdout.flush()
                write_tagged_jsonl([(tag, result)], stream=binary)
            else:
                import io

                buf = io.BytesIO()
                write_tagged_jsonl([(tag, result)], stream=buf)
                stdout.write(buf.getvalue().decode())
            return
        max_rows = TABLE_MAX_ROWS_TTY if stdout.isatty() else None
        stdout.write(f"== {tag}\n")
        stdout.write(render(result, "table", max_rows))
        stdout.write("\n")
        stdout.flush()
