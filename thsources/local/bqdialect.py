"""BigQuery in, DuckDB out: the emulated telemetry data source's SQL dialect.

Mozilla's telemetry lives in BigQuery, and the queries people keep for it are BigQuery SQL:
backtick-quoted ``project.dataset.table`` names, ``DATE_SUB``, ``FORMAT_DATE``,
``SAFE_DIVIDE``, ``COUNTIF``, ``UNNEST``, ``INT64``/``FLOAT64``/``STRING``. The Redash
emulator's "Telemetry (BigQuery)" data source answers such text from a DuckDB file: sqlglot
reads it as BigQuery and writes DuckDB, and this module fixes what would otherwise come back
different from BigQuery's answer on the emulator's connection (which keeps PostgreSQL's
settings for the Treeherder data source beside it, see :data:`.pgdialect.SETTINGS`):

- ``/`` always divides as floats (the connection truncates integer division);
- ``ORDER BY`` puts NULLs first ascending and last descending, as BigQuery does;
- ``DATE_SUB``/``DATE_ADD``/``DATE_TRUNC`` give a DATE (DuckDB's are timestamps). They are
  meant for DATE values: given a TIMESTAMP, BigQuery's recent releases answer a TIMESTAMP and
  this still a DATE (TIMESTAMP_TRUNC is not run here);
- ``EXTRACT(DAYOFWEEK ...)`` counts Sunday as 1;
- ``TIMESTAMP_DIFF`` counts whole intervals (DuckDB's ``date_diff`` counts boundaries);
- unnamed output columns are named as BigQuery names them: a column (or a struct field)
  by its last name, anything else ``f0_``, ``f1_``...;
- the project part of a table name (``moz-fx-data-shared-prod``, ``mozdata``) is dropped, so
  ``dataset.table`` is looked up in the served file;
- a number written with a point or an exponent is a FLOAT64 (DuckDB would make it a DECIMAL),
  and NUMERIC is DuckDB's ``DECIMAL(38, 9)``, BigQuery's precision and scale;
- casts to INT64, STRING, BOOL, DATE and TIMESTAMP convert as BigQuery's do, by the value's
  type: a FLOAT64 rounds half away from zero, a text must be an integer, ``true``/``false`` or
  in a date or timestamp literal's format (else ``Bad int64 value: ...`` or a refusal, NULL
  for SAFE_CAST), and what BigQuery writes otherwise than
  DuckDB (a FLOAT64, NUMERIC or timestamp as STRING) is refused when the query runs;
- ``ROUND`` gives a FLOAT64 (DuckDB keeps integers integers; ROUND and AVG of a NUMERIC are
  refused), and
  ``CONCAT`` takes STRING values only, as BigQuery's (DuckDB's ``||`` converts the rest).

Only the functions of :data:`FUNCTIONS` run (with the date parts of :data:`UNITS`), and casts
only to the types of :data:`TYPES`: each is answered by a query of the BigQuery corpus
(``tests/bigquery_corpus``) exactly as BigQuery answers it. Anything else is refused with
:class:`~thsources.errors.UnsupportedQuery` naming it, rather than given DuckDB's answer to
whatever sqlglot made of it.
"""

from __future__ import annotations

import functools
import re
from typing import Final

import sqlglot
from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.dialects.duckdb import DuckDB

from ..errors import UnsupportedQuery
from .sqlcommon import parse, refuse_writes, single

__all__ = ["FORMAT_ELEMENTS", "FUNCTIONS", "PROJECTS", "TYPES", "UNITS", "translate"]

#: Projects whose datasets the served file holds: Mozilla's shared production project and
#: ``mozdata``, the project analysts query it through.
PROJECTS: Final = frozenset({"moz-fx-data-shared-prod", "mozdata"})

_WHO: Final = "the telemetry data source"

#: The BigQuery functions answered as BigQuery answers them (sqlglot's node -> BigQuery's
#: name), each run by a query of the BigQuery corpus. ``CASE``, ``IF`` and the operators
#: (``AND``, ``IN``, ``LIKE``, ``||``...) are not functions here and always run.
FUNCTIONS: Final[dict[type[exp.Expr], str]] = {
    exp.AnyValue: "ANY_VALUE",
    exp.Array: "ARRAY",  # [...] literals
    exp.Avg: "AVG",
    exp.Cast: "CAST",
    exp.Coalesce: "COALESCE",  # and IFNULL
    exp.Concat: "CONCAT",
    exp.Count: "COUNT",
    exp.CountIf: "COUNTIF",
    exp.Date: "DATE",
    exp.DateAdd: "DATE_ADD",
    exp.DateDiff: "DATE_DIFF",
    exp.DateSub: "DATE_SUB",
    exp.DateTrunc: "DATE_TRUNC",
    exp.Extract: "EXTRACT",
    exp.Lag: "LAG",
    exp.Lower: "LOWER",
    exp.Max: "MAX",
    exp.Min: "MIN",
    exp.RegexpExtract: "REGEXP_EXTRACT",
    exp.Round: "ROUND",
    exp.RowNumber: "ROW_NUMBER",
    exp.SafeDivide: "SAFE_DIVIDE",
    exp.Split: "SPLIT",
    exp.StartsWith: "STARTS_WITH",
    exp.StrToTime: "PARSE_TIMESTAMP",
    exp.Struct: "STRUCT",
    exp.Sum: "SUM",
    exp.TimeToStr: "FORMAT_DATE",
    exp.Timestamp: "TIMESTAMP",
    exp.TimestampDiff: "TIMESTAMP_DIFF",
    exp.TryCast: "SAFE_CAST",
    exp.TsOrDsToDate: "DATE",
    exp.Unnest: "UNNEST",
    exp.Upper: "UPPER",
}

#: The date parts each function takes here (others count or cut differently in DuckDB, as
#: ``EXTRACT(WEEK ...)``, which starts weeks on Monday).
UNITS: Final[dict[type[exp.Expr], frozenset[str]]] = {
    exp.DateAdd: frozenset({"DAY", "WEEK"}),
    exp.DateDiff: frozenset({"DAY"}),
    exp.DateSub: frozenset({"DAY", "WEEK"}),
    exp.DateTrunc: frozenset({"MONTH", "WEEK"}),
    exp.Extract: frozenset({"DAYOFWEEK", "YEAR", "MONTH", "DAY"}),
    exp.TimestampDiff: frozenset({"HOUR"}),
}

#: Types a CAST, SAFE_CAST or typed literal may name (BigQuery's names). DATETIME is not one:
#: DuckDB's timestamp stands for BigQuery's TIMESTAMP here, so it would come back as one.
TYPES: Final[dict[exp.DType, str]] = {
    exp.DType.BIGINT: "INT64",
    exp.DType.DOUBLE: "FLOAT64",
    exp.DType.TEXT: "STRING",
    exp.DType.BOOLEAN: "BOOL",
    exp.DType.DATE: "DATE",
    exp.DType.TIMESTAMPTZ: "TIMESTAMP",
    exp.DType.DECIMAL: "NUMERIC",
}

_NOT_LISTED: Final = (
    "it is not among the BigQuery functions the emulator answers exactly as BigQuery does "
    "(listed in docs/redash.md)"
)


class _DuckDB(DuckDB):
    # The emulator's connection sorts NULLs as PostgreSQL does (last ascending, first
    # descending): telling the writer so makes it spell out BigQuery's order on every key.
    NULL_ORDERING = "nulls_are_large"


_READ: Final = BigQuery()
_WRITE: Final = _DuckDB()


def _float_div(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.Div(this=exp.cast(left, "DOUBLE"), expression=right)


def _function_name(node: exp.Expr) -> str:
    """The name the query wrote the function with (a UDF's whole dotted path)."""
    if isinstance(node, exp.Anonymous):
        name = str(node.name)
        parent = node.parent
        while isinstance(parent, exp.Dot) and parent.expression is node:
            name = f"{parent.this.sql('bigquery')}.{name}"
            node, parent = parent, parent.parent
        return name
    if isinstance(node, exp.SafeFunc):
        return f"SAFE.{_function_name(node.this)}"
    name = node.sql("bigquery").split("(", 1)[0].strip().upper()
    if name in FUNCTIONS.values():  # a listed name, but another form of it: DATE(y, m, d)
        return node.sql("bigquery")
    return name


def _unit(node: exp.Expr) -> str:
    unit = node.this if isinstance(node, exp.Extract) else node.args.get("unit")
    if isinstance(unit, exp.WeekStart):
        return "WEEK" if unit.name.upper() == "SUNDAY" else f"WEEK({unit.name.upper()})"
    return unit.name.upper() if unit is not None else "DAY"


#: Format elements of FORMAT_DATE and PARSE_TIMESTAMP written alike by DuckDB's strftime and
#: strptime (``%e`` pads with a space in BigQuery, not in DuckDB; ``%Q`` is unknown to it).
FORMAT_ELEMENTS: Final = frozenset("YmdHMSA")


#: Clauses sqlglot passes on that would not give BigQuery's rows here.
_REFUSED_NODES: Final[dict[type[exp.Expr], str]] = {
    exp.TableSample: "TABLESAMPLE: its rows are random",
    exp.Version: "FOR SYSTEM_TIME AS OF: the served tables have no history",
    exp.Pivot: "PIVOT or UNPIVOT: it is not among the constructs known to agree with BigQuery",
}


def _check_format(node: exp.Expr) -> None:
    name = FUNCTIONS[type(node)]
    fmt = node.args.get("format")
    # sqlglot has already rewritten BigQuery's elements (%F is %Y-%m-%d, %e is %-d).
    if not (isinstance(fmt, exp.Literal) and fmt.is_string):
        raise UnsupportedQuery(f"{_WHO} does not run {name} with a computed format")
    if not set(re.findall(r"%(.)", fmt.name)) <= FORMAT_ELEMENTS:
        allowed = " ".join(f"%{c}" for c in sorted(FORMAT_ELEMENTS))
        raise UnsupportedQuery(
            f"{_WHO} does not run {name} with this format: the elements it answers as "
            f"BigQuery does are {allowed}"
        )


def _check(tree: exp.Expr) -> None:
    """Refuse any function, date part or type not known to be answered as BigQuery does."""
    for node in tree.walk():
        kind = type(node)
        if isinstance(node, exp.DataType) and isinstance(node.parent, exp.Cast | exp.TryCast):
            if node.this not in TYPES:
                raise UnsupportedQuery(
                    f"{_WHO} does not run a cast to {node.sql('bigquery')}: the types it "
                    f"answers as BigQuery does are {', '.join(TYPES.values())}"
                )
            continue
        refused = _REFUSED_NODES.get(kind)
        if refused is not None:
            raise UnsupportedQuery(f"{_WHO} does not run {refused}")
        if not isinstance(node, exp.Func) or isinstance(node, exp.Connector | exp.Case | exp.If):
            continue
        if isinstance(node, exp.Date | exp.Timestamp) and node.args.get("zone") is not None:
            raise UnsupportedQuery(
                f"{_WHO} does not run the function {node.sql('bigquery')}: {_NOT_LISTED}"
            )
        if isinstance(node, exp.WeekStart) and isinstance(node.parent, exp.DateTrunc):
            continue  # DATE_TRUNC's WEEK part, checked with it
        if isinstance(node, exp.Array) and any(isinstance(e, exp.Query) for e in node.expressions):
            raise UnsupportedQuery(f"{_WHO} does not run ARRAY(subquery): {_NOT_LISTED}")
        if kind not in FUNCTIONS:
            raise UnsupportedQuery(
                f"{_WHO} does not run the function {_function_name(node)}: {_NOT_LISTED}"
            )
        if isinstance(node, exp.TimeToStr | exp.StrToTime):
            _check_format(node)
        units = UNITS.get(kind)
        if units is not None and _unit(node) not in units:
            raise UnsupportedQuery(
                f"{_WHO} does not run {FUNCTIONS[kind]} with the part {_unit(node)}: "
                f"it answers as BigQuery does with {', '.join(sorted(units))}"
            )


_FLOATS: Final = "('DOUBLE', 'FLOAT')"
_EXACT_TEXT: Final = (
    "('VARCHAR', 'BIGINT', 'INTEGER', 'HUGEINT', 'SMALLINT', 'TINYINT', 'BOOLEAN', 'DATE', "
    "'\"NULL\"')"
)
_REFUSED_CAST: Final = (
    f"error('{_WHO} does not run a cast to {{0}} of a ' || typeof(__x) || ' value: "
    "BigQuery converts it otherwise')"
)

#: BigQuery's DATE and TIMESTAMP literal texts (a time zone as an offset, Z or UTC).
_DATE_TEXT: Final = "[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2}"
_TIME_TEXT: Final = (
    "([ Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}([.][0-9]{1,6})?)?"
    " ?(Z|z|UTC|[+-][0-9]{1,2}(:[0-9]{2})?)?"
)


def _braces(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")  # kept through str.format


#: DuckDB SQL for BigQuery's CAST(__x AS type), by the value's type (``typeof`` is known when
#: the query is planned): where DuckDB converts otherwise, it is done BigQuery's way or refused.
#: ``{cast}`` is CAST or TRY_CAST; ``{bad}`` what a text BigQuery cannot read gives (an error
#: for CAST, NULL for SAFE_CAST).
_CAST_TEMPLATES: Final[dict[exp.DType, str]] = {
    # FLOAT64 -> INT64 rounds half away from zero (DuckDB: half to even); a text must be an
    # integer in decimal digits (DuckDB reads '2.5' as 3); a hexadecimal one is refused.
    exp.DType.BIGINT: (
        f"CASE WHEN typeof(__x) IN {_FLOATS} "
        "THEN {cast}(round(TRY_CAST(__x AS DOUBLE)) AS BIGINT) "
        "WHEN typeof(__x) = 'VARCHAR' AND regexp_full_match(CAST(__x AS VARCHAR), "
        "'\\s*[+-]?0[xX].*') THEN "
        f"error('{_WHO} does not run a cast to INT64 of a hexadecimal text') "
        "WHEN typeof(__x) = 'VARCHAR' AND NOT regexp_full_match(CAST(__x AS VARCHAR), "
        "'[+-]?[0-9]+') THEN {bad_int} ELSE {cast}(__x AS BIGINT) END"
    ),
    # Texts of integers, booleans, dates and texts are alike; FLOAT64, NUMERIC and timestamps
    # are written otherwise by BigQuery (1.0 is '1'), so refused.
    exp.DType.TEXT: (
        f"CASE WHEN typeof(__x) IN {_EXACT_TEXT} THEN CAST(__x AS VARCHAR) "
        f"ELSE {_REFUSED_CAST.format('STRING')} END"
    ),
    # Only 'true' and 'false' (any case) are booleans to BigQuery (DuckDB also reads 't',
    # 'yes', '1'...); a FLOAT64 or NUMERIC has no BOOL.
    exp.DType.BOOLEAN: (
        f"CASE WHEN typeof(__x) IN {_FLOATS} OR typeof(__x) LIKE 'DECIMAL%' "
        f"THEN {_REFUSED_CAST.format('BOOL')} "
        "WHEN typeof(__x) = 'VARCHAR' AND lower(CAST(__x AS VARCHAR)) NOT IN ('true', 'false') "
        "THEN {bad_bool} ELSE CAST(__x AS BOOLEAN) END"
    ),
    # DuckDB also reads '2026/10/01' and '2026-10-01 12:00:00' as dates; BigQuery reads its
    # literal formats only (an unreadable text fails, or is NULL for SAFE_CAST).
    exp.DType.DATE: (
        "CASE WHEN typeof(__x) = 'VARCHAR' AND NOT regexp_full_match(CAST(__x AS VARCHAR), "
        f"'{_braces(_DATE_TEXT)}') THEN {{bad_date}} ELSE {{cast}}(__x AS DATE) END"
    ),
    exp.DType.TIMESTAMPTZ: (
        "CASE WHEN typeof(__x) = 'VARCHAR' AND NOT regexp_full_match(CAST(__x AS VARCHAR), "
        f"'{_braces(_DATE_TEXT + _TIME_TEXT)}') THEN {{bad_timestamp}} "
        "ELSE {cast}(__x AS TIMESTAMPTZ) END"
    ),
}
_CHECKED_CASTS: Final = frozenset(_CAST_TEMPLATES)


_NUMBERS: Final = "('DOUBLE', 'FLOAT', 'BIGINT', 'INTEGER', 'HUGEINT', 'SMALLINT', 'TINYINT')"
_TEXTS: Final = "('VARCHAR', '\"NULL\"')"


def _duckdb(template: str, **values: exp.Expr) -> exp.Expr:
    """``template`` (DuckDB SQL) with each column ``__name`` replaced by a copy of ``name``."""
    built = sqlglot.parse_one(template, read="duckdb")
    for column in list(built.find_all(exp.Column)):
        value = values.get(column.name.removeprefix("__"))
        if column.name.startswith("__") and value is not None:
            column.replace(value.copy())
    return exp.Paren(this=built)


def _checked_round(node: exp.Round) -> exp.Expr:
    """BigQuery's ROUND of an INT64 or FLOAT64 is a FLOAT64 (DuckDB keeps integers integers);
    of a NUMERIC a NUMERIC, which is refused here, as is any other type."""
    digits = node.args.get("decimals")
    call = "round(CAST(__x AS DOUBLE), __n)" if digits is not None else "round(CAST(__x AS DOUBLE))"
    refused = (
        f"error('{_WHO} does not run ROUND of a ' || typeof(__x) || ' value: "
        "it answers as BigQuery does for INT64 and FLOAT64')"
    )
    template = f"CASE WHEN typeof(__x) NOT IN {_NUMBERS} THEN {refused} ELSE {call} END"
    return _duckdb(template, x=node.this, **({"n": digits} if digits is not None else {}))


def _checked_concat(node: exp.Concat) -> exp.Expr:
    """BigQuery's CONCAT takes texts only (DuckDB's ``||`` casts whatever it is given)."""
    args = {f"a{i}": arg for i, arg in enumerate(node.expressions)}
    whens = " ".join(
        f"WHEN typeof(__{name}) NOT IN {_TEXTS} THEN error('{_WHO} does not run CONCAT of a ' "
        f"|| typeof(__{name}) || ' value: BigQuery''s CONCAT takes STRING values (CAST them)')"
        for name in args
    )
    built = _duckdb(f"CASE {whens} ELSE NULL END", **args)
    case = built.this
    case.set("default", node.copy())
    return built


def _unreadable(text: str, kind: str, formats: str) -> str:
    """DuckDB SQL failing with a refusal that quotes the text."""
    quote = "''''"  # one quote, as a DuckDB string literal
    return (
        f"error('{_WHO} does not read ' || {quote} || {text} || {quote} || ' as a {kind}: "
        f"BigQuery reads {formats} texts')"
    )


def _checked_cast(node: exp.Cast) -> exp.Expr:
    """BigQuery's CAST/SAFE_CAST of ``node.this`` as DuckDB SQL that converts alike."""
    safe = isinstance(node, exp.TryCast)
    kind = node.to.this
    text = "CAST(__x AS VARCHAR)"
    template = _CAST_TEMPLATES[kind].format(
        cast="TRY_CAST" if safe else "CAST",
        bad_int="NULL" if safe else f"error('Bad int64 value: ' || {text})",
        bad_bool="NULL" if safe else f"error('Bad bool value: ' || {text})",
        bad_date="NULL" if safe else _unreadable(text, "DATE", "YYYY-M-D"),
        bad_timestamp="NULL"
        if safe
        else _unreadable(text, "TIMESTAMP", "YYYY-M-D[ H:M:S[.F]][ zone offset, Z or UTC]"),
    )
    return _duckdb(template, x=node.this)


def _rewrite(tree: exp.Expr) -> exp.Expr:
    def fix(node: exp.Expr) -> exp.Expr:
        if (
            isinstance(node, exp.Literal)
            and not node.is_string
            and any(c in node.this for c in ".eE")
        ):
            return exp.cast(node.copy(), "DOUBLE")  # BigQuery's 1.5 is a FLOAT64
        if isinstance(node, exp.Cast | exp.TryCast) and node.to.this in _CHECKED_CASTS:
            return _checked_cast(node)
        if isinstance(node, exp.Round):
            return _checked_round(node)
        if isinstance(node, exp.Avg):
            # BigQuery's AVG of a NUMERIC is a NUMERIC, DuckDB's a DOUBLE: refused, per row
            # (typeof inside the aggregate, so it binds in any GROUP BY or window).
            refused = (
                f"CASE WHEN typeof(__x) LIKE 'DECIMAL%' THEN error('{_WHO} does not run AVG "
                "of a NUMERIC value: it answers as BigQuery does for INT64 and FLOAT64') "
                "ELSE __x END"
            )
            node.set("this", _duckdb(refused, x=node.this))
            return node
        if isinstance(node, exp.Concat):
            return _checked_concat(node)
        if isinstance(node, exp.DPipe):  # a || b is CONCAT(a, b) in BigQuery
            return _checked_concat(exp.Concat(expressions=[node.this, node.expression]))
        if isinstance(node, exp.DataType) and node.this == exp.DType.DECIMAL:
            return exp.DataType.build("DECIMAL(38, 9)")
        if isinstance(node, exp.Table):
            catalog = node.args.get("catalog")
            if catalog is not None:
                if catalog.name.lower() not in PROJECTS:
                    raise UnsupportedQuery(
                        f"Not found: Project {catalog.name}: {_WHO} serves the datasets of "
                        f"{', '.join(sorted(PROJECTS))}"
                    )
                node.set("catalog", None)
            return node
        if isinstance(node, exp.TimestampDiff):
            # BigQuery counts whole intervals between the two (01:00 - 00:00:01 is 0 hours);
            # DuckDB's date_diff counts boundaries crossed, its date_sub whole intervals.
            return exp.Anonymous(
                this="date_sub",
                expressions=[exp.Literal.string(_unit(node).lower()), node.expression, node.this],
            )
        if isinstance(node, exp.SafeDivide):
            right = node.expression
            return exp.Case(
                ifs=[
                    exp.If(
                        this=exp.EQ(this=right.copy(), expression=exp.Literal.number(0)),
                        true=exp.null(),
                    )
                ],
                default=_float_div(node.this, right),
            )
        if isinstance(node, exp.Div):
            return _float_div(node.this, node.expression)
        if isinstance(node, exp.DateSub | exp.DateAdd | exp.DateTrunc):
            return exp.cast(node, "DATE")  # DuckDB's are timestamps
        if isinstance(node, exp.Extract) and node.this.name.upper() == "DAYOFWEEK":
            return exp.Paren(this=exp.Add(this=node.copy(), expression=exp.Literal.number(1)))
        return node

    _name_columns(tree)
    # Children first (a pre-order transform would skip what is inside a replaced node, as the
    # division in SAFE_DIVIDE(a / b, c)); nodes made here are not visited again.
    for node in reversed(list(tree.walk())):
        new = fix(node)
        if new is not node:
            if node is tree:
                tree = new
            else:
                node.replace(new)
    return tree


def _name_columns(tree: exp.Expr) -> None:
    """Alias each unnamed output column with BigQuery's name for it."""
    for select in tree.find_all(exp.Select):
        projections = select.expressions
        anonymous = 0
        for i, projection in enumerate(projections):
            if isinstance(projection, exp.Alias | exp.Star):
                continue
            if isinstance(projection, exp.Column):
                if isinstance(projection.this, exp.Star) or not projection.table:
                    continue  # DuckDB names it alike
                name = projection.name
            elif isinstance(projection, exp.Dot):
                name = projection.name
            else:
                name = f"f{anonymous}_"
                anonymous += 1
            projections[i] = exp.alias_(projection, name, quoted=True)
        select.set("expressions", projections)


@functools.lru_cache(maxsize=256)
def translate(sql: str) -> str:
    """The DuckDB SQL that answers BigQuery ``sql`` as BigQuery would on the served tables.

    One SELECT per text; writes are refused (:class:`~thsources.errors.PermissionDenied`),
    as is a project other than :data:`PROJECTS`.
    """
    statements, first_word = parse(_READ, sql, "BigQuery SQL")
    tree = single(statements, _WHO)
    refuse_writes(tree, _WHO)
    if not isinstance(tree, exp.Query):
        raise UnsupportedQuery(f"{_WHO} does not run {first_word}: only SELECT queries run here")
    _check(tree)
    return _WRITE.generate(_rewrite(tree), copy=False)
