"""The ``thsources`` command: run SQL, named queries and saved queries from the shell.

Every failure prints one line on stderr (what went wrong and how to fix it) and exits with
the code docs/design.md documents; ``--debug`` adds the traceback.

``core`` builds the parser and runs ``main()``; ``options`` and ``console`` are what every
subcommand shares (the common options; writing results and errors); ``inputs`` and
``connect`` read parameters and SQL and pick the source. Each other module is one group of
subcommands: ``query`` (query, run, saved; ``run_several`` for ``run A B ...``), ``listing``
(tables, queries, sources), ``serve``, ``sample``, ``join``, ``pull``, ``check``, ``cache``.
"""

from .connect import NOTICE_FALLBACK
from .console import one_line
from .core import build_parser, main
from .options import EXIT_USAGE

__all__ = ["EXIT_USAGE", "NOTICE_FALLBACK", "build_parser", "main", "one_line"]
