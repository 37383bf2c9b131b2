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
- ``DATE_SUB``/``DATE_ADD`` give a DATE (DuckDB's date minus interval is a timestamp);
- ``EXTRACT(DAYOFWEEK ...)`` counts Sunday as 1;
- unnamed output columns are named as BigQuery names them: a column (or a struct field)
  by its last name, anything else ``f0_``, ``f1_``...;
- the project part of a table name (``moz-fx-data-shared-prod``, ``mozdata``) is dropped, so
  ``dataset.table`` is looked up in the served file.
"""

from __future__ import annotations

import functools
from typing import Final

from sqlglot import exp
from sqlglot.dialects.bigquery import BigQuery
from sqlglot.dialects.duckdb import DuckDB

from ..errors import UnsupportedQuery
from .sqlcommon import parse, refuse_writes, single

__all__ = ["PROJECTS", "translate"]

#: Projects whose datasets the served file holds: Mozilla's shared production project and
#: ``mozdata``, the project analysts query it through.
PROJECTS: Final = frozenset({"moz-fx-data-shared-prod", "mozdata"})

_WHO: Final = "the telemetry data source"


class _DuckDB(DuckDB):
    # The emulator's connection sorts NULLs as PostgreSQL does (last ascending, first
    # descending): telling the writer so makes it spell out BigQuery's order on every key.
    NULL_ORDERING = "nulls_are_large"


_READ: Final = BigQuery()
_WRITE: Final = _DuckDB()


def _float_div(left: exp.Expr, right: exp.Expr) -> exp.Expr:
    return exp.Div(this=exp.cast(left, "DOUBLE"), expression=right)


def _rewrite(tree: exp.Expr) -> exp.Expr:
    def fix(node: exp.Expr) -> exp.Expr:
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
        if isinstance(node, exp.DateSub | exp.DateAdd):
            return exp.cast(node, "DATE")
        if (
            isinstance(node, exp.Extract)
            and node.this.name.upper() == "DAYOFWEEK"
            and not node.meta.get("thsources_done")
        ):
            node.meta["thsources_done"] = True
            return exp.Paren(this=exp.Add(this=node, expression=exp.Literal.number(1)))
        return node

    _name_columns(tree)
    return tree.transform(fix, copy=False)


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
    return _WRITE.generate(_rewrite(tree), copy=False)
