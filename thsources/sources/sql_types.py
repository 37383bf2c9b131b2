"""Database column types onto the canonical ones, and row batches into typed Arrow columns.

A server-side cursor hands rows over in batches; each batch is turned column by column into
Arrow arrays of the canonical type straight away, so the Python row tuples of one batch are
the only copy that ever exists besides the Arrow table being built. The fast path hands the
values to ``pyarrow.array`` with the target type; values it cannot take (Decimals, zero
dates, UUIDs, intervals, arrays) go through :func:`thsources.coltypes.to_arrow_array`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from ..coltypes import ColumnType, arrow_type, to_arrow_array
from ..errors import QueryTimeout
from ..result import Column, Result, ResultMeta

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = [
    "MYSQL_TYPES",
    "POSTGRES_TYPES",
    "ColumnSpec",
    "build_result",
    "mysql_column_type",
    "postgres_column_type",
]

# PostgreSQL type names (pg_type.typname) by canonical type; anything else is a string.
POSTGRES_TYPES: Final[dict[str, ColumnType]] = {
    **dict.fromkeys(("int2", "int4", "int8", "oid", "xid", "cid"), "integer"),
    **dict.fromkeys(("float4", "float8", "numeric", "money"), "float"),
    "bool": "boolean",
    **dict.fromkeys(("timestamp", "timestamptz"), "datetime"),
    "date": "date",
    **dict.fromkeys(("json", "jsonb"), "json"),
}

# PyMySQL FIELD_TYPE codes by canonical type; anything else is a string.
MYSQL_TYPES: Final[dict[int, ColumnType]] = {
    **dict.fromkeys((1, 2, 3, 8, 9, 13), "integer"),  # TINY SHORT LONG LONGLONG INT24 YEAR
    **dict.fromkeys((4, 5), "float"),  # FLOAT DOUBLE
    **dict.fromkeys((7, 12), "datetime"),  # TIMESTAMP DATETIME
    **dict.fromkeys((10, 14), "date"),  # DATE NEWDATE
    245: "json",  # JSON (MySQL; MariaDB's JSON is LONGTEXT and comes back as a string)
}
_MYSQL_DECIMAL: Final = (0, 246)  # DECIMAL NEWDECIMAL


@dataclass(frozen=True, slots=True)
class ColumnSpec:
    """One result column: canonical type, and how a batch of its values becomes Arrow."""

    name: str
    type: ColumnType
    convert: Callable[[Sequence[Any], ColumnType], Any] | None = None


def postgres_column_type(type_name: str | None, is_array: bool, scale: int | None) -> ColumnType:
    """The canonical type of a PostgreSQL column; numeric(p, 0) holds whole numbers."""
    if is_array:
        return "json"
    if type_name == "numeric" and scale == 0:
        return "integer"
    return POSTGRES_TYPES.get(type_name or "", "string")


def mysql_column_type(type_code: int, scale: int | None) -> ColumnType:
    """The canonical type of a MySQL/MariaDB column (DECIMAL(p, 0), e.g. SUM(int), is whole)."""
    if type_code in _MYSQL_DECIMAL:
        return "integer" if scale == 0 else "float"
    return MYSQL_TYPES.get(type_code, "string")


def numeric_text(values: Sequence[Any], ctype: ColumnType) -> Any:
    """Numbers loaded as text (PostgreSQL numeric, MySQL DECIMAL): one vectorised Arrow cast."""
    import pyarrow as pa

    try:
        return pa.array(values, type=pa.string()).cast(arrow_type(ctype))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Beyond int64, or a scale the text cannot be cast with: per-value, never truncated.
        return to_arrow_array([None if v is None else float(v) for v in values], ctype)


def json_text(values: Sequence[Any], ctype: ColumnType) -> Any:
    """JSON the server sends as text is valid JSON already: wrap it without re-parsing."""
    import pyarrow as pa

    storage = pa.array(
        [v.decode() if isinstance(v, bytes) else v for v in values], type=pa.string()
    )
    return pa.ExtensionArray.from_storage(pa.json_(), storage)


def _to_arrow(values: Sequence[Any], ctype: ColumnType) -> Any:
    import pyarrow as pa

    try:
        return pa.array(values, type=arrow_type(ctype), from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        pass
    if ctype == "string":
        values = [
            bytes(v).decode("utf-8", "replace")
            if isinstance(v, bytes | bytearray | memoryview)
            else v
            for v in values
        ]
    elif ctype in ("datetime", "date"):
        # MySQL's zero dates ('0000-00-00') come back as the raw text: they are no date.
        values = [None if isinstance(v, str) and v.startswith("0000") else v for v in values]
    return to_arrow_array(list(values), ctype)


def build_result(
    specs: Sequence[ColumnSpec],
    batches: Iterable[Sequence[Sequence[Any]]],
    meta: ResultMeta,
    stop: Callable[[], bool] | None = None,
) -> Result:
    """A Result from row batches, each turned into Arrow columns as it arrives.

    ``stop`` is asked after each batch: a cancel sent while the client converts a batch
    finds no statement running, so the deadline is also checked here, between fetches.
    """
    import pyarrow as pa

    schema = pa.schema([pa.field(s.name, arrow_type(s.type)) for s in specs])
    columns = [Column(s.name, s.type) for s in specs]
    record_batches: list[pa.RecordBatch] = []
    for rows in batches:
        if not rows:
            continue
        arrays = []
        for k, values in enumerate(zip(*rows, strict=True)):
            spec = specs[k]
            arrays.append((spec.convert or _to_arrow)(values, spec.type))
        del rows
        record_batches.append(pa.RecordBatch.from_arrays(arrays, schema=schema))
        if stop is not None and stop():
            raise QueryTimeout("the deadline passed while rows were being read", source=meta.source)
    table = pa.Table.from_batches(record_batches, schema=schema)
    return Result(columns, table, meta)
