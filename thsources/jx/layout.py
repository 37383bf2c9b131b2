"""Treeherder's tables seen in ActiveData's field layout, over the sample's DuckDB schema.

ActiveData stored one document per job in its ``treeherder`` index, with dotted field names
(``run.result``, ``job.type.name``, ``repo.branch.name``, ``action.duration``) and times as
unix seconds; ``repo`` held one document per push. Queries written for it (adr's recipes,
mozci's) name those fields, so the layout is reproduced here as SQL over the Treeherder schema
of the embedded sample (or a history file of the same shape). A field ActiveData had but
Treeherder's schema cannot fill (``job_log``, ``etl``) is left out rather than faked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

from .evaluate import TableRef
from .expressions import JXError

if TYPE_CHECKING:
    import duckdb

__all__ = ["TABLES", "TIME_FIELDS", "resolve_table", "table_ref"]


def _epoch(column: str) -> str:
    """Unix seconds; Treeherder's epoch-0 "not known yet" times become null."""
    return f"CASE WHEN {column} > TIMESTAMP '1970-01-02' THEN epoch({column}) END"


_JOB_OPTIONS: Final = (
    "(SELECT string_agg(o.name, ' ' ORDER BY o.name) FROM option_collection oc "
    "JOIN option o ON o.id = oc.option_id "
    "WHERE oc.option_collection_hash = j.option_collection_hash)"
)

#: JX table name -> {dotted field: SQL expression}, and the FROM clause the fields read.
TABLES: Final[dict[str, tuple[dict[str, str], str]]] = {
    "treeherder": (
        {
            "job.id": "j.id",
            "job.guid": "j.guid",
            "job.type.name": "jt.name",
            "job.type.symbol": "jt.symbol",
            "job.type.group.name": "jg.name",
            "job.type.group.symbol": "jg.symbol",
            "run.taskcluster.id": "tm.task_id",
            "run.taskcluster.retry_id": "tm.retry_id",
            "run.result": "j.result",
            "run.state": "j.state",
            "run.tier": "j.tier",
            "run.reason": "j.reason",
            "run.machine.platform": "mp.platform",
            "run.machine.name": "m.name",
            "build.platform": "bp.platform",
            "build.type": _JOB_OPTIONS,
            "build.revision": "p.revision",
            "build.branch": "r.name",
            "repo.branch.name": "r.name",
            "repo.changeset.id": "p.revision",
            "repo.changeset.id12": "left(p.revision, 12)",
            "repo.push.id": "p.id",
            "repo.push.date": _epoch("p.time"),
            "repo.push.user": "p.author",
            "action.request_time": _epoch("j.submit_time"),
            "action.start_time": _epoch("j.start_time"),
            "action.end_time": _epoch("j.end_time"),
            "action.duration": (
                "CASE WHEN j.start_time > TIMESTAMP '1970-01-02' "
                "AND j.end_time > TIMESTAMP '1970-01-02' "
                "THEN epoch(j.end_time) - epoch(j.start_time) END"
            ),
            "failure.classification": "fc.name",
            "last_modified": _epoch("j.last_modified"),
        },
        "job j "
        "JOIN push p ON p.id = j.push_id "
        "JOIN repository r ON r.id = p.repository_id "
        "JOIN job_type jt ON jt.id = j.job_type_id "
        "JOIN job_group jg ON jg.id = j.job_group_id "
        "JOIN machine_platform mp ON mp.id = j.machine_platform_id "
        "JOIN build_platform bp ON bp.id = j.build_platform_id "
        "JOIN machine m ON m.id = j.machine_id "
        "JOIN failure_classification fc ON fc.id = j.failure_classification_id "
        "LEFT JOIN taskcluster_metadata tm ON tm.job_id = j.id",
    ),
    "repo": (
        {
            "branch.name": "r.name",
            "changeset.id": "p.revision",
            "changeset.id12": "left(p.revision, 12)",
            "changeset.author": "p.author",
            "push.id": "p.id",
            "push.date": _epoch("p.time"),
            "push.user": "p.author",
        },
        "push p JOIN repository r ON r.id = p.repository_id",
    ),
}

#: Fields holding unix seconds: the ``activedata`` and ``local`` sources give them as
#: UTC datetimes.
TIME_FIELDS: Final = frozenset(
    name
    for fields, _ in TABLES.values()
    for name in fields
    if name.endswith(("_time", ".date")) or name == "last_modified"
)


def table_sql(name: str) -> str:
    """The SELECT giving one ActiveData table's rows, with dotted column names."""
    fields, source = TABLES[name]
    cols = ", ".join(f'{sql} AS "{field}"' for field, sql in fields.items())
    return f"SELECT {cols} FROM {source}"


def table_ref(con: duckdb.DuckDBPyConnection, name: str) -> TableRef:
    """A :class:`TableRef` for one ActiveData table over the Treeherder schema in ``con``."""
    if name not in TABLES:
        raise JXError(f"{name!r} is not a known table; known tables are {', '.join(TABLES)}")
    sql = table_sql(name)
    described = con.execute(f"DESCRIBE {sql}").fetchall()
    columns = {row[0]: str(row[1]) for row in described}
    return TableRef(f"({sql})", columns)


def resolve_table(con: duckdb.DuckDBPyConnection) -> Callable[[str], TableRef]:
    """A table resolver for :class:`~thsources.jx.evaluate.Evaluator` over ``con``.

    ``treeherder.<nested>`` names a nested array, which this layout does not have: the error
    says so instead of answering about the wrong rows.
    """
    cache: dict[str, TableRef] = {}

    def resolve(name: str) -> TableRef:
        base, _, nested = name.partition(".")
        if base in TABLES and nested:
            raise JXError(f"{name!r}: the {base!r} table here has no nested arrays; query {base!r}")
        if name not in cache:
            cache[name] = table_ref(con, name)
        return cache[name]

    return resolve


def columns_of(con: duckdb.DuckDBPyConnection) -> Mapping[str, Mapping[str, str]]:
    """Every table's columns and DuckDB types (for ``meta.columns``)."""
    return {name: table_ref(con, name).columns for name in TABLES}
