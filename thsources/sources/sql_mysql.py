"""MySQL and MariaDB behind the ``sql`` source, through PyMySQL.

The session is read-only (``SET SESSION TRANSACTION READ ONLY``, so even the implicit commit
before DDL leads into a read-only transaction) and each statement runs inside ``START
TRANSACTION READ ONLY``. The deadline becomes MariaDB's ``max_statement_time`` or MySQL's
``max_execution_time``; cancelling is ``KILL QUERY`` sent over a second connection, which is
all the protocol offers. Rows stream through an unbuffered ``SSCursor``; PyMySQL leaves
multi-statement support off, so one call runs one statement. DECIMAL comes back as text and
is cast by Arrow in one pass per batch.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from ..errors import (
    AuthenticationError,
    NotFound,
    PermissionDenied,
    QueryCancelled,
    QueryError,
    QueryTimeout,
    SourceUnavailable,
    ThsourcesError,
)
from .sql_driver import DatabaseURL, Driver, RowStream
from .sql_types import ColumnSpec, mysql_column_type, numeric_text

__all__ = ["MySQLDriver"]

_DECIMALS: Final = (0, 246)
_AUTH: Final = frozenset({1045, 1698, 2059})
_DENIED: Final = frozenset({1044, 1142, 1143, 1227, 1370})
_READ_ONLY: Final = frozenset({1792, 1290})
_TIMED_OUT: Final = frozenset({1969, 3024})
_GONE: Final = frozenset({2003, 2005, 2006, 2013, 2055})


def connect_kwargs(u: DatabaseURL) -> dict[str, Any]:
    """PyMySQL's keyword arguments for a URL (utf8mb4 unless the URL names a charset)."""
    return {
        "host": u.host or "localhost",
        "port": u.port or 3306,
        "user": u.username or "",
        "password": u.password or "",
        "database": u.database,
        "charset": u.query.get("charset", "utf8mb4"),
    }


class MySQLDriver(Driver):
    dialect = "mysql"
    paramstyle = "pyformat"

    def _connect(self, timeout: float) -> Any:
        import pymysql
        import pymysql.converters

        u = self.url
        conv = dict(pymysql.converters.conversions)
        for code in _DECIMALS:
            conv[code] = str
        return pymysql.connect(
            **connect_kwargs(u),
            connect_timeout=max(1, math.ceil(min(timeout, 30))),
            autocommit=False,
            conv=conv,
        )

    def connect(self, timeout: float) -> Any:
        con = self._connect(timeout)
        with con.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            cur.execute("SET SESSION TRANSACTION READ ONLY")
        con.thsources_mariadb = "mariadb" in con.get_server_info().lower()
        return con

    def open(
        self, con: Any, sql: str, values: Mapping[str, Any], timeout: float, batch_rows: int
    ) -> RowStream:
        import pymysql.cursors

        with con.cursor() as cur:
            if con.thsources_mariadb:
                seconds = 0 if math.isinf(timeout) else max(0.001, timeout)
                cur.execute(f"SET SESSION max_statement_time = {seconds:.3f}")
            else:
                ms = 0 if math.isinf(timeout) else max(1, int(timeout * 1000))
                cur.execute(f"SET SESSION max_execution_time = {ms}")
            cur.execute("START TRANSACTION READ ONLY")
        stream = con.cursor(pymysql.cursors.SSCursor)
        stream.execute(sql, values or None)
        if stream.description is None:
            stream.close()
            return RowStream([], iter(()))
        names = self.unique_names([d[0] for d in stream.description])
        specs = []
        for name, d in zip(names, stream.description, strict=True):
            ctype = mysql_column_type(d[1], d[5])
            specs.append(ColumnSpec(name, ctype, numeric_text if d[1] in _DECIMALS else None))
        return RowStream(specs, _batches(stream, batch_rows))

    def cancel(self, con: Any) -> None:
        import pymysql

        try:
            side = self._connect(10)
        except pymysql.Error:
            return  # the server is unreachable: nothing more can be done from here
        try:
            with side.cursor() as cur:
                cur.execute("KILL QUERY %s", (con.thread_id(),))
        except pymysql.Error:
            pass  # the statement finished or the connection is gone already
        finally:
            side.close()

    def finish(self, con: Any) -> None:
        con.rollback()

    def close(self, con: Any) -> None:
        import pymysql

        with contextlib.suppress(pymysql.Error):
            con.close()

    def error(self, exc: BaseException, *, connecting: bool) -> ThsourcesError | None:
        import pymysql

        if not isinstance(exc, pymysql.Error):
            return None
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
        text = exc.args[1] if len(exc.args) > 1 else str(exc)
        message = self.url.redact(str(text))
        src = self.source
        where = f"cannot connect to {self.url.masked}: {message}"
        if code in _AUTH:
            return AuthenticationError(
                f"{where}; check the user name and password in the url", source=src
            )
        if code == 1049:
            return NotFound(f"{where}; check the database name in the url", source=src)
        if connecting and code in _DENIED:
            return PermissionDenied(where, source=src)
        if connecting or code in _GONE or isinstance(exc, pymysql.err.InterfaceError):
            return SourceUnavailable(where if connecting else message, source=src)
        if code in _READ_ONLY:
            return PermissionDenied(
                f"the sql source is read-only and the server refused a write: {message}",
                source=src,
            )
        if code in _DENIED:
            return PermissionDenied(message, source=src)
        if code in _TIMED_OUT:
            return QueryTimeout(message, source=src)
        if code == 1317:
            return QueryCancelled(message, source=src)
        return QueryError(message, source=src)


def _batches(cur: Any, batch_rows: int) -> Iterator[Sequence[Sequence[Any]]]:
    import pymysql

    try:
        while rows := cur.fetchmany(batch_rows):
            yield rows
    finally:
        with contextlib.suppress(pymysql.Error):
            cur.close()
