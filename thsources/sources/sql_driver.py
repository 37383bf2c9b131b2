"""What the ``sql`` source needs from one database driver, and the URL it is built from.

A driver opens connections, runs one statement in a read-only transaction under the
server's own time limit, streams its rows in batches, cancels it on the server from another
thread, and says which of its exceptions means what. The source (``sql.py``) holds the pool,
the deadline timer and Ctrl-C handling, the same for every driver.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, ThsourcesError
from ..result import Result, ResultMeta, dedupe_names
from .sql_params import Paramstyle
from .sql_types import ColumnSpec, build_result

__all__ = ["DatabaseURL", "Driver", "RowStream"]


@dataclass(frozen=True)
class DatabaseURL:
    """A parsed SQLAlchemy-style URL; ``masked`` is the text fit for any message."""

    backend: str
    driver: str | None
    host: str | None
    port: int | None
    username: str | None
    password: str | None = field(repr=False)
    database: str | None
    query: Mapping[str, str]
    masked: str

    @classmethod
    def parse(cls, url: str) -> DatabaseURL:
        try:
            from sqlalchemy.engine import make_url
            from sqlalchemy.exc import ArgumentError
        except ImportError:  # pragma: no cover - the db extra is missing
            raise ConfigError(
                "the sql source needs the database extras: pip install 'thsources[db]'"
            ) from None
        try:
            parsed = make_url(url)
        except (ArgumentError, ValueError):
            raise ConfigError(
                "the sql source's url is not a database URL; write it like "
                "postgresql://user:password@host:5432/treeherder, mysql://user@host/treeherder, "
                "sqlite:///path/to/file.db or duckdb:///path/to/file.duckdb"
            ) from None
        query = {k: (v if isinstance(v, str) else v[-1]) for k, v in parsed.query.items()}
        return cls(
            backend=parsed.get_backend_name(),
            driver=parsed.drivername.partition("+")[2] or None,
            host=parsed.host,
            port=parsed.port,
            username=parsed.username,
            password=parsed.password,
            database=parsed.database,
            query=query,
            masked=parsed.render_as_string(hide_password=True),
        )

    def redact(self, text: str) -> str:
        """``text`` with the password cut out wherever it appears."""
        if self.password:
            text = text.replace(self.password, "***")
        return text


@dataclass
class RowStream:
    """An open statement: its columns and an iterator of row batches."""

    columns: Sequence[ColumnSpec]
    batches: Iterator[Sequence[Sequence[Any]]]


class Driver(ABC):
    """One database engine behind the ``sql`` source."""

    dialect: str = "postgresql"
    paramstyle: Paramstyle = "pyformat"
    arrays: bool = False
    """Whether ``IN :list`` is sent as ``= ANY(array)`` (the driver binds lists as arrays)."""

    def __init__(self, url: DatabaseURL, source: str) -> None:
        self.url = url
        self.source = source

    @abstractmethod
    def connect(self, timeout: float) -> Any:
        """A new connection, opened within ``timeout`` seconds, set up read-only."""

    @abstractmethod
    def open(
        self, con: Any, sql: str, values: Mapping[str, Any], timeout: float, batch_rows: int
    ) -> RowStream:
        """Start ``sql`` in a read-only transaction limited to ``timeout`` s on the server
        (``math.inf``: no limit); its rows come ``batch_rows`` at a time."""

    def fetch(
        self,
        con: Any,
        sql: str,
        values: Mapping[str, Any],
        timeout: float,
        batch_rows: int,
        meta: ResultMeta,
        stop: Callable[[], bool],
    ) -> Result:
        """Run ``sql`` and build its result batch by batch, until ``stop()`` says otherwise."""
        stream = self.open(con, sql, values, timeout, batch_rows)
        return build_result(stream.columns, stream.batches, meta, stop)

    @abstractmethod
    def cancel(self, con: Any) -> None:
        """Stop the statement running on ``con``, on the server; callable from any thread."""

    @abstractmethod
    def finish(self, con: Any) -> None:
        """End the transaction so the connection can serve the next query."""

    @abstractmethod
    def close(self, con: Any) -> None:
        """Close the connection, whatever state it is in."""

    @abstractmethod
    def error(self, exc: BaseException, *, connecting: bool) -> ThsourcesError | None:
        """The error-tree exception for a driver exception, or None if it is not one.

        A statement stopped by the server's time limit maps to ``QueryTimeout``; one
        stopped by a cancel request maps to ``QueryCancelled`` (the source turns it into
        ``QueryTimeout`` when its own deadline timer sent the cancel).
        """

    @staticmethod
    def unique_names(names: Sequence[str]) -> list[str]:
        names = list(names)
        return dedupe_names(names) if len(set(names)) != len(names) else names
