"""A SQLAlchemy 2 dialect over :mod:`thsources.dbapi`: ``create_engine("thsources://NAME")``.

``NAME`` is a profile or a source kind; the URL's query string gives options
(``thsources://redash?url=https://redash.example.org&data_source=Treeherder``). Secrets
never go in the URL: the API key comes from the environment or the profile, and a URL that
carries one is refused before anything is logged or connected. Statements are passed through
as written (``text()`` with ``:name`` parameters); the dialect compiles no SQL of its own
beyond what SQLAlchemy's generic compiler does.
"""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any, Final, NoReturn
from urllib.parse import urlsplit

from sqlalchemy import types as sqltypes
from sqlalchemy.engine import default
from sqlalchemy.engine.interfaces import ReflectedColumn
from sqlalchemy.engine.url import URL
from sqlalchemy.sql import compiler

from . import dbapi
from . import errors as th

__all__ = ["ThsourcesDialect"]

_SECRET_WORDS: Final = ("key", "password", "token", "secret")

# Source type names -> SQLAlchemy types, by the first pattern that matches.
_TYPE_PATTERNS: Final[tuple[tuple[re.Pattern[str], type[sqltypes.TypeEngine[Any]]], ...]] = (
    (re.compile(r"bool", re.I), sqltypes.Boolean),
    (re.compile(r"timestamp|datetime", re.I), sqltypes.DateTime),
    (re.compile(r"^date$", re.I), sqltypes.Date),
    (re.compile(r"^time\b", re.I), sqltypes.Time),
    (re.compile(r"int|serial", re.I), sqltypes.Integer),
    (re.compile(r"float|double|real|numeric|decimal", re.I), sqltypes.Float),
    (re.compile(r"json", re.I), sqltypes.JSON),
    (re.compile(r"char|text|string|uuid|enum", re.I), sqltypes.String),
)


_INFORMATION_SCHEMA: Final = {
    dialect: "SELECT table_name AS table_name, column_name AS column_name, "
    "data_type AS data_type FROM information_schema.columns "
    f"WHERE table_schema = {current} ORDER BY table_name, ordinal_position"
    for dialect, current in (("postgresql", "current_schema()"), ("mysql", "database()"))
}
"""The schema listing of the ``sql`` source's databases, which have no ``tables()``."""


def _sqlalchemy_type(name: str | None) -> sqltypes.TypeEngine[Any]:
    if name:
        for pattern, cls in _TYPE_PATTERNS:
            if pattern.search(name):
                return cls()
    return sqltypes.NullType()


class _ParsedJSON(sqltypes.JSON):
    """JSON whose values arrive parsed: the DB-API gives json columns as Python objects
    (as ``Result.rows()`` does), so SQLAlchemy must not parse them a second time."""

    def result_processor(self, dialect: Any, coltype: object) -> None:
        return None


class _TypeCompiler(compiler.GenericTypeCompiler):
    """SQLAlchemy's generic type names, plus ``JSON`` (for ``cast(..., JSON)``), which
    every SQL source here knows (PostgreSQL, DuckDB, MySQL)."""

    def visit_JSON(self, type_: Any, **kw: Any) -> str:
        return "JSON"


def _refuse(message: str) -> NoReturn:
    raise dbapi.translate(th.ConfigError(message)) from None


class ThsourcesDialect(default.DefaultDialect):
    """Read-only: commit and rollback do nothing, ``:name`` parameters bound by thsources."""

    name = "thsources"
    driver = "thsources"
    default_paramstyle = "named"
    supports_statement_cache = True
    supports_native_boolean = True
    supports_native_decimal = False
    supports_alter = False
    supports_sequences = False
    supports_default_values = False
    supports_empty_insert = False
    supports_multivalues_insert = False
    postfetch_lastrowid = False
    returns_native_bytes = False
    colspecs = {sqltypes.JSON: _ParsedJSON}  # noqa: RUF012 (SQLAlchemy reads it per class)
    type_compiler_cls = _TypeCompiler

    @classmethod
    def import_dbapi(cls) -> ModuleType:
        return dbapi

    def create_connect_args(self, url: URL) -> tuple[list[Any], dict[str, Any]]:
        """(profile or kind, options) from the URL; refuses secrets and unknown names now,
        at ``create_engine``, with the library's message."""
        name = url.host or url.database or None
        if url.password is not None or url.username is not None:
            _refuse(
                "a thsources URL must not carry credentials (user:password@); put the API key "
                "in the environment (THSOURCES_<NAME>_API_KEY) or a profile's api_key_env"
            )
        options: dict[str, Any] = {}
        for option, value in url.query.items():
            if any(word in option.lower() for word in _SECRET_WORDS):
                _refuse(
                    f"a thsources URL must not carry the secret option {option!r}: URLs end "
                    "up in logs and notebooks; set it in the environment "
                    f"(THSOURCES_{(name or 'NAME').upper().replace('-', '_')}_"
                    f"{option.upper()}) or in a profile's {option}_env"
                )
            if isinstance(value, str) and "://" in value and urlsplit(value).password:
                _refuse(
                    f"a thsources URL must not carry a password inside its {option!r} option; "
                    "leave it out of the URL and set it in the environment or a profile"
                )
            if isinstance(value, tuple):
                _refuse(f"option {option!r} is given more than once in the URL; give it once")
            options[option] = value  # text, as the environment gives: sources parse it
        from .config import resolve

        try:
            resolve(name, options)
        except th.ThsourcesError as exc:
            raise dbapi.translate(exc) from None
        return [name], options

    # -- read-only transactions ---------------------------------------------------------------

    def do_begin(self, dbapi_connection: Any) -> None:
        """Nothing to begin."""

    def do_commit(self, dbapi_connection: Any) -> None:
        """Nothing to commit."""

    def do_rollback(self, dbapi_connection: Any) -> None:
        """Nothing to undo: the pool's reset-on-return must not fail on a read-only source."""

    def get_isolation_level(self, dbapi_connection: Any) -> Any:
        return "AUTOCOMMIT"

    def get_default_isolation_level(self, dbapi_conn: Any) -> Any:
        return "AUTOCOMMIT"

    def _get_server_version_info(self, connection: Any) -> Any:
        return None

    def _get_default_schema_name(self, connection: Any) -> Any:
        return None

    def do_ping(self, dbapi_connection: Any) -> bool:
        return not dbapi_connection.closed

    # -- inspection ---------------------------------------------------------------------------

    def _schema(self, connection: Any) -> list[dict[str, Any]]:
        source = connection.connection.dbapi_connection.source
        try:
            try:
                return source.tables().records()
            except th.UnsupportedQuery:
                listing = _INFORMATION_SCHEMA.get(getattr(source, "dialect", ""))
                if listing is None or source.kind != "sql":
                    raise
                # A database (the sql source) lists its own schema.
                return source.query(listing).records()
        except th.ThsourcesError as exc:
            raise dbapi.translate(exc) from None

    def get_table_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return list(dict.fromkeys(row["table_name"] for row in self._schema(connection)))

    def get_view_names(self, connection: Any, schema: str | None = None, **kw: Any) -> list[str]:
        return []

    def has_table(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> bool:
        return table_name in self.get_table_names(connection, schema)

    def get_columns(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[ReflectedColumn]:
        columns: list[ReflectedColumn] = [
            {
                "name": row["column_name"],
                "type": _sqlalchemy_type(row["data_type"]),
                "nullable": True,
                "default": None,
            }
            for row in self._schema(connection)
            if row["table_name"] == table_name
        ]
        if not columns:
            from sqlalchemy.exc import NoSuchTableError

            raise NoSuchTableError(table_name)
        return columns

    def get_pk_constraint(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> Any:
        return {"constrained_columns": [], "name": None}

    def get_foreign_keys(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []

    def get_indexes(
        self, connection: Any, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[Any]:
        return []
