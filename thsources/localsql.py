"""SQL over results, DataFrames, Arrow tables and Parquet files, on a private DuckDB.

Joining Treeherder data with telemetry ends in one local join of two results whose keys are
spelled differently. :func:`local_sql` registers each input on an in-memory DuckDB
connection of its own, by name, without turning rows into Python objects (a ``Result`` is
already an Arrow table; DuckDB scans DataFrames and Arrow tables in place and reads Parquet
files itself), runs one statement there with the local source's deadline and Ctrl-C
handling, and returns a ``Result`` with the canonical types.

The SQL is DuckDB's, not PostgreSQL's as on the ``local`` source: the tables here are the
caller's, not Treeherder's schema, so there is no named-query text to share with a
PostgreSQL server; and what this step is for (joining on reshaped keys, ``PIVOT``,
``QUALIFY``, list functions, ``read_parquet``) is where DuckDB's own SQL is richer than the
PostgreSQL subset the translator accepts. The functions of :mod:`thsources.keys` are
available in it by name.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from .errors import ParameterError, QueryError
from .local.execute import run_statement
from .polling import check_timeout
from .result import Result, ResultMeta
from .sources.base import DEFAULT_TIMEOUT

__all__ = ["SOURCE_NAME", "local_sql"]

SOURCE_NAME: Final = "local_sql"
"""What ``meta.source`` and errors name as the source of a :func:`local_sql` result."""

_MISSING_TABLE: Final = re.compile(r"Table with name (.+?) does not exist")


def local_sql(sql: str, /, *, timeout: float | None = None, **tables: Any) -> Result:
    """Run DuckDB ``sql`` over ``tables`` (name=object) and return the rows as a Result.

    Each object is a :class:`~thsources.Result`, a pandas DataFrame, a pyarrow Table or
    RecordBatch, or the path (``str`` or ``Path``) of a Parquet file or of a directory of
    them. ``timeout`` is seconds (default 600, ``math.inf`` for none); Ctrl-C stops the
    statement. The key functions (``short_revision``, ``buildid_to_timestamp``,
    ``platform_os``, ``platform_arch``, ``repository_channel``, ``utc_day``) can be called
    in the SQL.
    """
    if not isinstance(sql, str):
        raise ParameterError(f"local_sql takes SQL text as its first argument, not {sql!r}")
    limit = check_timeout(timeout, DEFAULT_TIMEOUT)
    con = _connection(tables)
    try:
        started = time.perf_counter()
        try:
            fetched = run_statement(_OneCursor(con), sql, timeout=limit, source=SOURCE_NAME)
        except QueryError as exc:
            raise (_missing_table(exc, sql, tables) or exc) from None
        meta = ResultMeta(
            source=SOURCE_NAME,
            query=sql,
            runtime_s=time.perf_counter() - started,
            retrieved_at=dt.datetime.now(dt.UTC),
        )
        if fetched.table is None:
            return Result.from_columns([], [], meta)
        types = dict.fromkeys(fetched.json_columns, "json")
        return Result.from_arrow(fetched.table, types=types, meta=meta)
    finally:
        con.close()


class _OneCursor:
    """The connection as its own only cursor: what ``register`` and ``create_function``
    define is local to one DuckDB connection, and a ``cursor()`` is another connection, so
    the statement runs on the connection itself (it is private to this call). Its
    ``interrupt`` stops the statement all the same; closing is left to :func:`local_sql`.
    """

    def __init__(self, con: Any) -> None:
        self._con = con

    def cursor(self) -> _OneCursor:
        return self

    def sql(self, text: str) -> Any:
        return self._con.sql(text)

    def interrupt(self) -> None:
        self._con.interrupt()

    def close(self) -> None:
        pass


def _connection(tables: Mapping[str, Any]) -> Any:
    """A fresh in-memory DuckDB connection with ``tables`` registered and keys defined."""
    import duckdb

    from .keys import register_sql

    con = duckdb.connect(":memory:")
    try:
        con.execute("SET TimeZone = 'UTC'")  # plain timestamps read as UTC, as thsources does
        register_sql(con)
        for name, obj in tables.items():
            _register(con, name, obj)
    except BaseException:
        con.close()
        raise
    return con


def _register(con: Any, name: str, obj: Any) -> None:
    """Make ``obj`` queryable as ``name`` on ``con`` without a Python-object round trip."""
    if isinstance(obj, Result):
        con.register(name, obj.to_arrow())
        return
    if isinstance(obj, (str, os.PathLike)):
        _register_parquet(con, name, Path(obj))
        return
    if _is_instance(obj, "pyarrow", ("Table", "RecordBatch")) or _is_instance(
        obj, "pandas", ("DataFrame",)
    ):
        con.register(name, obj)
        return
    raise ParameterError(
        f"local_sql cannot query {name}={type(obj).__module__}.{type(obj).__qualname__}: give "
        "a thsources Result, a pandas DataFrame, a pyarrow Table or RecordBatch, "
        "or the path of a Parquet file"
    )


def _is_instance(obj: Any, module: str, names: tuple[str, ...]) -> bool:
    """isinstance against a library's classes, without importing a library not yet loaded
    (an object of it cannot exist then)."""
    mod = sys.modules.get(module)
    return mod is not None and isinstance(obj, tuple(getattr(mod, n) for n in names))


def _register_parquet(con: Any, name: str, path: Path) -> None:
    path = path.expanduser()
    if path.is_dir():
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise ParameterError(f"table {name}: the folder {str(path)!r} holds no .parquet files")
        target: str | list[str] = [str(f) for f in files]
    elif path.is_file():
        target = str(path)
    else:
        raise ParameterError(
            f"table {name}: the Parquet file {str(path)!r} does not exist "
            f"(the current directory is {os.getcwd()!r})"
        )
    import duckdb

    try:
        relation = con.read_parquet(target)
    except duckdb.Error as exc:
        raise ParameterError(
            f"table {name}: {str(path)!r} cannot be read as Parquet: {exc}"
        ) from None
    relation.create_view(name)


def _missing_table(exc: QueryError, sql: str, tables: Mapping[str, Any]) -> ParameterError | None:
    """The clear error for a table the SQL uses but was not given, else None."""
    found = _MISSING_TABLE.search(exc.message)
    if found is None:
        return None
    given = ", ".join(sorted(tables)) or "none"
    missing = found.group(1)
    return ParameterError(
        f"the SQL uses a table {missing} that local_sql was not given (tables given: {given}); "
        f"pass it by name (local_sql(sql, {missing}=...); on the command line --with "
        f"{missing}=FILE.parquet) or fix the name in the SQL",
        source=SOURCE_NAME,
        query=sql,
    )
