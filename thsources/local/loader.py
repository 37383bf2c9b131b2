"""Load the generated sample into DuckDB, and keep a ready-built copy in the user cache.

Each table's rows become one Arrow table (a single struct-array conversion) inserted with one
``INSERT ... SELECT``, all in one transaction: far faster than row-wise ``executemany``.
Loaders for other engines reuse :func:`iter_tables` (the generator's neutral output) and
:func:`~.schema.ddl`.

The cached file's name carries the generator version, seed and scale, so a generator change
simply produces a new file. It is built under a temporary name in the same directory and
renamed into place with ``os.replace``: readers never see a half-written database, and two
processes building at once both end up with a complete file (the last rename wins).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from . import sample
from .sample import DEFAULT_SEED, Rows, iter_tables
from .schema import TABLES, Column, TableDef, create_table_sql, quote_ident

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

__all__ = [
    "arrow_schema",
    "arrow_table",
    "build_atomically",
    "cache_dir",
    "create_tables",
    "ensure_sample_db",
    "iter_tables",
    "load_into_duckdb",
    "sample_db_path",
]

CACHE_ENV: Final = "THSOURCES_CACHE_DIR"
INFO_TABLE: Final = "thsources_sample_info"


def _arrow_type(column: Column) -> pa.DataType:
    import pyarrow as pa

    return {
        "int": pa.int32(),
        "bigint": pa.int64(),
        "smallint": pa.int16(),
        "varchar": pa.string(),
        "text": pa.string(),
        "tsvector": pa.string(),
        "boolean": pa.bool_(),
        "timestamp": pa.timestamp("us"),
        "date": pa.date32(),
        "double": pa.float64(),
        "json": pa.string(),  # JSON text; DuckDB casts it on insert
    }[column.base]


def arrow_schema(t: TableDef) -> pa.Schema:
    """Arrow schema of a table, with the schema's exact integer widths."""
    import pyarrow as pa

    return pa.schema([pa.field(c.name, _arrow_type(c), nullable=c.nullable) for c in t.columns])


def arrow_table(t: TableDef, rows: Rows) -> pa.Table:
    """The rows of ``t`` as an Arrow table.

    The tuples are converted in one go as a struct array (about twice as fast as
    transposing them into columns in Python).
    """
    import pyarrow as pa

    schema = arrow_schema(t)
    if not rows:
        return schema.empty_table()
    structs = pa.array(rows, type=pa.struct(list(schema)))
    return pa.Table.from_batches([pa.RecordBatch.from_struct_array(structs)]).cast(schema)


def create_tables(con: duckdb.DuckDBPyConnection, *, constraints: bool = True) -> None:
    """Create every sample table in DuckDB.

    Only primary keys are declared: unique indexes double the load time and the file size,
    and foreign keys slow loading further. The generator guarantees both (the tests check).
    ``constraints=False`` drops the primary keys too.
    """
    for t in TABLES:
        keys_only = TableDef(t.name, t.columns, t.primary_key, t.foreign_keys, (), t.doc)
        con.execute(create_table_sql(keys_only, "duckdb", constraints=constraints))


def load_into_duckdb(
    con: duckdb.DuckDBPyConnection,
    seed: int = DEFAULT_SEED,
    scale: float = 1.0,
    *,
    constraints: bool = True,
) -> dict[str, int]:
    """Create the tables in ``con`` (e.g. ``duckdb.connect()``) and load the sample.

    Returns the row count of each table.
    """
    counts: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION")
    try:
        create_tables(con, constraints=constraints)
        for t, rows in iter_tables(seed, scale):
            counts[t.name] = len(rows)
            if not rows:
                continue
            con.register("__thsources_rows", arrow_table(t, rows))
            try:
                con.execute(
                    f"INSERT INTO {quote_ident(t.name, 'duckdb')} SELECT * FROM __thsources_rows"
                )
            finally:
                con.unregister("__thsources_rows")
        _write_info(con, seed, scale)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    return counts


def _write_info(
    con: duckdb.DuckDBPyConnection, seed: int, scale: float, version: int | None = None
) -> None:
    """Record what built the database, so a stale or foreign file is never reused."""
    version = sample.GENERATOR_VERSION if version is None else version
    con.execute(f"CREATE TABLE {INFO_TABLE} (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    con.executemany(
        f"INSERT INTO {INFO_TABLE} VALUES (?, ?)",
        [
            ("generator_version", str(version)),
            ("seed", str(seed)),
            ("scale", repr(float(scale))),
            ("sample_end", sample.SAMPLE_END.isoformat()),
            ("sample_days", str(sample.SAMPLE_DAYS)),
        ],
    )


def cache_dir() -> Path:
    """Where built samples live: ``$THSOURCES_CACHE_DIR`` or the platform's user cache dir."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("thsources"))


def sample_db_path(seed: int = DEFAULT_SEED, scale: float = 1.0) -> Path:
    """The cache file for this generator version, seed and scale (whether built or not)."""
    name = f"treeherder-sample-v{sample.GENERATOR_VERSION}-seed{seed}-scale{float(scale):g}.duckdb"
    return cache_dir() / name


def _read_info(path: Path) -> dict[str, str] | None:
    """The build record of a sample file; None when it is missing, foreign or unreadable."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.ConnectionException:
        # This process already holds the file open read-write (a plain ``duckdb.connect``):
        # share that instance rather than treating the file as unusable and rebuilding it.
        try:
            con = duckdb.connect(str(path))
        except (duckdb.Error, OSError):
            return None
    except (duckdb.Error, OSError):
        return None
    try:
        return dict(con.execute(f"SELECT key, value FROM {INFO_TABLE}").fetchall())
    except duckdb.Error:
        return None
    finally:
        con.close()


# Files this process has already validated: (path, version, seed, scale, inode, mtime).
_validated: set[tuple[str, int, int, float, int, int]] = set()


def _matches(path: Path, seed: int, scale: float, version: int | None = None) -> bool:
    """True when ``path`` is a complete file built by ``version`` of its generator (default:
    the sample's) with this seed and scale."""
    version = sample.GENERATOR_VERSION if version is None else version
    try:
        st = path.stat()
    except OSError:
        return False
    key = (str(path), version, seed, float(scale), st.st_ino, st.st_mtime_ns)
    if key in _validated:
        return True
    info = _read_info(path)
    ok = info is not None and (
        info.get("generator_version") == str(version)
        and info.get("seed") == str(seed)
        and info.get("scale") == repr(float(scale))
    )
    if ok:
        _validated.add(key)
    return ok


def build_atomically(target: Path, fill: Callable[[duckdb.DuckDBPyConnection], None]) -> Path:
    """Build a DuckDB file with ``fill`` under a temporary name beside ``target``, then rename
    it into place: readers never see a half-built file, and nothing is left after a failure."""
    import duckdb

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    try:
        con = duckdb.connect(str(tmp))
        try:
            fill(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return target


def ensure_sample_db(
    path: Path | None = None, *, seed: int = DEFAULT_SEED, scale: float = 1.0
) -> Path:
    """Path of a ready DuckDB file holding the sample, building it on first use.

    ``path`` defaults to :func:`sample_db_path`. An existing file is reused when it was built
    by the current generator version with the same seed and scale; otherwise it is rebuilt.
    """
    target = Path(path) if path is not None else sample_db_path(seed, scale)
    if _matches(target, seed, scale):
        return target
    return build_atomically(target, lambda con: _fill(con, seed, scale))


def _fill(con: duckdb.DuckDBPyConnection, seed: int, scale: float) -> None:
    load_into_duckdb(con, seed, scale)
