"""``thsources serve``: a service emulator on 127.0.0.1, to try the sources (and test them)
with no account anywhere."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ParameterError
from .console import Console
from .options import Subcommands, add_global_options

__all__ = ["register"]


def register(sub: Subcommands) -> None:
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
    add_global_options(se, top=False)
    se.set_defaults(handler=_serve)


def _serve(args: argparse.Namespace, console: Console) -> int:
    """Serve until interrupted (Ctrl-C ends the command with exit code 130)."""
    if args.database_url is not None and args.service != "redash":
        raise ParameterError("--database-url is for `thsources serve redash` only")
    if args.service == "treeherder":
        from ..testing import TreeherderEmulator

        TreeherderEmulator(args.database, port=args.port).serve_forever()
        return 0
    if args.service == "activedata":
        from ..testing import ActiveDataEmulator

        ActiveDataEmulator(args.database, port=args.port).serve_forever()
        return 0
    from ..testing import RedashEmulator

    emulator = RedashEmulator(
        args.database,
        port=args.port,
        workers=args.workers,
        job_duration=args.job_duration,
        database_url=args.database_url,
    )
    emulator.serve_forever()
    return 0
