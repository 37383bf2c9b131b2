"""PEP 249 (DB-API 2.0) over any thsources source that runs SQL.

Analysts' tools (``pandas.read_sql``, jupysql, SQLAlchemy, BI tools) speak DB-API; this
module lets them use a thsources source as a read-only database::

    from thsources import dbapi
    con = dbapi.connect("local")
    cur = con.cursor()
    cur.execute("SELECT name FROM repository WHERE name = :name", {"name": "autoland"})
    cur.fetchall()

Errors are the library's own, made DB-API errors too: a ``QueryError`` raised through a
cursor is an instance of ``QueryError`` *and* of :class:`DatabaseError` (see
:func:`translate`), so ``except ThsourcesError`` and ``except dbapi.Error`` both catch it.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final, NoReturn

from . import errors as th
from .polling import Deadline, check_timeout
from .result import Result
from .sources.base import DEFAULT_TIMEOUT, Job, Source

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = [
    "BINARY",
    "DATETIME",
    "NUMBER",
    "ROWID",
    "STRING",
    "Binary",
    "Connection",
    "Cursor",
    "DataError",
    "DatabaseError",
    "Date",
    "DateFromTicks",
    "Error",
    "IntegrityError",
    "InterfaceError",
    "InternalError",
    "NotSupportedError",
    "OperationalError",
    "ProgrammingError",
    "Time",
    "TimeFromTicks",
    "Timestamp",
    "TimestampFromTicks",
    "Warning",
    "apilevel",
    "connect",
    "paramstyle",
    "threadsafety",
    "translate",
]

apilevel: Final = "2.0"
threadsafety: Final = 1
"""Threads may share the module, not connections: a cursor holds one running job."""
paramstyle: Final = "named"
"""``:name`` placeholders, bound as everywhere in thsources (``thsources.sqlbind``)."""


# -- exceptions ---------------------------------------------------------------------------------


class Warning(Exception):
    """PEP 249's Warning; thsources raises none."""


class Error(Exception):
    """Root of the DB-API errors."""


class InterfaceError(Error):
    """The interface was misused: a closed cursor or connection, a fetch before execute."""


class DatabaseError(Error):
    """The source refused or failed the query."""


class DataError(DatabaseError):
    """Bad data in a result."""


class OperationalError(DatabaseError):
    """The source could not be reached, timed out, or the job was cancelled."""


class IntegrityError(DatabaseError):
    """PEP 249's IntegrityError; a read-only source never raises it."""


class InternalError(DatabaseError):
    """PEP 249's InternalError; thsources raises none."""


class ProgrammingError(DatabaseError):
    """Bad configuration, parameters or SQL addressed to the wrong place."""


class NotSupportedError(DatabaseError):
    """Something a read-only, transaction-less source cannot do."""


# The DB-API class of each thsources class; the most specific entry wins (MRO order).
_MAPPING: Final[dict[type[th.ThsourcesError], type[Error]]] = {
    th.ThsourcesError: Error,
    th.ConfigError: ProgrammingError,
    th.MissingDependency: InterfaceError,
    th.ParameterError: ProgrammingError,
    th.UnsupportedQuery: NotSupportedError,
    th.SourceError: OperationalError,
    th.AuthenticationError: OperationalError,
    th.PermissionDenied: ProgrammingError,
    th.NotFound: ProgrammingError,
    th.SourceUnavailable: OperationalError,
    th.ProtocolError: OperationalError,
    th.QueryError: DatabaseError,
    th.QueryTimeout: OperationalError,
    th.QueryCancelled: OperationalError,
}
_BOTH: dict[tuple[type[th.ThsourcesError], type[Error]], type[Any]] = {}
_BOTH_LOCK: Final = threading.Lock()


def dbapi_class(cls: type[th.ThsourcesError]) -> type[Error]:
    """The DB-API class a thsources error class is raised as."""
    for base in cls.__mro__:
        if base in _MAPPING:
            return _MAPPING[base]
    return Error


def _both(cls: type[th.ThsourcesError], dbapi_cls: type[Error]) -> type[Any]:
    """A class named like ``cls`` deriving from ``cls`` and ``dbapi_cls`` (made once)."""
    with _BOTH_LOCK:
        made = _BOTH.get((cls, dbapi_cls))
        if made is None:
            made = type(
                cls.__name__,
                (cls, dbapi_cls),
                {"__module__": cls.__module__, "__doc__": cls.__doc__},
            )
            _BOTH[(cls, dbapi_cls)] = made
        return made


def translate(exc: th.ThsourcesError, dbapi_cls: type[Error] | None = None) -> Error:
    """``exc`` as an instance of its own class and of its DB-API class (same message,
    ``.source``, ``.job_id``, ``.query``), so either kind of ``except`` catches it."""
    if isinstance(exc, Error):
        return exc
    cls: Any = _both(type(exc), dbapi_cls or dbapi_class(type(exc)))
    new: Any = cls.__new__(cls)  # OSError's kin (TimeoutError) need their own __new__
    new.__dict__.update(exc.__dict__)
    new.args = exc.args
    new.__cause__ = exc.__cause__
    new.__suppress_context__ = exc.__suppress_context__
    return new


def _raise(
    cls: type[th.ThsourcesError], message: str, dbapi_cls: type[Error] | None = None
) -> NoReturn:
    raise translate(cls(message), dbapi_cls) from None


# -- types --------------------------------------------------------------------------------------


class DBAPITypeObject:
    """A PEP 249 type object: equal to each type code (canonical type name) it covers."""

    def __init__(self, name: str, *codes: str) -> None:
        self.name = name
        self.codes = frozenset(codes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DBAPITypeObject):
            return self.codes == other.codes
        return other in self.codes

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.codes)

    def __repr__(self) -> str:
        return f"<DBAPITypeObject {self.name}>"


STRING: Final = DBAPITypeObject("STRING", "string", "json")
NUMBER: Final = DBAPITypeObject("NUMBER", "integer", "float", "boolean")
DATETIME: Final = DBAPITypeObject("DATETIME", "datetime", "date")
BINARY: Final = DBAPITypeObject("BINARY")
"""No source returns binary columns: nothing compares equal."""
ROWID: Final = DBAPITypeObject("ROWID")
"""Sources have no row ids: nothing compares equal."""

Date = dt.date
Time = dt.time
Timestamp = dt.datetime
Binary = bytes


def DateFromTicks(ticks: float) -> dt.date:
    return dt.datetime.fromtimestamp(ticks, dt.UTC).date()


def TimeFromTicks(ticks: float) -> dt.time:
    return dt.datetime.fromtimestamp(ticks, dt.UTC).timetz()


def TimestampFromTicks(ticks: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(ticks, dt.UTC)


# -- connection and cursor ----------------------------------------------------------------------


def connect(source: Source | str | None = None, **options: Any) -> Connection:
    """A connection to ``source``: a connected :class:`~thsources.Source` (left open on
    ``close()``), or a profile or kind name with options as for ``thsources.connect``."""
    if isinstance(source, Source):
        if options:
            _raise(
                th.ConfigError,
                "options are for a profile or kind name; a Source object is already configured",
            )
        return Connection(source, owned=False)
    from . import connect as connect_source

    try:
        return Connection(connect_source(source, **options), owned=True)
    except th.ThsourcesError as exc:
        raise translate(exc) from None


class Connection:
    """A DB-API connection: cursors over one source; nothing to commit, nothing to undo."""

    Warning = Warning
    Error = Error
    InterfaceError = InterfaceError
    DatabaseError = DatabaseError
    DataError = DataError
    OperationalError = OperationalError
    IntegrityError = IntegrityError
    InternalError = InternalError
    ProgrammingError = ProgrammingError
    NotSupportedError = NotSupportedError

    def __init__(self, source: Source, *, owned: bool) -> None:
        self.source = source
        self._owned = owned
        self._closed = False
        self._cursors: list[Cursor] = []

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            _raise(th.ThsourcesError, "the connection is closed; connect again", InterfaceError)

    def cursor(self) -> Cursor:
        self._check_open()
        cur = Cursor(self)
        self._cursors.append(cur)
        return cur

    def commit(self) -> None:
        """Nothing to commit: every source is read-only."""
        self._check_open()

    def rollback(self) -> None:
        """Refused: there is no transaction to undo (PEP 249's NotSupportedError)."""
        self._check_open()
        _raise(
            th.UnsupportedQuery,
            f"source {self.source.name!r} is read-only and has no transactions to roll back",
        )

    def close(self) -> None:
        """Close the cursors (cancelling their running jobs) and a source opened here."""
        if self._closed:
            return
        self._closed = True
        for cur in self._cursors:
            cur.close()
        self._cursors.clear()
        if self._owned:
            self.source.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<thsources.dbapi.Connection {self.source.name!r} {state}>"


_CHUNK: Final = 10_000
"""Rows turned into Python tuples at a time when fetching row by row."""


def python_rows(result: Result) -> list[tuple[Any, ...]]:
    """``result.rows()``, the same values, built faster.

    ``Result.rows()`` goes through pyarrow's ``to_pylist``, which turns a UTC timestamp into
    a Python datetime one value at a time through its time-zone machinery (about 12 µs
    each) and builds numbers one boxed scalar at a time. Here numbers without nulls come
    from NumPy's ``tolist`` (C), and UTC timestamps are microseconds since the epoch, made
    ``timedelta`` objects by NumPy and added to an aware epoch in one C loop (about 0.2 µs
    each). Every other column converts through ``Result.column``.
    """
    table = result.to_arrow()
    columns = [
        _python_values(result, col.name, col.type, table.column(index))
        for index, col in enumerate(result.columns)
    ]
    if not columns:
        return [() for _ in range(len(result))]
    return list(zip(*columns, strict=True))


_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _python_values(result: Result, name: str, type_name: str, arr: Any) -> list[Any]:
    import pyarrow as pa

    kind = arr.type
    if not len(arr):
        return []
    numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_boolean(kind)
    if type_name in ("integer", "float", "boolean") and numeric and not arr.null_count:
        values: list[Any] = arr.to_numpy().tolist()
        return values
    if (
        type_name == "datetime"
        and pa.types.is_timestamp(kind)
        and kind.unit == "us"
        and kind.tz in ("UTC", "+00:00", "Etc/UTC")
    ):
        return _aware_datetimes(arr)
    return result.column(name)


def _aware_datetimes(arr: Any) -> list[dt.datetime | None]:
    """UTC ``timestamp[us]`` values as aware datetimes (``tzinfo`` is ``datetime.UTC``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    micros = arr.cast(pa.int64()).fill_null(0).to_numpy()
    values: list[dt.datetime | None] = (micros.astype("m8[us]").astype(object) + _EPOCH).tolist()
    if arr.null_count:
        for i in pc.indices_nonzero(arr.is_null()).to_pylist():
            values[i] = None
    return values


class Cursor:
    """Runs one query at a time; ``cancel()`` from another thread cancels its job."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.arraysize = 1
        self.timeout: float | None = None
        """Seconds a query may take (None: the source's default)."""
        self.max_age: float = 0
        """Seconds old a cached result may be, where the source caches (Redash)."""
        self._closed = False
        self._lock = threading.Lock()
        self._job: Job | None = None
        self._running = False
        self._cancel_requested = False
        self._result: Result | None = None
        self._position = 0
        self._buffer: list[tuple[Any, ...]] = []
        self._buffer_start = 0

    # -- state --------------------------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._closed or self.connection.closed

    @property
    def description(
        self,
    ) -> list[tuple[str, str, None, None, None, None, bool]] | None:
        """(name, type_code, None, None, None, None, True) per column; type codes are the
        canonical type names and compare equal to STRING, NUMBER, DATETIME."""
        if self._result is None:
            return None
        return [(c.name, c.type, None, None, None, None, True) for c in self._result.columns]

    @property
    def rowcount(self) -> int:
        return -1 if self._result is None else len(self._result)

    @property
    def rownumber(self) -> int | None:
        return None if self._result is None else self._position

    @property
    def result(self) -> Result | None:
        """The last query's whole :class:`~thsources.Result` (for Arrow or pandas)."""
        return self._result

    def _check_open(self) -> None:
        if self._closed:
            _raise(th.ThsourcesError, "the cursor is closed; open another", InterfaceError)
        self.connection._check_open()

    # -- running ------------------------------------------------------------------------------

    def execute(self, operation: str, parameters: Mapping[str, Any] | None = None) -> Cursor:
        """Run ``operation`` with ``:name`` parameters from the mapping ``parameters``."""
        self._check_open()
        if parameters is not None and not isinstance(parameters, Mapping):
            if isinstance(parameters, Sequence) and not parameters:
                parameters = None
            else:
                _raise(
                    th.ParameterError,
                    "parameters must be a mapping of :name placeholders to values "
                    f"(paramstyle 'named'), not {type(parameters).__name__}",
                )
        self._reset()
        source = self.connection.source
        try:
            deadline = Deadline(check_timeout(self.timeout, DEFAULT_TIMEOUT))
            with self._lock:
                self._running, self._cancel_requested = True, False
            try:
                try:
                    job = source.submit(
                        operation,
                        parameters or None,
                        max_age=self.max_age,
                        timeout=deadline.timeout,
                    )
                except th.QueryTimeout as exc:
                    self._raise_if_cancelled(exc)
                    raise
                with self._lock:
                    self._job = job
                    cancel_now = self._cancel_requested
                if cancel_now:  # cancel() came while submit() ran the statement (or posted it)
                    job.cancel()
                result = job.result(deadline.remaining())
            finally:
                with self._lock:
                    self._job = None
                    self._running = False
        except th.ThsourcesError as exc:
            raise translate(exc) from exc.__cause__
        self._result = result
        return self

    def executemany(
        self, operation: str, seq_of_parameters: Sequence[Mapping[str, Any]]
    ) -> NoReturn:
        """Refused: executemany exists for writes, and every source is read-only."""
        self._check_open()
        _raise(
            th.UnsupportedQuery,
            f"executemany is not supported: source {self.connection.source.name!r} is "
            "read-only; run each query with execute()",
        )

    def cancel(self) -> None:
        """Cancel the running query (from another thread); ``execute`` then raises
        ``QueryCancelled`` (an OperationalError). Nothing running: nothing happens.

        The source's job is cancelled where it runs: Redash's with
        ``DELETE /api/jobs/<id>``, a ``sql`` statement on its server (PostgreSQL's cancel
        request, MySQL's ``KILL QUERY``; SQLite and DuckDB files are interrupted), a
        ``local`` statement by interrupting DuckDB. Where the source runs the request inside
        ``submit()`` (``activedata``, ``treeherder``), nothing can stop it from another
        thread but its deadline (``timeout``): it runs to its end or its deadline, and
        ``execute`` then raises ``QueryCancelled`` instead of returning the rows.
        """
        with self._lock:
            job = self._job
            if job is None and self._running:
                self._cancel_requested = True
        if job is not None:
            job.cancel()

    def _raise_if_cancelled(self, exc: th.QueryTimeout) -> None:
        """A cancel() that came while the deadline stopped the statement wins: the caller
        asked to stop, and the statement was stopped."""
        with self._lock:
            cancelled = self._cancel_requested
        if cancelled:
            raise th.QueryCancelled(
                f"the query was cancelled; source {self.connection.source.name!r} could not "
                f"stop it before its deadline stopped it ({exc.message})",
                source=exc.source,
            ) from exc

    def _reset(self) -> None:
        self._result = None
        self._position = 0
        self._buffer = []
        self._buffer_start = 0

    # -- fetching -----------------------------------------------------------------------------

    def _fetched_result(self) -> Result:
        self._check_open()
        if self._result is None:
            _raise(
                th.ThsourcesError,
                "no result to fetch: call execute() first",
                ProgrammingError,
            )
        return self._result

    def _rows(self, count: int | None) -> list[tuple[Any, ...]]:
        result = self._fetched_result()
        total = len(result)
        stop = total if count is None else min(total, self._position + max(0, count))
        if stop <= self._position:
            return []
        buffered_end = self._buffer_start + len(self._buffer)
        if self._position >= self._buffer_start and stop <= buffered_end:
            out = self._buffer[self._position - self._buffer_start : stop - self._buffer_start]
        elif count is None or stop - self._position > _CHUNK:
            out = python_rows(result[self._position : stop])
        else:
            end = min(total, self._position + _CHUNK)
            self._buffer = python_rows(result[self._position : end])
            self._buffer_start = self._position
            out = self._buffer[: stop - self._position]
        self._position = stop
        return out

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._rows(1)
        return rows[0] if rows else None

    def fetchmany(self, size: int | None = None) -> list[tuple[Any, ...]]:
        return self._rows(self.arraysize if size is None else size)

    def fetchall(self) -> list[tuple[Any, ...]]:
        return self._rows(None)

    def fetch_df(self) -> pd.DataFrame:
        """The rows not fetched yet as the DataFrame ``Result.to_pandas()`` gives (as DuckDB's
        and ADBC's cursors have it): Arrow columns straight to pandas, no Python rows."""
        return self._rest().to_pandas()

    def fetch_arrow_table(self) -> pa.Table:
        """The rows not fetched yet as the Arrow table ``Result.to_arrow()`` gives."""
        return self._rest().to_arrow()

    def _rest(self) -> Result:
        result = self._fetched_result()
        start, self._position = self._position, len(result)
        return result[start:] if start else result

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        while True:
            row = self.fetchone()
            if row is None:
                return
            yield row

    def setinputsizes(self, sizes: Any) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def setoutputsize(self, size: Any, column: Any = None) -> None:
        """Accepted and ignored, as PEP 249 allows."""

    def close(self) -> None:
        """Cancel a running job and drop the result; later calls raise InterfaceError."""
        self.cancel()
        self._closed = True
        self._reset()

    def __enter__(self) -> Cursor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
