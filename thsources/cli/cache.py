"""``thsources cache ls`` and ``cache clear``: the local result cache that ``--max-age``
reads, listed (a result, in any output format) or emptied; ``-s`` narrows either to what one
profile or kind stored."""

from __future__ import annotations

import argparse

from .console import Console, check_output, emit
from .options import CommandParser, Subcommands, add_global_options, add_output_options

__all__ = ["register"]


def register(sub: Subcommands) -> None:
    ca = sub.add_parser("cache", help="the local result cache (--max-age): list or clear it")
    ca_sub = ca.add_subparsers(dest="cache_command", required=True, parser_class=CommandParser)
    ls = ca_sub.add_parser("ls", help="stored results, most recently used first")
    add_global_options(ls, top=False)
    add_output_options(ls)
    cl = ca_sub.add_parser("clear", help="remove stored results (-s NAME: that profile or kind's)")
    add_global_options(cl, top=False)
    ca.set_defaults(handler=_cache)


def _cache(args: argparse.Namespace, console: Console) -> int:
    """``cache ls`` as a result (any output format), or ``cache clear`` (a line on stderr)."""
    from ..result_cache import default_cache, human_size, listing

    stderr = console.stderr
    cache = default_cache()
    if args.cache_command == "clear":
        removed, freed = cache.clear(args.source)
        which = f" of {args.source!r}" if args.source else ""
        stderr.write(
            f"thsources: removed {removed} cached result{'s' if removed != 1 else ''}{which} "
            f"({human_size(freed)}) from {cache.root}\n"
        )
        return 0
    check_output(args, console.stdout)
    entries = [e for e in cache.entries() if args.source in (None, e.source, e.kind)]
    total = sum(e.size for e in entries)
    cap = human_size(cache.max_bytes) if cache.enabled else "off"
    stderr.write(
        f"thsources: {len(entries)} cached result{'s' if len(entries) != 1 else ''}, "
        f"{human_size(total)} (cap {cap}) in {cache.root}\n"
    )
    emit(listing(entries), args, console)
    return 0
