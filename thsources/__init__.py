"""thsources: query Mozilla Treeherder's data wherever it lives, get the same typed records.

::

    import thsources
    src = thsources.connect()                      # the "default" profile, else the local sample
    res = thsources.run("pushes", params={"repository": "autoland"}, source=src)
    res.to_pandas()

Importing this package loads neither pandas, pyarrow nor duckdb; they load on first use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING, Any

from . import errors, keys
from .errors import (
    AuthenticationError,
    ConfigError,
    MissingDependency,
    NotFound,
    ParameterError,
    PermissionDenied,
    ProtocolError,
    QueryCancelled,
    QueryError,
    QueryTimeout,
    SourceError,
    SourceUnavailable,
    ThsourcesError,
    UnsupportedQuery,
)
from .many import Answer, Batch, Query, run_many
from .result import Column, Result, ResultMeta
from .sources.base import Job, JobState, Source

if TYPE_CHECKING:
    from .catalog import NamedQuery

try:
    __version__ = version("thsources")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = [
    "Answer",
    "AuthenticationError",
    "Batch",
    "Column",
    "ConfigError",
    "Job",
    "JobState",
    "MissingDependency",
    "NotFound",
    "ParameterError",
    "PermissionDenied",
    "ProtocolError",
    "Query",
    "QueryCancelled",
    "QueryError",
    "QueryTimeout",
    "Result",
    "ResultMeta",
    "Source",
    "SourceError",
    "SourceUnavailable",
    "ThsourcesError",
    "UnsupportedQuery",
    "__version__",
    "connect",
    "errors",
    "keys",
    "local_sql",
    "queries",
    "run",
    "run_many",
]


def connect(name: str | None = None, **options: Any) -> Source:
    """A source by profile name or kind; keyword options override the profile.

    With no name: the profile ``default`` if the config file has one, else the embedded
    ``local`` sample. Precedence of every option: keyword > environment > profile > default.
    A profile that lists ``sources`` gives a :class:`~thsources.fallback.Fallback`: each
    call runs on the first of them that can answer (connected on first use).
    """
    from .config import members, resolve
    from .sources.base import source_class

    listed = members(name)
    if listed is not None:
        from .fallback import Fallback

        if options:
            raise ConfigError(
                f"profile {name!r} lists sources; set options such as "
                f"{', '.join(sorted(options))} on the listed profiles, not here"
            )
        return Fallback(name or "default", [(member, _connector(member)) for member in listed])

    source_name, kind, resolved = resolve(name, options)
    return source_class(kind).from_options(source_name, resolved)


def _connector(name: str) -> Callable[[], Source]:
    return lambda: connect(name)


def run(
    name: str,
    params: Mapping[str, Any] | None = None,
    *,
    source: Source | str | None = None,
    max_age: float = 0,
    timeout: float | None = None,
    progress: Callable[[Any], None] | None = None,
) -> Result:
    """Run the named query ``name`` (see :func:`queries`) on ``source``.

    ``source`` is a connected source, a profile or kind name, or None for ``connect()``.
    Parameters are validated and typed against the query's declaration; the result has the
    declared columns, in order, with their declared types. ``progress`` is called with each
    progress event while a remote job is waited on (sources that answer at once have none).
    An empty result whose parameter names something absent from the data (a misspelt
    repository) raises ``NotFound`` with close matches.
    """
    from .catalog import run_named

    options: dict[str, Any] = {"max_age": max_age, "timeout": timeout}
    if progress is not None:
        options["progress"] = progress
    if source is None or isinstance(source, str):
        with connect(source) as src:
            return run_named(name, src, params, **options)
    return run_named(name, source, params, **options)


def queries() -> list[NamedQuery]:
    """Every named query :func:`run` knows, sorted by name: ``.name``, ``.description``,
    ``.params`` (name, type, default, bounds) and ``.columns`` (the output contract)."""
    from .catalog import list_queries

    return list_queries()


def local_sql(sql: str, /, *, timeout: float | None = None, **tables: Any) -> Result:
    """DuckDB SQL over Results, DataFrames, Arrow tables and Parquet paths given by name::

        thsources.local_sql("SELECT * FROM jobs JOIN crashes USING (revision)",
                            jobs=res, crashes=df)

    Arrow all the way (no rows become Python objects); the functions of
    :mod:`thsources.keys` are callable in the SQL. See :mod:`thsources.localsql`.
    """
    from .localsql import local_sql as run_local_sql

    return run_local_sql(sql, timeout=timeout, **tables)
