"""What the user hands a command besides options: ``-p NAME=VALUE`` parameters, and SQL as
an argument, from ``-f FILE`` or on standard input."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import TextIO

from ..errors import ConfigError, ParameterError

__all__ = ["params", "read_sql"]


def params(pairs: Sequence[str]) -> dict[str, str | list[str]]:
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


def read_sql(args: argparse.Namespace, stdin: TextIO) -> str:
    """The SQL from ``args.sql``, ``-f FILE`` or a piped stdin (exactly one of them)."""
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
