"""SQL text handling the Redash server does around a query: hashing, auto-limit, error texts.

Each function mirrors one piece of Redash (or of the database client it uses) closely enough that
a client sees the same cache keys, the same ``LIMIT 1000`` rewriting and the same error strings
as on a real server: in particular a PostgreSQL error carries libpq's ``LINE n:`` excerpt, which
shows the ``/* Username: ... */`` annotation the runner prepends, so clients must cope with it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Final

__all__ = [
    "annotate",
    "apply_auto_limit",
    "combine_statements",
    "database_error",
    "gen_query_hash",
    "libpq_error_position",
]

_COMMENTS_RE: Final = re.compile(r"/\*.*?\*/")

# Tokens as sqlparse would split them, enough to find statements, comments and top-level words
# (like sqlparse: '# ' starts a comment and \' escapes a quote, whatever the database).
_TOKEN_RE: Final = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\r\n]*|\#\ [^\r\n]*|/\*[\s\S]*?(?:\*/|$))
  | (?P<string>[Ee]?'(?:''|\\'|[^'])*(?:'|$))
  | (?P<dollar>\$(?P<tag>[A-Za-z_]\w*)?\$[\s\S]*?(?:\$(?P=tag)\$|$))
  | (?P<ident>"(?:[^"]|"")*(?:"|$)|`[^`]*(?:`|$))
  | (?P<semi>;)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<word>[A-Za-z_][\w$]*)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)

# Words sqlparse reports as top-level keywords; only whether the last is LIMIT/OFFSET matters.
_KEYWORDS: Final = frozenset(
    {
        "ALL",
        "AND",
        "AS",
        "ASC",
        "BETWEEN",
        "BY",
        "CASE",
        "CROSS",
        "DESC",
        "DISTINCT",
        "ELSE",
        "END",
        "EXCEPT",
        "FETCH",
        "FIRST",
        "FOR",
        "FROM",
        "FULL",
        "GROUP",
        "HAVING",
        "ILIKE",
        "IN",
        "INNER",
        "INTERSECT",
        "IS",
        "JOIN",
        "LAST",
        "LATERAL",
        "LEFT",
        "LIKE",
        "LIMIT",
        "NATURAL",
        "NEXT",
        "NOT",
        "NULL",
        "NULLS",
        "OFFSET",
        "ON",
        "ONLY",
        "OR",
        "ORDER",
        "OUTER",
        "QUALIFY",
        "RETURNING",
        "RIGHT",
        "ROW",
        "ROWS",
        "SELECT",
        "THEN",
        "UNION",
        "UPDATE",
        "USING",
        "VALUES",
        "WHEN",
        "WHERE",
        "WINDOW",
        "WITH",
    }
)


def gen_query_hash(sql: str) -> str:
    """Redash's cache key: md5 of the text without ``/* */`` comments and without any whitespace."""
    sql = _COMMENTS_RE.sub("", sql)
    return hashlib.md5("".join(sql.split()).encode("utf-8"), usedforsecurity=False).hexdigest()


def _tokens(sql: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for m in _TOKEN_RE.finditer(sql):
        kind = m.lastgroup or "other"
        if kind == "tag":  # only the dollar group's inner name matched last
            kind = "dollar"
        out.append((kind, m.group(0)))
    return out


def _split_statements(sql: str) -> list[list[tuple[str, str]]]:
    statements: list[list[tuple[str, str]]] = [[]]
    for token in _tokens(sql):
        statements[-1].append(token)
        if token[0] == "semi":
            statements.append([])
    result: list[list[tuple[str, str]]] = []
    for stmt in statements:
        # Trailing comments and one trailing semicolon go; comment-only statements vanish.
        while stmt and stmt[-1][0] in ("ws", "comment"):
            stmt.pop()
        if stmt and stmt[-1][0] == "semi":
            stmt.pop()  # a comment before the semicolon stays, as with sqlparse
        while stmt and stmt[0][0] == "ws":
            stmt.pop(0)
        if any(kind not in ("ws", "comment") for kind, _ in stmt):
            result.append(stmt)
    return result


def _is_select_without_limit(stmt: list[tuple[str, str]]) -> bool:
    if not stmt or stmt[0][0] != "word" or stmt[0][1].upper() != "SELECT":
        return False
    depth = 0
    last_keyword = ""
    for kind, text in stmt:
        if kind == "open":
            depth += 1
        elif kind == "close":
            depth = max(0, depth - 1)
        elif kind == "word" and depth == 0 and text.upper() in _KEYWORDS:
            last_keyword = text.upper()
    return last_keyword not in ("LIMIT", "OFFSET")


def combine_statements(sql: str) -> str:
    """What every SQL runner does to a text, LIMIT or not (``split_sql_statements`` and back).

    Trailing comments and one trailing semicolon go from each statement, empty statements go,
    and the rest are joined with ``";\\n"``: ``SELECT 1; -- done`` runs (and is stored, and
    hashed) as ``SELECT 1``. A leading or mid-query comment stays.
    """
    statements = [("".join(text for _, text in stmt)).strip() for stmt in _split_statements(sql)]
    return ";\n".join(statements)


def apply_auto_limit(sql: str) -> str:
    """``LIMIT 1000`` on the last statement when it is a SELECT without LIMIT/OFFSET.

    Like Redash (``BaseSQLQueryRunner.apply_auto_limit``) the statements are re-joined with
    ``";\\n"`` after trailing comments and semicolons are dropped; a WITH query is never limited.
    """
    statements = [("".join(text for _, text in stmt)).strip() for stmt in _split_statements(sql)]
    if not statements:
        return ""
    last = _split_statements(statements[-1])
    if last and _is_select_without_limit(last[0]):
        statements[-1] = statements[-1] + " LIMIT 1000"
    return ";\n".join(statements)


def annotate(sql: str, metadata: dict[str, object]) -> str:
    """The comment the query runner prepends before sending SQL to the database."""
    annotation = ", ".join(f"{k}: {v}" for k, v in metadata.items())
    return f"/* {annotation} */ {sql}"


_DISPLAY_SIZE: Final = 60
_MIN_RIGHT_CUT: Final = 10


def libpq_error_position(query: str, position: int) -> str:
    """libpq's ``LINE n: ...`` excerpt and caret for a 0-based character ``position``.

    A port of ``reportErrorPosition`` (PostgreSQL ``fe-protocol3.c``) for single-width
    characters: 60 columns at most, cut on the right 10 columns past the error when possible.
    """
    if position < 0 or position > len(query):
        return ""
    line_no = 1
    ibeg = 0
    iend = -1
    for cno, ch in enumerate(query):
        if ch in "\r\n":
            if cno < position:
                if ch == "\r" or cno == 0 or query[cno - 1] != "\r":
                    line_no += 1
                ibeg = cno + 1
            else:
                iend = cno
                break
    if iend < 0:
        iend = len(query)
    text = query.replace("\t", " ")
    beg_trunc = end_trunc = False
    if iend - ibeg > _DISPLAY_SIZE:
        if ibeg + _DISPLAY_SIZE >= position + _MIN_RIGHT_CUT:
            iend = ibeg + _DISPLAY_SIZE
            end_trunc = True
        else:
            if position + _MIN_RIGHT_CUT < iend:
                iend = position + _MIN_RIGHT_CUT
                end_trunc = True
            if iend - ibeg > _DISPLAY_SIZE:
                ibeg = iend - _DISPLAY_SIZE
                beg_trunc = True
    prefix = f"LINE {line_no}: " + ("..." if beg_trunc else "")
    line = prefix + text[ibeg:iend] + ("..." if end_trunc else "")
    caret = " " * (len(prefix) + position - ibeg) + "^"
    return f"{line}\n{caret}\n"


_DUCKDB_PREFIX_RE: Final = re.compile(r"^[A-Z][A-Za-z ]* Error: ")
_DUCKDB_LINE_RE: Final = re.compile(r"\nLINE (\d+): (.*)\n( *)\^")


def _mapped(message: str, ran: str, query: str) -> int | None:
    """DuckDB's error position in ``ran`` (the SQL as translated for DuckDB), carried over to
    ``query`` (the text PostgreSQL would have seen) through the word found there."""
    position = _duckdb_position(message, ran)
    if position is None:
        return None
    word = re.match(r'"[^"]*"|\w+', ran[position:])
    if word is None:
        return None
    m = re.search(r"(?<![\w\"])" + re.escape(word[0]) + r"(?![\w\"])", query)
    return m.start() if m else None


def _duckdb_position(message: str, query: str) -> int | None:
    """Where DuckDB's own ``LINE n:`` excerpt points, as an offset into ``query``."""
    m = _DUCKDB_LINE_RE.search(message)
    if m is None:
        return None
    line_no, shown, pad = int(m[1]), m[2], len(m[3])
    column = pad - len(f"LINE {line_no}: ")
    if shown.startswith("..."):
        shown, column = shown[3:], column - 3
    if shown.endswith("..."):
        shown = shown[:-3]
    if column < 0 or not shown:
        return None
    lines = query.splitlines(keepends=True)
    starts = [0]
    for line in lines:
        starts.append(starts[-1] + len(line))
    candidates = []
    if 1 <= line_no <= len(lines):
        found = lines[line_no - 1].find(shown)
        if found >= 0:
            candidates.append(starts[line_no - 1] + found)
    found = query.find(shown)
    if found >= 0:
        candidates.append(found)
    return candidates[0] + column if candidates else None


_DUCKDB_NO_COLUMN: Final = re.compile(r'^Referenced column "?(.+?)"? not found in FROM clause!$')
_DUCKDB_NO_TABLE: Final = re.compile(r"^Table with name (\S+) does not exist!$")
_PG_REWRITES: Final = (
    (_DUCKDB_NO_COLUMN, 'column "{0}" does not exist'),
    (_DUCKDB_NO_TABLE, 'relation "{0}" does not exist'),
)
_MYSQL_REWRITES: Final = (
    (_DUCKDB_NO_COLUMN, "Unknown column '{0}' in 'SELECT'"),
    (_DUCKDB_NO_TABLE, "Table '{0}' doesn't exist"),
)


def database_error(message: str, query: str, dialect: str, ran: str | None = None) -> str:
    """Turn a DuckDB error into the text the Redash runner of ``dialect`` would report.

    PostgreSQL (``pg``) texts get the libpq ``LINE n:`` excerpt of the annotated query; MySQL
    texts are the bare message (``e.args[1]``). A few frequent DuckDB messages are reworded to
    the engine's own words; the rest keep DuckDB's wording without its ``Xxx Error:`` prefix.
    """
    first = _DUCKDB_PREFIX_RE.sub("", message.split("\n", 1)[0]).strip()
    if dialect == "bigquery":  # the API's error message, DuckDB's words (no excerpt)
        return first
    rewrites = _MYSQL_REWRITES if dialect == "mysql" else _PG_REWRITES
    for pattern, template in rewrites:
        m = pattern.match(first)
        if m:
            first = template.format(*m.groups())
            break
    if dialect == "mysql":
        return first
    position = _duckdb_position(message, query) if ran is None else _mapped(message, ran, query)
    excerpt = libpq_error_position(query, position) if position is not None else ""
    return f"{first}\n{excerpt}" if excerpt else first
