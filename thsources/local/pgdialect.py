"""PostgreSQL in, DuckDB out: the local source's SQL dialect.

The local sample stands in for the Treeherder replica, which is PostgreSQL; SQL written on the
sample must run unchanged on the replica and give the same answer. So the text is parsed as
PostgreSQL (sqlglot), anything PostgreSQL would refuse or DuckDB cannot answer the same way is
refused with :class:`UnsupportedQuery` naming the construct, and the rest is written out as the
DuckDB SQL that gives PostgreSQL's answer: its output column names, its result types where the
canonical type would differ, the sample's clock for ``now()``.

Some of PostgreSQL's semantics come from the connection rather than the text
(:data:`SETTINGS`: integer division, NULL ordering, UTC); :func:`configure` applies them and
:func:`translate` assumes them.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterable
from typing import Any, Final

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB
from sqlglot.dialects.postgres import Postgres
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import TokenType

from ..errors import UnsupportedQuery
from .schema import TABLES
from .sqlcommon import parse, refuse_writes

__all__ = ["SETTINGS", "configure", "output_name", "sample_clock", "translate"]

#: DuckDB settings that give PostgreSQL's semantics for what the SQL text does not say:
#: ``/`` on two integers truncates (and division by zero is an error), NULLs sort last
#: ascending and first descending, and timestamps with a time zone are shown in UTC.
SETTINGS: Final[tuple[tuple[str, str], ...]] = (
    ("integer_division", "true"),
    ("default_null_order", "'nulls_last_on_asc_first_on_desc'"),
    ("TimeZone", "'UTC'"),
)


def configure(connection: Any) -> None:
    """Apply :data:`SETTINGS` to a DuckDB connection (before any lock_configuration)."""
    for name, value in SETTINGS:
        connection.execute(f"SET GLOBAL {name} = {value}")


def sample_clock(connection: Any) -> dt.datetime | None:
    """The instant ``now()`` answers on a database: its latest push, None without pushes.

    The sample ends on a fixed date, so SQL relative to the wall clock would find nothing;
    the latest push is also what the named queries' ``until`` defaults to.
    """
    import duckdb

    try:
        row = connection.execute("SELECT max(time) FROM push").fetchone()
    except duckdb.Error:
        return None
    value = row[0] if row else None
    return value if isinstance(value, dt.datetime) else None


class _PG(Postgres):
    ORIGINAL_NAME_META_KEY = "pg_name"


_READ: Final = _PG()
_WRITE: Final = DuckDB()

# Functions parsed under another name, so their arguments reach the translation as written
# (sqlglot rewrites to_char's format approximately and forgets date_part's name).
_RENAMED: Final = {"TO_CHAR": "thsources_to_char", "DATE_PART": "thsources_date_part"}
# Tokens after which "[" subscripts something (an array, a column, a type); anywhere else it
# opens DuckDB's list literal.
_SUBSCRIPTABLE: Final = frozenset(
    {
        *PostgresParser.ID_VAR_TOKENS,
        *PostgresParser.TYPE_TOKENS,
        TokenType.R_PAREN,
        TokenType.R_BRACKET,
        TokenType.IDENTIFIER,
        TokenType.VAR,
    }
) - {
    # Keywords that may name a column but, before "[", are operators or clause words.
    TokenType.IN, TokenType.ANY, TokenType.ALL, TokenType.SOME, TokenType.IS, TokenType.CASE,
    TokenType.ESCAPE, TokenType.EXISTS, TokenType.LIMIT, TokenType.OFFSET, TokenType.UNION,
    TokenType.DESC, TokenType.ASC, TokenType.COLLATE, TokenType.DEFAULT, TokenType.OVERLAPS,
}  # fmt: skip
# Tokens after which FROM starts a query (DuckDB's FROM-first syntax).
_QUERY_START: Final = frozenset(
    {TokenType.L_PAREN, TokenType.SEMICOLON, TokenType.UNION, TokenType.INTERSECT,
     TokenType.EXCEPT, TokenType.ALL}
)  # fmt: skip


def _screen(tokens: list[Any]) -> None:
    """Refuse DuckDB syntax sqlglot accepts in every dialect; rename :data:`_RENAMED`."""
    previous: Any = None
    before: Any = None
    for i, token in enumerate(tokens):
        kind = token.token_type
        if kind == TokenType.FROM and (
            previous is None
            or (
                previous.token_type in _QUERY_START
                and not (before is not None and before.text.upper() == "TRIM")
            )
        ):
            raise UnsupportedQuery(
                "FROM before SELECT is DuckDB syntax, not PostgreSQL: write SELECT ... FROM ..."
            )
        if kind == TokenType.L_BRACE:
            raise _refuse("a struct literal {...}", "it is DuckDB syntax")
        if kind == TokenType.L_BRACKET and (
            previous is None or previous.token_type not in _SUBSCRIPTABLE
        ):
            raise _refuse("a list literal [...]", "it is DuckDB syntax; write ARRAY[...]")
        renamed = _RENAMED.get(token.text.upper())
        if (
            renamed
            and i + 1 < len(tokens)
            and tokens[i + 1].token_type == TokenType.L_PAREN
            and (previous is None or previous.token_type != TokenType.DOT)
        ):
            token.text = renamed
        before, previous = previous, token


# --- what is accepted -------------------------------------------------------------------------

#: Syntax nodes whose DuckDB rendering means what it means in PostgreSQL.
_NODES: Final[frozenset[type[exp.Expr]]] = frozenset(
    {
        exp.Select, exp.Union, exp.Intersect, exp.Except, exp.With, exp.CTE, exp.Subquery,
        exp.From, exp.Join, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered,
        exp.Limit, exp.Offset, exp.Fetch, exp.Distinct, exp.Window, exp.WindowSpec,
        exp.Column, exp.Identifier, exp.Table, exp.TableAlias, exp.Alias, exp.Star,
        exp.Literal, exp.Boolean, exp.Null, exp.Paren, exp.Tuple, exp.Values, exp.DataType,
        exp.DataTypeParam, exp.Var, exp.Interval, exp.Cast, exp.Bracket, exp.Filter,
        exp.WithinGroup, exp.Lateral, exp.LimitOptions,
        exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not,
        exp.Is, exp.In, exp.Between, exp.Like, exp.ILike, exp.RegexpLike, exp.RegexpILike,
        exp.NullSafeEQ, exp.NullSafeNEQ, exp.Exists, exp.Any, exp.All,
        exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg, exp.Pow, exp.DPipe,
        exp.Case, exp.If, exp.JSONExtract, exp.JSONExtractScalar, exp.JSONPath,
        exp.JSONPathKey, exp.JSONPathRoot, exp.JSONPathSubscript, exp.Array,
    }
)  # fmt: skip

#: Functions sqlglot knows, by class, whose DuckDB rendering gives PostgreSQL's answer.
_FUNCS: Final[frozenset[type[exp.Expr]]] = frozenset(
    {
        exp.Count, exp.Sum, exp.Avg, exp.Min, exp.Max, exp.ArrayAgg, exp.GroupConcat,
        exp.Stddev, exp.StddevSamp, exp.StddevPop, exp.Variance, exp.VariancePop,
        exp.LogicalAnd, exp.LogicalOr, exp.PercentileCont, exp.PercentileDisc,
        exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile, exp.Lag, exp.Lead,
        exp.FirstValue, exp.LastValue, exp.CumeDist, exp.PercentRank,
        exp.Abs, exp.Ceil, exp.Floor, exp.Round, exp.Trunc, exp.Sqrt, exp.Ln, exp.Exp,
        exp.Sign, exp.Upper, exp.Lower, exp.Length, exp.Substring, exp.Left, exp.Right,
        exp.Replace, exp.StrPosition, exp.Concat, exp.ConcatWs, exp.Trim, exp.Pad,
        exp.SplitPart, exp.StringToArray, exp.RegexpReplace, exp.ArrayToString,
        exp.ArraySize, exp.Unnest, exp.ExplodingGenerateSeries, exp.GenerateSeries,
        exp.TimestampTrunc, exp.DateTrunc, exp.Extract, exp.UnixToTime,
        exp.CurrentTimestamp, exp.CurrentDate, exp.Localtimestamp, exp.Coalesce,
        exp.Nullif, exp.Greatest, exp.Least, exp.JSONArrayAgg, exp.Date, exp.Explode,
        exp.MD5, exp.Reverse, exp.Repeat, exp.StartsWith,
    }
)  # fmt: skip

#: Functions sqlglot does not know (by lowercase name) and their DuckDB spelling.
_ANONYMOUS: Final[dict[str, str]] = {
    "cardinality": "len",
    "json_build_object": "json_object",
    "jsonb_build_object": "json_object",
    "jsonb_agg": "to_json",
    "thsources_to_char": "strftime",
    "thsources_date_part": "date_part",
    "md5": "md5",
    "reverse": "reverse",
    "repeat": "repeat",
    "starts_with": "starts_with",
    "char_length": "length",
    "character_length": "length",
    "mod": "mod",
    "power": "power",
}

#: Names users will recognise for nodes that are refused.
_NODE_NAMES: Final[dict[type[exp.Expr], str]] = {
    exp.Qualify: "QUALIFY",
    exp.Struct: "struct literal {...}",
    exp.TableSample: "SAMPLE / TABLESAMPLE",
    exp.Pivot: "PIVOT",
    exp.Lambda: "lambda ->",
    exp.Describe: "DESCRIBE",
    exp.Pragma: "PRAGMA",
    exp.Use: "USE",
    exp.Set: "SET",
    exp.Summarize: "SUMMARIZE",
    exp.Attach: "ATTACH",
    exp.Detach: "DETACH",
    exp.Install: "INSTALL",
}

# --- PostgreSQL's types, as far as the translation needs them ------------------------------

_SCHEMA_TYPES: Final = {
    "int": "int4",
    "bigint": "int8",
    "smallint": "int2",
    "varchar": "text",
    "text": "text",
    "tsvector": "tsvector",
    "boolean": "bool",
    "timestamp": "timestamp",
    "date": "date",
    "double": "float8",
    "json": "jsonb",
}
_COLUMN_TYPES: Final[dict[str, dict[str, str]]] = {
    t.name: {c.name: _SCHEMA_TYPES[c.base] for c in t.columns} for t in TABLES
}

_DTYPE_NAMES: Final[dict[Any, str]] = {
    exp.DType.SMALLINT: "int2",
    exp.DType.INT: "int4",
    exp.DType.BIGINT: "int8",
    exp.DType.DECIMAL: "numeric",
    exp.DType.DOUBLE: "float8",
    exp.DType.FLOAT: "float4",
    exp.DType.TEXT: "text",
    exp.DType.VARCHAR: "varchar",
    exp.DType.CHAR: "bpchar",
    exp.DType.BOOLEAN: "bool",
    exp.DType.DATE: "date",
    exp.DType.TIME: "time",
    exp.DType.TIMESTAMP: "timestamp",
    exp.DType.TIMESTAMPTZ: "timestamptz",
    exp.DType.INTERVAL: "interval",
    exp.DType.JSON: "json",
    exp.DType.JSONB: "jsonb",
}
_INTS: Final = frozenset({"int2", "int4", "int8"})
_PADDED: Final = frozenset({exp.DType.CHAR, exp.DType.NCHAR})
_FLOATS: Final = frozenset({"float4", "float8"})

#: PostgreSQL's own name for functions sqlglot parses without keeping the name.
_FUNC_NAMES: Final[dict[type[exp.Expr], str]] = {
    exp.Extract: "extract",
    exp.Substring: "substring",
    exp.StrPosition: "position",
    exp.Trim: "btrim",
    exp.GroupConcat: "string_agg",
    exp.CurrentDate: "current_date",
    exp.CurrentTimestamp: "current_timestamp",
    exp.Localtimestamp: "localtimestamp",
    exp.ExplodingGenerateSeries: "generate_series",
    exp.Case: "case",
    exp.Coalesce: "coalesce",
    exp.Nullif: "nullif",
    exp.Greatest: "greatest",
    exp.Least: "least",
    exp.Array: "array",
    exp.Exists: "exists",
    exp.JSONArrayAgg: "json_agg",
    exp.Explode: "unnest",
    exp.Date: "date",
}

# to_char template patterns that strftime renders identically (longest first), C locale.
_TO_CHAR: Final[tuple[tuple[str, str], ...]] = (
    ("YYYY", "%Y"),
    ("IYYY", "%G"),
    ("HH24", "%H"),
    ("HH12", "%I"),
    ("DDD", "%j"),
    ("Mon", "%b"),
    ("MM", "%m"),
    ("DD", "%d"),
    ("MI", "%M"),
    ("SS", "%S"),
    ("IW", "%V"),
    ("AM", "%p"),
    ("PM", "%p"),
    ("YY", "%y"),
    ("HH", "%I"),
)
_TO_CHAR_LITERAL: Final = re.compile(r"[ \-:/.,T_()]+")


_NOT_LISTED: Final = (
    "it is not among the PostgreSQL functions the sample answers exactly as PostgreSQL "
    "does (listed in docs/local.md)"
)


def _refuse(what: str, why: str = "") -> UnsupportedQuery:
    text = f"the local source does not run {what}"
    return UnsupportedQuery(text + (f": {why}" if why else ""))


def _func_name(node: exp.Expr) -> str:
    original = node.meta.get("pg_name") if node.meta else None
    if original:
        return str(original).lower()
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower().removeprefix("thsources_")
    return _FUNC_NAMES.get(type(node)) or type(node).__name__.lower()


# --- checks ------------------------------------------------------------------------------------


def _check(tree: exp.Expr, first_word: str, functions: frozenset[str]) -> None:
    """Raise for anything outside what is known to agree with PostgreSQL."""
    refuse_writes(tree, "the local source")
    if not isinstance(tree, exp.Query):
        raise _refuse(first_word, "only SELECT queries run on the sample")
    for node in tree.walk():
        kind = type(node)
        if kind in _CHECKED:
            _check_node(node)
        if kind in _NODES:
            continue
        if isinstance(node, exp.Anonymous):
            name = str(node.name).lower()
            if name not in _ANONYMOUS and name not in functions:
                raise _refuse(f"the function {name}()", _NOT_LISTED)
            continue
        if kind in _FUNCS:
            continue
        if isinstance(node, exp.Func):
            raise _refuse(f"the function {_func_name(node)}()", _NOT_LISTED)
        raise _refuse(_NODE_NAMES.get(kind, kind.__name__), "it is not PostgreSQL")


_CHECKED: Final = frozenset(
    {exp.Star, exp.Group, exp.Order, exp.Join, exp.Select, exp.Table, exp.JSONExtract,
     exp.Union, exp.Intersect, exp.Except,
     exp.JSONExtractScalar, exp.DataType, exp.LimitOptions, exp.Substring, exp.If}
)  # fmt: skip
_FIXED: Final = frozenset(
    {exp.CurrentTimestamp, exp.Localtimestamp, exp.CurrentDate, exp.Cast, exp.Anonymous,
     exp.JSONArrayAgg, exp.Extract, exp.Sum, exp.Round, exp.Ceil, exp.Floor, exp.Trunc,
     exp.Sign, exp.Date}
)  # fmt: skip


def _check_node(node: exp.Expr) -> None:
    if isinstance(node, exp.If) and not isinstance(node.parent, exp.Case):
        # A CASE branch is an If node; if(c, a, b) on its own is not PostgreSQL.
        raise _refuse("the function if()", _NOT_LISTED)
    if isinstance(node, exp.Star) and (node.args.get("except_") or node.args.get("replace")):
        raise _refuse("SELECT * EXCLUDE/REPLACE", "it is DuckDB syntax")
    start = node.args.get("start") if isinstance(node, exp.Substring) else None
    if isinstance(start, exp.Literal) and start.is_string:
        raise _refuse("substring(... FROM pattern)", "use regexp_replace or split_part")
    if isinstance(node, exp.LimitOptions) and (
        node.args.get("with_ties") or node.args.get("percent")
    ):
        raise _refuse("FETCH ... WITH TIES / PERCENT", "DuckDB cannot give the same rows")
    if isinstance(node, exp.Group) and node.args.get("all"):
        raise _refuse("GROUP BY ALL", "it is DuckDB syntax; name the columns")
    if isinstance(node, exp.Order) and any(
        isinstance(o.this, exp.Column) and o.this.name.upper() == "ALL" for o in node.expressions
    ):
        raise _refuse("ORDER BY ALL", "it is DuckDB syntax; name the columns")
    if isinstance(node, exp.Join):
        method = str(node.args.get("method") or "").upper()
        kind = str(node.args.get("kind") or "").upper()
        if method in ("ASOF", "POSITIONAL") or kind in ("ANTI", "SEMI", "ASOF", "POSITIONAL"):
            raise _refuse(f"{method or kind} JOIN", "it is DuckDB syntax")
    if isinstance(node, exp.SetOperation) and node.args.get("by_name"):
        raise _refuse("UNION BY NAME", "it is DuckDB syntax")
    if isinstance(node, exp.Select):
        for arg in ("qualify", "sample"):
            if node.args.get(arg):
                raise _refuse(arg.upper(), "it is DuckDB syntax")
    if isinstance(node, exp.Table) and node.args.get("sample"):
        raise _refuse("SAMPLE / TABLESAMPLE", "its rows are random")
    if isinstance(node, exp.JSONExtract | exp.JSONExtractScalar):
        path = node.expression
        if not isinstance(path, exp.JSONPath) or any(
            not isinstance(p, exp.JSONPathRoot | exp.JSONPathKey | exp.JSONPathSubscript)
            for p in path.expressions
        ):
            raise _refuse("-> or ->> with a computed key", "use a constant key or index")
    if (
        isinstance(node, exp.DataType)
        and node.this not in _DTYPE_NAMES
        and not node.is_type(exp.DType.ARRAY, exp.DType.UNKNOWN)
    ):
        raise _refuse(f"the type {node.sql('postgres')}", "it has no DuckDB counterpart here")


# --- types ---------------------------------------------------------------------------------


class _Types:
    """PostgreSQL's type of an expression, as far as tables, casts and functions tell it."""

    def __init__(self, tree: exp.Expr) -> None:
        self._tree = tree
        self._cte_map: dict[str, exp.Query] | None = None
        self._resolving: set[tuple[int, str]] = set()

    @property
    def _ctes(self) -> dict[str, exp.Query]:
        if self._cte_map is None:
            self._cte_map = {c.alias_or_name: c.this for c in self._tree.find_all(exp.CTE)}
        return self._cte_map

    def of(self, node: exp.Expr | None) -> str | None:
        if node is None:
            return None
        if isinstance(node, exp.Paren | exp.Alias | exp.Window | exp.Filter):
            return self.of(node.this)
        if isinstance(node, exp.Cast):
            return _pg_type(node.to)
        if isinstance(node, exp.Literal):
            if node.is_string:
                return "unknown"
            text = node.this
            if re.fullmatch(r"\d+", text):
                return "int4" if int(text) < 2**31 else "int8"
            return "numeric"
        if isinstance(node, exp.Neg):
            return self.of(node.this)
        if isinstance(node, exp.Column):
            return self._column(node)
        if isinstance(node, exp.Add | exp.Sub | exp.Mul | exp.Div | exp.Mod):
            return _arith(self.of(node.this), self.of(node.expression))
        if isinstance(node, exp.Count | exp.RowNumber | exp.Rank | exp.DenseRank):
            return "int8"
        if isinstance(node, exp.Sum):
            arg = self.of(node.this)
            return {"int2": "int8", "int4": "int8", "int8": "numeric"}.get(arg or "", arg)
        if isinstance(node, exp.Avg | exp.Stddev | exp.StddevSamp | exp.Variance):
            arg = self.of(node.this)
            return "float8" if arg in _FLOATS else ("numeric" if arg else None)
        if isinstance(node, exp.Min | exp.Max | exp.Abs | exp.Lag | exp.Lead | exp.FirstValue):
            return self.of(node.this)
        if isinstance(node, exp.Round | exp.Ceil | exp.Floor | exp.Trunc):
            arg = self.of(node.this)
            return "float8" if arg in _FLOATS else "numeric" if arg else None
        if isinstance(node, exp.Extract):
            return "numeric"
        if isinstance(node, exp.Subquery):
            query = node.this
            if isinstance(query, exp.Select) and query.selects:
                return self.of(query.selects[0])
        if isinstance(node, exp.Coalesce | exp.Greatest | exp.Least | exp.Nullif):
            return self.of(node.this)
        if isinstance(node, exp.Length | exp.StrPosition | exp.Ntile):
            return "int4"
        return None

    def _column(self, column: exp.Column) -> str | None:
        name = column.name
        select = column.find_ancestor(exp.Select)
        while select is not None:
            for source in _sources(select):
                if column.table and source.alias_or_name != column.table:
                    continue
                found = self._in_source(source, name)
                if found is not None:
                    return found
            select = select.find_ancestor(exp.Select)
        return None

    def _in_source(self, source: exp.Expr, name: str) -> str | None:
        if isinstance(source, exp.Table):
            cte = self._ctes.get(source.name)
            if cte is not None:
                return self._in_query(cte, name)
            return _COLUMN_TYPES.get(source.name, {}).get(name)
        if isinstance(source, exp.Subquery):
            return self._in_query(source.this, name)
        return None

    def _in_query(self, query: exp.Expr, name: str) -> str | None:
        key = (id(query), name)
        if key in self._resolving:  # a recursive CTE asking about itself
            return None
        self._resolving.add(key)
        try:
            return self._in_query_unguarded(query, name)
        finally:
            self._resolving.discard(key)

    def _in_query_unguarded(self, query: exp.Expr, name: str) -> str | None:
        while isinstance(query, exp.SetOperation):
            query = query.this
        if not isinstance(query, exp.Select):
            return None
        for projection in query.selects:
            star = isinstance(projection, exp.Star) or (
                isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star)
            )
            if star:
                for source in _sources(query):
                    table = projection.table if isinstance(projection, exp.Column) else ""
                    if table and source.alias_or_name != table:
                        continue
                    found = self._in_source(source, name)
                    if found is not None:
                        return found
            elif projection.alias_or_name == name:
                return self.of(projection)
        return None


def _sources(select: exp.Select) -> Iterable[exp.Expr]:
    from_ = select.args.get("from_")
    if from_ is not None:
        yield from_.this
    for join in select.args.get("joins") or ():
        yield join.this


def _pg_type(datatype: exp.Expr) -> str | None:
    if not isinstance(datatype, exp.DataType):
        return None
    if datatype.is_type(exp.DType.ARRAY):
        return "array"
    return _DTYPE_NAMES.get(datatype.this)


def _arith(left: str | None, right: str | None) -> str | None:
    if left is None or right is None:
        return None
    kinds = {left, right}
    if kinds <= _INTS:
        return "int8" if "int8" in kinds else "int4"
    if kinds & _FLOATS:
        return "float8"
    if "numeric" in kinds and kinds <= _INTS | {"numeric"}:
        return "numeric"
    return None


# --- rewriting ---------------------------------------------------------------------------------


def _double(node: exp.Expr) -> exp.Expr:
    return exp.Cast(this=node, to=exp.DataType.build("DOUBLE"))


def _rewrite(tree: exp.Expr, clock: dt.datetime | None) -> exp.Expr:
    types = _Types(tree)
    stamp = clock.replace(tzinfo=None).isoformat(sep=" ") if clock else None

    def fix(node: exp.Expr) -> exp.Expr:
        if type(node) not in _FIXED:
            return node
        if stamp is not None:
            if isinstance(node, exp.CurrentTimestamp):
                return exp.cast(exp.Literal.string(stamp + "+00"), "TIMESTAMPTZ")
            if isinstance(node, exp.Localtimestamp):
                return exp.cast(exp.Literal.string(stamp), "TIMESTAMP")
            if isinstance(node, exp.CurrentDate):
                return exp.cast(exp.Literal.string(stamp[:10]), "DATE")
        if isinstance(node, exp.Cast) and node.to.this == exp.DType.DECIMAL:
            params = node.to.expressions
            if not params:
                # DuckDB's bare DECIMAL is DECIMAL(18,3): it would round every value.
                node.set("to", exp.DataType.build("DOUBLE"))
            elif len(params) == 1 or params[1].name == "0":
                if params[0].name.isdigit() and int(params[0].name) > 18:
                    # Wider than a double's 15-17 digits: keep every digit, as DECIMAL(38,0)
                    # (an exact text column in the result), never a rounded float.
                    node.set("to", exp.DataType.build("DECIMAL(38, 0)"))
                    return node
                # numeric(p, 0) is still numeric (float) in PostgreSQL; DuckDB's is whole.
                return _double(node)
            return node
        if isinstance(node, exp.Sign):
            return _double(node)  # double precision or numeric in PostgreSQL
        if isinstance(node, exp.Date):
            if node.args.get("zone") or node.expressions:
                raise _refuse("date() with more than one argument")
            return exp.Cast(this=node.this, to=exp.DataType.build("DATE"))
        if isinstance(node, exp.Cast) and node.to.this in _PADDED:
            raise _refuse(f"a cast to {node.to.sql('postgres')}", "char(n) pads with blanks")
        if isinstance(node, exp.Cast) and node.to.this == exp.DType.VARCHAR and node.to.expressions:
            # PostgreSQL cuts a string cast to varchar(n) to n characters; DuckDB ignores n.
            length = node.to.expressions[0].this
            node.set("to", exp.DataType.build("VARCHAR"))
            return exp.Left(this=node, expression=length.copy())
        if isinstance(node, exp.Anonymous):
            name = str(node.name).lower()
            if name == "thsources_to_char":
                return _to_char(node)
            if name == "thsources_date_part":
                return _date_part(node)
            if name == "jsonb_agg":
                if len(node.expressions) != 1:
                    raise _refuse(f"{name}() with {len(node.expressions)} arguments")
                return _json_agg(node.expressions[0])
            if name in _ANONYMOUS:
                node.set("this", _ANONYMOUS[name])
            return node
        if isinstance(node, exp.JSONArrayAgg):
            return _json_agg(node.this)
        if isinstance(node, exp.Extract):
            return _double(node)
        if isinstance(node, exp.Sum) and types.of(node.this) in ("int8", "numeric"):
            node.meta["thsources_wrap"] = "double"
            return node
        if isinstance(node, exp.Round | exp.Ceil | exp.Floor | exp.Trunc):
            arg = types.of(node.this)
            if arg in _FLOATS:
                if isinstance(node, exp.Round) and node.args.get("decimals") is not None:
                    raise _refuse(
                        "round(double precision, integer)",
                        "PostgreSQL has no such function; cast the value to numeric first",
                    )
                if isinstance(node, exp.Round):
                    # float8 rounds half to even in PostgreSQL (rint), numeric half away from 0.
                    return exp.Anonymous(
                        this="round_even", expressions=[node.this, exp.Literal.number(0)]
                    )
                return node
            if arg == "numeric" or arg in _INTS:
                node.meta["thsources_wrap"] = "double"
        return node

    _name_columns(tree)
    tree = tree.transform(fix, copy=False)
    for node in list(
        tree.find_all(exp.Sum, exp.Round, exp.Ceil, exp.Floor, exp.Trunc, exp.ArrayAgg)
    ):
        wrap = node.meta.get("thsources_wrap")
        if wrap:
            # The wrapper goes around the whole aggregate: FILTER and OVER belong to it.
            outer: exp.Expr = node
            while isinstance(outer.parent, exp.Filter | exp.Window) and outer.arg_key == "this":
                outer = outer.parent
            outer.replace(
                _double(outer.copy())
                if wrap == "double"
                else exp.Anonymous(this=wrap, expressions=[outer.copy()])
            )
    return tree


def _json_agg(arg: exp.Expr) -> exp.Expr:
    """json_agg/jsonb_agg: DuckDB's json_group_array is a macro that cannot take ORDER BY."""
    node = exp.ArrayAgg(this=arg)
    node.meta["thsources_wrap"] = "to_json"
    return node


def _date_part(node: exp.Anonymous) -> exp.Expr:
    args = node.expressions
    if len(args) != 2 or not (isinstance(args[0], exp.Literal) and args[0].is_string):
        raise _refuse("date_part() without a constant field name")
    # PostgreSQL's date_part is float8; DuckDB's, an integer for most fields.
    return _double(exp.Extract(this=exp.var(str(args[0].this).upper()), expression=args[1]))


def _to_char(node: exp.Anonymous) -> exp.Expr:
    args = node.expressions
    if len(args) != 2 or not (isinstance(args[1], exp.Literal) and args[1].is_string):
        raise _refuse("to_char() without a constant format")
    template = str(args[1].this)
    out: list[str] = []
    i = 0
    while i < len(template):
        for pattern, code in _TO_CHAR:
            if template.startswith(pattern, i):
                out.append(code)
                i += len(pattern)
                break
        else:
            m = _TO_CHAR_LITERAL.match(template, i)
            if m is None:
                raise _refuse(
                    f"to_char() with the pattern {template[i:]!r}",
                    "only YYYY IYYY MM Mon DD DDD IW HH HH12 HH24 MI SS AM PM and "
                    "punctuation are rendered alike",
                )
            out.append(m.group(0).replace("%", "%%"))
            i = m.end()
    return exp.Anonymous(this="strftime", expressions=[args[0], exp.Literal.string("".join(out))])


# --- output names ------------------------------------------------------------------------------


def output_name(node: exp.Expr) -> str:
    """The name PostgreSQL gives an unnamed output column (its ``FigureColname`` rules)."""
    name, _ = _figure(node)
    return name


def _figure(node: exp.Expr) -> tuple[str, int]:
    """(name, strength): 2 a real name, 1 a type name, 0 ``?column?``."""
    if isinstance(node, exp.Alias):
        return node.alias, 2
    if node.meta and node.meta.get("pg_name"):
        return str(node.meta["pg_name"]).lower(), 2
    if isinstance(node, exp.Column):
        return node.name, 2
    if isinstance(node, exp.Paren):
        return _figure(node.this)
    if isinstance(node, exp.Cast):
        name, strength = _figure(node.this)
        if strength > 1:
            return name, strength
        typename = _pg_type(node.to)
        if typename == "array":
            typename = _pg_type(node.to.expressions[0]) if node.to.expressions else None
        return (typename or "?column?"), 1
    if isinstance(node, exp.Interval):
        return "interval", 1
    if isinstance(node, exp.Window | exp.Filter | exp.WithinGroup):
        return _figure(node.this)
    if isinstance(node, exp.Bracket):
        return _figure(node.this)
    if isinstance(node, exp.Subquery):
        query = node.this
        while isinstance(query, exp.SetOperation):
            query = query.this
        if isinstance(query, exp.Select) and query.selects:
            return _figure(query.selects[0])
        return "?column?", 0
    if isinstance(node, exp.Case | exp.Array | exp.Exists):
        return _FUNC_NAMES[type(node)], 2
    if isinstance(node, exp.Func) and not isinstance(node, exp.Binary):
        return _func_name(node), 2
    return "?column?", 0


def _name_columns(tree: exp.Expr) -> None:
    """Alias every unnamed computed output column with PostgreSQL's name for it."""
    for select in tree.find_all(exp.Select):
        projections = select.expressions
        for i, projection in enumerate(projections):
            if isinstance(projection, exp.Alias | exp.Column | exp.Star):
                continue
            projections[i] = exp.alias_(projection, output_name(projection), quoted=True)
        select.set("expressions", projections)


# --- entry point -------------------------------------------------------------------------------


def _parse(sql: str) -> tuple[list[exp.Expr], str]:
    """The statements and the query's first word (what a refusal names)."""
    return parse(_READ, sql, "PostgreSQL", _screen)


def _is_empty_array_literal(node: exp.Expr | None) -> bool:
    while isinstance(node, exp.Paren):
        node = node.this
    return isinstance(node, exp.Literal) and node.is_string and node.this == "{}"


def _empty_array_comparisons(tree: exp.Expr) -> exp.Expr:
    """Escape strings (E'...') become plain literals; ``x = ANY('{}')`` is false and
    ``x <> ALL('{}')`` true for every x, NULL included: the form the binder gives an empty
    list on PostgreSQL, where an empty subquery would be typed text. DuckDB cannot read '{}'
    as an array, so the answer is written out."""

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.ByteString):
            # E'...' (escape string): sqlglot has decoded it; DuckDB's plain literal holds
            # the same characters (the binder writes E'' for values with a backslash).
            return exp.Literal.string(node.this)
        if (
            isinstance(node, exp.EQ)
            and isinstance(node.expression, exp.Any)
            and _is_empty_array_literal(node.expression.this)
        ):
            return exp.false()
        if isinstance(node, exp.NEQ):
            right = node.expression
            if (
                isinstance(right, exp.Anonymous)
                and right.name.upper() == "ALL"
                and len(right.expressions) == 1
                and _is_empty_array_literal(right.expressions[0])
            ):
                return exp.true()
        return node

    return tree.transform(fix, copy=False)


@functools.lru_cache(maxsize=512)
def translate(
    sql: str,
    clock: dt.datetime | None = None,
    many: bool = False,
    functions: frozenset[str] = frozenset(),
) -> str:
    """The DuckDB SQL that answers PostgreSQL ``sql`` as PostgreSQL would.

    ``clock`` is what ``now()``, ``current_timestamp``, ``current_date`` and
    ``localtimestamp`` answer (None: DuckDB's own clock). One statement is expected unless
    ``many`` (the Redash emulator runs scripts as the PostgreSQL runner does). ``functions``
    names extra functions the connection defines itself (the emulator's ``pg_sleep``). The
    result is cached per text, since dashboards and named queries repeat the same SQL.
    """
    statements, first_word = _parse(sql)
    if not statements:
        raise UnsupportedQuery(
            "the query is empty (nothing but blanks or comments); write one SELECT statement"
        )
    if len(statements) > 1 and not many:
        raise UnsupportedQuery(
            f"the query has several statements ({len(statements)}); "
            "the local source runs one SELECT per query"
        )
    out = []
    for tree in statements:
        tree = _empty_array_comparisons(tree)
        _check(tree, first_word, functions)
        out.append(_WRITE.generate(_rewrite(tree, clock), copy=False))
    return ";\n".join(out)
