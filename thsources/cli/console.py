"""Where a command's words go: a result to standard output or to ``-o FILE``, a failure as
one line on stderr.

Commands check the output (``check_output``) before any query runs, so a result that could
not be written is refused before the time is spent computing it.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import ConfigError
from ..output import (
    STDOUT,
    TABLE_MAX_ROWS_TTY,
    check_writable,
    format_for_path,
    render,
    write_result,
)
from ..result import Result

__all__ = ["Console", "check_output", "emit", "one_line", "output_path"]


@dataclass(frozen=True)
class Console:
    """The streams ``main`` was given, and when the command started (for "wrote N rows to
    FILE in 1.2s")."""

    stdin: TextIO
    stdout: TextIO
    stderr: TextIO
    started: float


def one_line(message: str) -> str:
    """A multi-line server message (SQL excerpt, caret line) folded into one line."""
    parts = [p.strip() for p in message.splitlines()]
    return " ".join(p for p in parts if p and set(p) != {"^"})


def output_path(args: argparse.Namespace) -> Path | None:
    """The file to write, or None for standard output (``-o -`` included)."""
    if args.output is None or str(args.output) == STDOUT:
        return None
    return Path(args.output)


def check_output(args: argparse.Namespace, stdout: TextIO) -> str:
    """The output format, refusing before any query runs what could not be written."""
    path = output_path(args)
    fmt = format_for_path(path, args.format)
    if path is not None:
        check_writable(path)
    elif fmt == "parquet" and stdout.isatty():
        raise ConfigError("Parquet is binary: write it with -o FILE.parquet")
    return fmt


def emit(result: Result, args: argparse.Namespace, console: Console) -> None:
    """Write ``result`` as ``--format`` and ``-o`` say: a file atomically (and a line on
    stderr saying so), or standard output (a table cut short on a terminal)."""
    stdout, stderr = console.stdout, console.stderr
    path = output_path(args)
    fmt = format_for_path(path, args.format)
    skipped = result.meta.extra.get("skipped")
    if getattr(args, "verbose", False) and skipped is not None:  # a list profile answered
        passed = "".join(f"; passed over {name} ({why})" for name, why in skipped.items())
        stderr.write(f"thsources: answered by {result.meta.source!r}{passed}\n")
    if path is not None:
        write_result(result, fmt, path=path)
        stderr.write(
            f"thsources: wrote {len(result)} rows to {path} "
            f"in {time.monotonic() - console.started:.1f}s\n"
        )
        return
    max_rows = TABLE_MAX_ROWS_TTY if stdout.isatty() else None
    binary = getattr(stdout, "buffer", None)
    if binary is not None:
        stdout.flush()
        write_result(result, fmt, stream=binary, table_max_rows=max_rows)
    else:
        stdout.write(render(result, fmt, max_rows))
