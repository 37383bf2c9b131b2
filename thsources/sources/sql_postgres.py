"""PostgreSQL behind the ``sql`` source, through psycopg 3.

Every statement runs in a ``READ ONLY`` transaction (and the session defaults to read-only,
so nothing can run outside one) under ``SET LOCAL statement_timeout``. Queries are read
through a server-side cursor (``DECLARE`` / ``FETCH``), which also refuses a second
statement smuggled in after a semicolon. Anything that is not a query (``EXPLAIN``,
``SHOW``, or a write, which the read-only transaction refuses) runs through the extended
protocol, one statement only. ``numeric`` and ``json`` are loaded as text and converted by
Arrow in one pass per batch.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final

from ..errors import (
    AuthenticationError,
    NotFound,
    ParameterError,
    PermissionDenied,
    QueryCancelled,
    QueryError,
    QueryTimeout,
    SourceUnavailable,
    ThsourcesError,
)
from .sql_driver import DatabaseURL, Driver, RowStream
from .sql_types import ColumnSpec, json_text, numeric_text, postgres_column_type

__all__ = ["PostgresDriver", "first_keyword"]

_QUERY_KEYWORDS: Final = frozenset({"select", "with", "values", "table"})
_SKIP = re.compile(r"(?:\s+|--[^\n]*(?:\n|$)|/\*.*?\*/|\()*", re.S)
_WORD = re.compile(r"[A-Za-z]+")
_TEXT_LOADED: Final = frozenset({"numeric", "json", "jsonb"})
_CURSOR: Final = "thsources_rows"


def first_keyword(sql: str) -> str:
    """The statement's first keyword, lower-case, past comments and parentheses."""
    m = _WORD.match(sql, _SKIP.match(sql).end())  # type: ignore[union-attr]
    return m.group(0).lower() if m else ""


def connect_kwargs(u: DatabaseURL, application_name: str | None) -> dict[str, Any]:
    """psycopg's keyword arguments for a URL: its parts, then its query options, which may
    set ``application_name`` (the name ``pg_stat_activity`` shows) over the given one."""
    kwargs: dict[str, Any] = {
        k: v
        for k, v in {
            "host": u.host,
            "port": u.port,
            "user": u.username,
            "password": u.password,
            "dbname": u.database,
        }.items()
        if v is not None
    }
    kwargs.update(u.query)
    if application_name is not None:
        kwargs.setdefault("application_name", application_name)
    return kwargs


class PostgresDriver(Driver):
    dialect = "postgresql"
    paramstyle = "pyformat"
    arrays = True

    def connect(self, timeout: float) -> Any:
        import psycopg
        from psycopg.types.string import TextLoader

        kwargs = connect_kwargs(self.url, "thsources")
        # libpq counts whole seconds, at least 2.
        kwargs["connect_timeout"] = max(2, math.ceil(min(timeout, 30)))
        options = kwargs.pop("options", "")
        kwargs["options"] = f"{options} -c default_transaction_read_only=on -c TimeZone=UTC".strip()
        con = psycopg.connect(**kwargs)
        con.read_only = True
        for name in _TEXT_LOADED:
            con.adapters.register_loader(name, TextLoader)
        return con

    def open(
        self, con: Any, sql: str, values: Mapping[str, Any], timeout: float, batch_rows: int
    ) -> RowStream:
        limit_ms = 0 if math.isinf(timeout) else max(1, int(timeout * 1000))
        con.execute(f"SET LOCAL statement_timeout = {limit_ms}")
        params = values or None
        if first_keyword(sql) in _QUERY_KEYWORDS:
            cur = con.cursor(name=_CURSOR)
            cur.execute(sql, params)
            return RowStream(
                self._specs(cur.description, text_loaded=True), _batches(cur, batch_rows)
            )
        plain = con.cursor()
        plain.execute(sql, params, binary=True)  # binary forces one statement, no more
        if plain.description is None:
            plain.close()
            return RowStream([], iter(()))
        return RowStream(
            self._specs(plain.description, text_loaded=False), _batches(plain, batch_rows)
        )

    def _specs(self, description: Sequence[Any], *, text_loaded: bool) -> list[ColumnSpec]:
        from psycopg.postgres import types

        names = self.unique_names([d.name for d in description])
        specs = []
        for name, d in zip(names, description, strict=True):
            info = types.get(d.type_code)
            is_array = info is not None and info.array_oid == d.type_code
            type_name = None if info is None else info.name
            ctype = postgres_column_type(type_name, is_array, d.scale)
            convert = None
            if text_loaded and not is_array and type_name in _TEXT_LOADED:
                convert = json_text if ctype == "json" else numeric_text
            specs.append(ColumnSpec(name, ctype, convert))
        return specs

    def cancel(self, con: Any) -> None:
        import psycopg

        # If the connection is gone already, nothing runs on it any more.
        with contextlib.suppress(psycopg.Error):
            con.cancel_safe(timeout=10)

    def finish(self, con: Any) -> None:
        con.rollback()

    def close(self, con: Any) -> None:
        con.close()

    def error(self, exc: BaseException, *, connecting: bool) -> ThsourcesError | None:
        import psycopg

        if not isinstance(exc, psycopg.Error):
            return None
        diag = getattr(exc, "diag", None)
        # The primary message alone: the full text quotes the DECLARE wrapped around the query.
        primary = diag.message_primary if diag is not None and not connecting else None
        message = self.url.redact((primary or str(exc)).strip())
        src = self.source
        state = getattr(exc, "sqlstate", None) or ""
        if (
            connecting
            or state.startswith("08")
            or (isinstance(exc, psycopg.OperationalError) and not state)
        ):
            where = f"cannot connect to {self.url.masked}: {message}"
            lowered = message.lower()
            if (
                state.startswith("28")
                or "authentication failed" in lowered
                or ("role" in lowered and "does not exist" in lowered)
                or "no password supplied" in lowered
            ):
                return AuthenticationError(
                    f"{where}; check the user name and password in the url", source=src
                )
            if state == "3D000" or ("database" in lowered and "does not exist" in lowered):
                return NotFound(f"{where}; check the database name in the url", source=src)
            return SourceUnavailable(where, source=src)
        if isinstance(exc, psycopg.DataError) and not state:
            # psycopg's own: a value it cannot send (NUL in text) or read ('infinity' dates).
            if "NUL" in message:
                return ParameterError(f"a parameter cannot be sent to PostgreSQL: {message}")
            return QueryError(f"a value in the result cannot be read: {message}", source=src)
        if state == "25006":
            return PermissionDenied(
                f"the sql source is read-only and the server refused a write: {message}",
                source=src,
            )
        if state == "42501" or state.startswith("28"):
            return PermissionDenied(message, source=src)
        if state == "57014":
            if "statement timeout" in message:
                return QueryTimeout(message, source=src)
            return QueryCancelled(message, source=src)
        return QueryError(message, source=src)


def _batches(cur: Any, batch_rows: int) -> Iterator[Sequence[Sequence[Any]]]:
    import psycopg

    try:
        while rows := cur.fetchmany(batch_rows):
            yield rows
    finally:
        # After a cancel or a lost connection there is no cursor left to close.
        with contextlib.suppress(psycopg.Error):
            cur.close()
