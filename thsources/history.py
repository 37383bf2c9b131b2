"""History kept locally: append named queries' results to a DuckDB file, without duplicates.

Treeherder keeps its data for a limited time; a pull copies what a named query returns now
into a table of the local history store, skipping rows whose key (``key`` in the query's
``query.toml``) is already there, and records the pull (when, from which source, with which
parameters, how many rows) in the ``pulls`` table. Every history row carries the
``pull_id`` of the pull that added it. ``thsources.connect("history")`` queries the store
in PostgreSQL's SQL, like the ``local`` source.

The query runs before the store is locked (a remote query can take minutes); only the
write holds the lock, so two pulls at once both succeed, one after the other, and the
second skips what the first added.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from .catalog import NamedQuery, bind_params, get, run_named
from .errors import ConfigError, SourceUnavailable
from .local.history_store import PULLS_TABLE, check_table_name, default_path, locked
from .polling import check_timeout
from .result import Result
from .sources.base import DEFAULT_TIMEOUT, Source

__all__ = ["PULL_ID", "Pull", "pull"]

PULL_ID: Final = "pull_id"
"""The column every history table has after the query's own: the pull that added the row."""

_PULLS_DDL: Final = f"""\
CREATE TABLE IF NOT EXISTS {PULLS_TABLE} (
    pull_id BIGINT PRIMARY KEY,
    pulled_at TIMESTAMPTZ NOT NULL,
    query VARCHAR NOT NULL,
    params JSON NOT NULL,
    source VARCHAR NOT NULL,
    source_kind VARCHAR NOT NULL,
    into_table VARCHAR NOT NULL,
    rows_returned BIGINT NOT NULL,
    rows_added BIGINT NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Pull:
    """What one pull did."""

    pull_id: int
    table: str
    rows_returned: int
    rows_added: int
    path: Path


def pull(
    name: str,
    params: Mapping[str, Any] | None,
    source: Source,
    into: str,
    *,
    path: Path | None = None,
    timeout: float | None = None,
) -> Pull:
    """Run named query ``name`` on ``source`` and append its new rows to table ``into``.

    A row is new when no row of the table has the same values in the query's key columns
    (NULLs compare equal). The table is created on the first pull; a table whose columns
    differ from the query's is refused with ``ConfigError`` before anything is written.
    """
    query = get(name)
    table = check_table_name(into)
    if not query.key:
        raise ConfigError(
            f"named query {name!r} declares no key, so a pull could not tell new rows from "
            "old ones; add key = [...] (the columns that identify a row) to its query.toml"
        )
    if PULL_ID in {c.name for c in query.columns}:
        raise ConfigError(f"named query {name!r} has a column {PULL_ID!r}, which history adds")
    store = path or default_path()
    bound = bind_params(query, params)
    limit = check_timeout(timeout, DEFAULT_TIMEOUT)
    started = time.monotonic()
    result = run_named(name, source, bound, timeout=limit)
    arrow = _declared_table(query, result)
    left = max(limit - (time.monotonic() - started), 0.001)
    with locked(store, exclusive=True, timeout=left):
        con = _open_for_write(store)
        try:
            return _append(con, query, table, arrow, bound, source, store)
        finally:
            con.close()


def _declared_table(query: NamedQuery, result: Result) -> Any:
    """The result's declared columns only, in order (conform() keeps extras after them)."""
    return result.to_arrow().select([c.name for c in query.columns])


def _open_for_write(store: Path) -> Any:
    import duckdb

    try:
        return duckdb.connect(str(store))
    except duckdb.Error as exc:
        message = str(exc)
        if "lock" in message.lower():
            raise SourceUnavailable(
                f"the history store {str(store)!r} is open in another program that did not "
                f"take thsources' lock (a duckdb session?); close it and pull again ({message})"
            ) from None
        raise ConfigError(
            f"cannot open the history store {str(store)!r} as a DuckDB database: {message}"
        ) from None


def _append(
    con: Any,
    query: NamedQuery,
    table: str,
    arrow: Any,
    params: Mapping[str, Any],
    source: Source,
    store: Path,
) -> Pull:
    con.execute("SET TimeZone = 'UTC'")
    con.register("incoming", arrow)
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(_PULLS_DDL)
        existing = _columns_of(con, table)
        if existing is None:
            con.execute(
                f'CREATE TABLE "{table}" AS SELECT *, CAST(NULL AS BIGINT) AS {PULL_ID} '
                "FROM incoming LIMIT 0"
            )
        else:
            _check_columns(query, table, existing, _columns_of_relation(con, "incoming"))
        pull_id = con.execute(
            f"SELECT coalesce(max(pull_id), 0) + 1 FROM {PULLS_TABLE}"
        ).fetchone()[0]
        keys = [f'"{k}"' for k in query.key]
        matches = " AND ".join(f"t.{k} IS NOT DISTINCT FROM i.{k}" for k in keys)
        added = con.execute(
            f'INSERT INTO "{table}" SELECT i.*, ? FROM incoming i '
            f'WHERE NOT EXISTS (SELECT 1 FROM "{table}" t WHERE {matches}) '
            f"QUALIFY row_number() OVER (PARTITION BY {', '.join(f'i.{k}' for k in keys)}) = 1",
            [pull_id],
        ).fetchone()[0]
        con.execute(
            f"INSERT INTO {PULLS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                pull_id,
                dt.datetime.now(dt.UTC),
                query.name,
                json.dumps(params, default=_json_value, sort_keys=True),
                source.name,
                source.kind,
                table,
                arrow.num_rows,
                added,
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return Pull(int(pull_id), table, int(arrow.num_rows), int(added), store)


def _json_value(value: Any) -> Any:
    """Parameters as JSON: dates and datetimes in ISO 8601 (naive ones are UTC)."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _columns_of(con: Any, table: str) -> list[tuple[str, str]] | None:
    rows = con.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()
    return [(r[0], r[1]) for r in rows] or None


def _columns_of_relation(con: Any, name: str) -> list[tuple[str, str]]:
    rel = con.table(name)
    return [(c, str(t)) for c, t in zip(rel.columns, rel.types, strict=True)]


def _check_columns(
    query: NamedQuery,
    table: str,
    existing: Sequence[tuple[str, str]],
    incoming: Sequence[tuple[str, str]],
) -> None:
    """Refuse a table whose columns (names, order, types) are not the query's."""
    expected = [*incoming, (PULL_ID, "BIGINT")]
    if list(existing) == expected:
        return
    have = ", ".join(f"{n} {t}" for n, t in existing)
    want = ", ".join(f"{n} {t}" for n, t in expected)
    raise ConfigError(
        f"the history table {table!r} has columns ({have}) but named query {query.name!r} "
        f"gives ({want}); pull into a new table (--into another name), or drop this one"
    )
