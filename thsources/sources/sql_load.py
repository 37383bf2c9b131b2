"""Load the sample dataset into a real PostgreSQL or MySQL/MariaDB database.

``thsources sample load URL`` gives users a realistic local replica (Treeherder's tables,
types, keys and the indexes its models declare) and gives tests real servers holding the
same rows as every other source. Everything happens in one transaction on PostgreSQL, so a
failed load leaves nothing behind; MySQL commits DDL implicitly, so there the tables made so
far are dropped again when a load fails.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ConfigError, SourceError
from ..local.sample import DEFAULT_SEED, iter_tables
from ..local.schema import TABLES, Dialect, TableDef, ddl, quote_ident
from .sql import driver_for
from .sql_driver import DatabaseURL
from .sql_mysql import connect_kwargs as mysql_kwargs
from .sql_postgres import connect_kwargs

__all__ = ["INDEXES", "LoadReport", "foreign_key_sql", "index_sql", "load_sample"]

# Secondary indexes from Treeherder's models (Meta.indexes and db_index=True) on the
# columns the sample has; keys and unique constraints come with the tables.
INDEXES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("push", ("revision",)),
    ("push", ("time",)),
    ("job", ("repository_id", "job_type_id", "start_time")),
    ("job", ("repository_id", "submit_time")),
    ("job", ("repository_id", "job_type_id", "push_id")),
    ("job", ("last_modified",)),
    ("job", ("push_id",)),
    ("taskcluster_metadata", ("task_id",)),
    ("failure_line", ("job_guid", "repository_id")),
    ("performance_datum", ("repository_id", "signature_id", "push_timestamp")),
    ("performance_datum", ("repository_id", "signature_id", "push_id")),
    ("performance_datum", ("push_timestamp",)),
    ("performance_alert_summary", ("created",)),
)
_INSERT_ROWS: Final = 5_000


@dataclass(frozen=True)
class LoadReport:
    """What a load did: rows per table, where (password masked)."""

    url: str
    rows: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def index_sql(dialect: Dialect) -> list[str]:
    """CREATE INDEX statements for :data:`INDEXES`."""
    out = []
    for table, columns in INDEXES:
        name = f"{table}_{'_'.join(columns)}_idx"[:63]
        cols = ", ".join(quote_ident(c, dialect) for c in columns)
        out.append(f"CREATE INDEX {name} ON {quote_ident(table, dialect)} ({cols})")
    return out


def foreign_key_sql(dialect: Dialect) -> list[str]:
    """ALTER TABLE statements adding the schema's foreign keys to tables made without them."""
    out = []
    for t in TABLES:
        for fk in t.foreign_keys:
            cols = ", ".join(quote_ident(c, dialect) for c in fk.columns)
            refs = ", ".join(quote_ident(c, dialect) for c in fk.ref_columns)
            out.append(
                f"ALTER TABLE {quote_ident(t.name, dialect)} ADD FOREIGN KEY ({cols}) "
                f"REFERENCES {quote_ident(fk.ref_table, dialect)} ({refs})"
            )
    return out


def load_sample(
    url: str,
    *,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    replace: bool = False,
    progress: Callable[[str, int], None] | None = None,
) -> LoadReport:
    """Create Treeherder's tables in the database at ``url`` and fill them with the sample.

    The database must not hold these tables yet, unless ``replace`` (drop them first).
    Errors map as the ``sql`` source maps them (wrong password: ``AuthenticationError``...).
    """
    parsed = DatabaseURL.parse(url)
    if parsed.backend == "postgresql":
        connect: Callable[[DatabaseURL], Any] = _connect_postgres
        loader: Callable[..., dict[str, int]] = _load_postgres
    elif parsed.backend in ("mysql", "mariadb"):
        connect, loader = _connect_mysql, _load_mysql
    else:
        raise ConfigError(
            f"cannot load the sample into {parsed.masked}: use a postgresql:// or mysql:// URL"
        )
    driver = driver_for(parsed, "sample load")  # refuses drivers other than the shipped ones
    connecting = True
    try:
        con = connect(parsed)
        connecting = False
        rows = loader(con, parsed.masked, iter_tables(seed, scale), replace, progress)
    except SourceError:
        raise
    except Exception as exc:
        err = driver.error(exc, connecting=connecting)
        if err is None:
            raise
        if connecting:
            raise err from None  # its message names the database already
        raise type(err)(
            f"loading the sample into {parsed.masked} failed: {err.message}", source=err.source
        ) from None
    return LoadReport(parsed.masked, rows)


def _existing(tables: Iterable[str], have: set[str], masked: str) -> None:
    clash = sorted(set(tables) & have)
    if clash:
        raise ConfigError(
            f"{masked} already has the table(s) {', '.join(clash[:5])}"
            + (" ..." if len(clash) > 5 else "")
            + "; load into an empty database or schema, or pass --replace to drop them first"
        )


def _connect_postgres(parsed: DatabaseURL) -> Any:
    import psycopg

    return psycopg.connect(**connect_kwargs(parsed, None))


def _load_postgres(
    con: Any,
    masked: str,
    tables: Iterable[tuple[TableDef, Sequence[Sequence[Any]]]],
    replace: bool,
    progress: Callable[[str, int], None] | None,
) -> dict[str, int]:
    counts: dict[str, int] = {}
    with con:  # one transaction: committed on success only, and closed
        have = {
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = current_schema()"
            )
        }
        names = [t.name for t in TABLES]
        if replace:
            for name in reversed(names):
                con.execute(f"DROP TABLE IF EXISTS {quote_ident(name, 'postgresql')} CASCADE")
        else:
            _existing(names, have, masked)
        # Keys checked row by row slow COPY down several times: add them once the rows are in.
        for statement in ddl("postgresql", foreign_keys=False):
            con.execute(statement)
        for table, rows in tables:
            columns = ", ".join(quote_ident(c, "postgresql") for c in table.column_names)
            copy_sql = f"COPY {quote_ident(table.name, 'postgresql')} ({columns}) FROM STDIN"
            with con.cursor() as cur, cur.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
            counts[table.name] = len(rows)
            if progress:
                progress(table.name, len(rows))
        for statement in [*foreign_key_sql("postgresql"), *index_sql("postgresql")]:
            con.execute(statement)
        con.execute("ANALYZE")
    return counts


def _connect_mysql(parsed: DatabaseURL) -> Any:
    import pymysql

    if not parsed.database:
        raise ConfigError("the MySQL URL needs a database name: mysql://user@host/dbname")
    return pymysql.connect(**{**mysql_kwargs(parsed), "charset": "utf8mb4"}, autocommit=False)


def _load_mysql(
    con: Any,
    masked: str,
    tables: Iterable[tuple[TableDef, Sequence[Sequence[Any]]]],
    replace: bool,
    progress: Callable[[str, int], None] | None,
) -> dict[str, int]:
    import pymysql

    created: list[str] = []
    counts: dict[str, int] = {}
    try:
        with con.cursor() as cur:
            cur.execute("SET SESSION time_zone = '+00:00'")
            # The rows are consistent by construction: skip the per-row key checks.
            cur.execute("SET SESSION foreign_key_checks = 0")
            cur.execute("SET SESSION unique_checks = 0")
            cur.execute("SHOW TABLES")
            have = {r[0] for r in cur.fetchall()}
            names = [t.name for t in TABLES]
            if replace:
                for name in reversed(names):
                    cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name, 'mysql')}")
            else:
                _existing(names, have, masked)
            for t, statement in zip(TABLES, ddl("mysql"), strict=True):
                cur.execute(statement)
                created.append(t.name)
            for table, rows in tables:
                columns = ", ".join(quote_ident(c, "mysql") for c in table.column_names)
                marks = ", ".join(["%s"] * len(table.column_names))
                insert = (
                    f"INSERT INTO {quote_ident(table.name, 'mysql')} ({columns}) VALUES ({marks})"
                )
                for start in range(0, len(rows), _INSERT_ROWS):
                    cur.executemany(insert, rows[start : start + _INSERT_ROWS])
                counts[table.name] = len(rows)
                if progress:
                    progress(table.name, len(rows))
            con.commit()
            for statement in index_sql("mysql"):
                cur.execute(statement)
            cur.execute("SET SESSION foreign_key_checks = 1")
            cur.execute("SET SESSION unique_checks = 1")
    except BaseException:
        # DDL commits implicitly in MySQL: take the half-made tables away again.
        with contextlib.suppress(pymysql.Error), con.cursor() as cur:
            cur.execute("SET SESSION foreign_key_checks = 0")
            for name in reversed(created):
                cur.execute(f"DROP TABLE IF EXISTS {quote_ident(name, 'mysql')}")
        raise
    finally:
        con.close()
    return counts
