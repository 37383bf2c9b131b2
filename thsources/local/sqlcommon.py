"""What the SQL translators to DuckDB share: parsing one dialect's text into statements with
a readable syntax error, and refusing statements that would write.

Each translator (PostgreSQL for the local sample and the emulated Treeherder data source,
BigQuery for the emulated telemetry data source) decides what it accepts and how it rewrites;
how a text becomes statements, and which statements are writes, is the same for both.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError

from ..errors import PermissionDenied, QueryError, UnsupportedQuery

# sqlglot warns on its logger when it falls back to a raw Command (SHOW, PRAGMA...): with no
# handler configured, Python would print that on stderr beside our own one-line refusal.
# A NullHandler keeps it off the terminal; an application that configures logging still sees it.
logging.getLogger("sqlglot").addHandler(logging.NullHandler())

__all__ = ["WRITES", "parse", "refuse_writes", "single"]

#: Statements that would change the database or the files around it.
WRITES: Final[dict[type[exp.Expr], str]] = {
    exp.Insert: "INSERT",
    exp.Update: "UPDATE",
    exp.Delete: "DELETE",
    exp.Merge: "MERGE",
    exp.Create: "CREATE",
    exp.Drop: "DROP",
    exp.Alter: "ALTER",
    exp.Copy: "COPY",
    exp.TruncateTable: "TRUNCATE",
}


def parse(
    read: Dialect,
    sql: str,
    language: str,
    screen: Callable[[list[Any]], None] | None = None,
) -> tuple[list[exp.Expr], str]:
    """The statements of ``sql`` in the dialect ``read`` and the text's first word (what a
    refusal names). ``screen`` sees the tokens first (to refuse or rename some).
    A syntax error says where, and that the text is not valid ``language``."""
    tokens: list[Any] = []
    try:
        tokens = read.tokenize(sql)
        if screen is not None:
            screen(tokens)
        statements = read.parser().parse(tokens, sql)
    except ParseError as exc:
        where = exc.errors[0] if exc.errors else {}
        near = where.get("highlight") or (tokens[0].text if tokens else "")
        raise QueryError(
            f"syntax error at or near {near!r} (line {where.get('line', '?')}, column "
            f"{where.get('col', '?')}): the query is not valid {language}"
        ) from None
    except TokenError as exc:
        raise QueryError(f"syntax error: {exc}") from None
    return [s for s in statements if s is not None], (tokens[0].text.upper() if tokens else "")


def single(statements: list[exp.Expr], what: str) -> exp.Expr:
    """The one statement of a text that must hold one; ``what`` names who runs it."""
    if not statements:
        raise UnsupportedQuery(
            "the query is empty (nothing but blanks or comments); write one SELECT statement"
        )
    if len(statements) > 1:
        raise UnsupportedQuery(
            f"the query has several statements ({len(statements)}); "
            f"{what} runs one SELECT per query"
        )
    return statements[0]


def refuse_writes(tree: exp.Expr, what: str) -> None:
    """Raise :class:`PermissionDenied` when ``tree`` would write (``what`` is read-only)."""
    for kind, word in WRITES.items():
        if isinstance(tree, kind):
            raise PermissionDenied(f"{what} is read-only: {word} is refused")
