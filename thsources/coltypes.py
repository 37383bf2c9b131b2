"""Canonical column types and their Arrow representation.

Every source maps its own type names onto these seven, so a result looks the same whatever
answered it. Arrow is the hub: pandas and records are derived from the Arrow table.
pyarrow is imported lazily so that ``import thsources`` stays light.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import orjson

if TYPE_CHECKING:
    import pyarrow as pa

ColumnType = Literal["integer", "float", "boolean", "string", "datetime", "date", "json"]

CANONICAL_TYPES: Final[tuple[str, ...]] = (
    "integer",
    "float",
    "boolean",
    "string",
    "datetime",
    "date",
    "json",
)

UTC = dt.UTC


def check_type(name: str) -> ColumnType:
    """Return ``name`` as a canonical type, or raise ``ValueError`` naming the valid ones."""
    if name not in CANONICAL_TYPES:
        raise ValueError(f"unknown column type {name!r}; use one of {', '.join(CANONICAL_TYPES)}")
    return name  # type: ignore[return-value]


def arrow_type(ctype: str) -> pa.DataType:
    """The Arrow type that stores a canonical type (json as the ``arrow.json`` extension)."""
    import pyarrow as pa

    return {
        "integer": pa.int64(),
        "float": pa.float64(),
        "boolean": pa.bool_(),
        "string": pa.string(),
        "datetime": pa.timestamp("us", tz="UTC"),
        "date": pa.date32(),
        "json": pa.json_(),
    }[ctype]


def canonical_from_arrow(t: pa.DataType) -> ColumnType:
    """The canonical type closest to an Arrow type (used for DuckDB and Arrow inputs)."""
    import pyarrow as pa
    import pyarrow.types as pat

    # BaseExtensionType: Arrow's canonical extensions (json, bool8) are not ExtensionType.
    if isinstance(t, pa.BaseExtensionType):
        if t.extension_name == "arrow.json":
            return "json"
        if t.extension_name == "arrow.bool8":
            return "boolean"
        t = t.storage_type
    if pat.is_dictionary(t):
        # DuckDB's ENUM: the type of its values.
        return canonical_from_arrow(t.value_type)
    if pat.is_boolean(t):
        return "boolean"
    if pat.is_integer(t):
        return "integer"
    if pat.is_decimal(t):
        # DuckDB's SUM of integers is a HUGEINT, exported as decimal(38, 0): a whole number.
        return "integer" if t.scale == 0 else "float"
    if pat.is_floating(t):
        return "float"
    if pat.is_timestamp(t):
        return "datetime"
    if pat.is_date(t):
        return "date"
    if pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t):
        return "string"
    if pat.is_null(t) or pat.is_interval(t) or pat.is_duration(t):
        # Intervals become text like Redash's "1 day, 2:03:04" (str of a timedelta).
        return "string"
    return "json"


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        # A str in a json column is JSON text already when it parses; else it is a JSON string.
        try:
            orjson.loads(value)
        except orjson.JSONDecodeError:
            return orjson.dumps(value).decode()
        return value
    return orjson.dumps(value, default=str).decode()


_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1


def _whole(value: Any) -> int | None:
    """An integer column's value; a fraction or a value beyond int64 is refused, never
    truncated or wrapped."""
    if value is None:
        return None
    if isinstance(value, float) and not value.is_integer():
        raise ValueError(f"{value!r} is not a whole number, so it cannot be an integer")
    number = int(value)
    if not _INT64_MIN <= number <= _INT64_MAX:
        raise ValueError(f"{number} does not fit an integer column (64 bits); use a string column")
    return number


_DAY_US: Final = 86_400_000_000


def _interval_text(value: Any) -> str | None:
    """An interval as Python prints a timedelta (``-1 day, 23:59:59.5``), for any size.

    pyarrow's MonthDayNano counts months as 30 days, as PostgreSQL's justify does. The text
    is built with integers because an interval can be longer than a timedelta can hold.
    """
    if value is None:
        return None
    if isinstance(value, dt.timedelta):
        return str(value)
    months, days, nanos = value
    total = (months * 30 + days) * _DAY_US + nanos // 1000
    whole_days, rest = divmod(total, _DAY_US)
    seconds, micros = divmod(rest, 1_000_000)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    clock = f"{hours}:{minutes:02d}:{seconds:02d}" + (f".{micros:06d}" if micros else "")
    if whole_days:
        return f"{whole_days} day{'' if abs(whole_days) == 1 else 's'}, {clock}"
    return clock


def arrow_column(
    arr: pa.Array | pa.ChunkedArray, ctype: str | None = None
) -> tuple[ColumnType, Any]:
    """The canonical type and Arrow column for one column of an Arrow table.

    ``ctype`` is the type asked for; without it the Arrow type decides. Whole numbers wider
    than 64 bits (DuckDB's HUGEINT and UBIGINT, ``numeric(38,0)``, the SUM of integers) are
    an integer column when every value fits, else a string column of their exact digits:
    never a crash, never a wrapped or rounded number.
    """
    import pyarrow as pa

    chosen = check_type(ctype or canonical_from_arrow(arr.type))
    wide = pa.types.is_decimal(arr.type) or pa.types.is_unsigned_integer(arr.type)
    if ctype is None and chosen == "integer" and wide:
        try:
            return chosen, to_arrow_array(arr, chosen)
        except pa.ArrowInvalid:
            return "string", arr.cast(pa.string())
    if ctype is None and chosen in ("datetime", "date") and _beyond_python(arr):
        return "string", pa.array(_far_time_texts(arr), type=pa.string())
    return chosen, to_arrow_array(arr, chosen)


# What Python's datetime can hold: 0001-01-01 to 9999-12-31 (as seconds and days from 1970).
_PY_SECONDS: Final = (-62_135_596_800, 253_402_300_800)
_PY_DAYS: Final = (-719_162, 2_932_897)
_PER_SECOND: Final = {"s": 1, "ms": 1_000, "us": 1_000_000}
_INFINITIES: Final = {2**63 - 1: "infinity", -(2**63) + 1: "-infinity"} | {
    2**31 - 1: "infinity",
    -(2**31) + 1: "-infinity",
}


def _storage(arr: Any) -> tuple[Any, str] | None:
    """The integers under a timestamp or date column and their numpy unit, if any value
    could be beyond Python's datetime."""
    import pyarrow as pa

    t = arr.type
    if pa.types.is_timestamp(t) and t.unit in _PER_SECOND:
        return arr.cast(pa.int64()), t.unit
    if pa.types.is_date32(t):
        return arr.cast(pa.int32()), "D"
    return None


def _beyond_python(arr: Any) -> bool:
    """Whether a timestamp or date column holds values before year 1 or after 9999
    (PostgreSQL's and DuckDB's ``infinity`` among them), which records could not hold."""
    import pyarrow.compute as pc

    found = _storage(arr)
    if found is None:
        return False
    storage, unit = found
    if unit == "D":
        low, high = _PY_DAYS
    else:
        low, high = (bound * _PER_SECOND[unit] for bound in _PY_SECONDS)
    extremes = pc.min_max(storage)
    least, most = extremes["min"].as_py(), extremes["max"].as_py()
    return least is not None and (least < low or most >= high)


def _far_time_texts(arr: Any) -> list[str | None]:
    """Such a column as text: ``infinity``/``-infinity``, else ISO 8601 with the year as
    long as it needs (numpy prints any year)."""
    import numpy as np

    found = _storage(arr)
    assert found is not None
    storage, unit = found
    numpy_unit: Any = unit  # numpy's stubs want a literal unit
    return [
        None
        if v is None
        else _INFINITIES.get(v) or str(np.datetime64(v, numpy_unit)) + ("" if unit == "D" else "Z")
        for v in storage.to_pylist()
    ]


def _parse_datetime(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(value, UTC)
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo is None else parsed.astimezone(UTC)


def _parse_date(value: Any) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _cast_string_column(arr: pa.Array, ctype: str) -> pa.Array | None:
    """Vectorised string -> datetime/date cast; None when the strings need the slow path."""
    import pyarrow as pa

    target = arrow_type(ctype)
    if ctype == "date":
        try:
            return arr.cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
    # Naive strings are UTC wall time; strings with an offset are converted. A failing cast
    # costs as much as a whole parse, so a sample of the column picks which to try first.
    order = [pa.timestamp("us"), target]
    try:
        arr.slice(0, 64).cast(pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        order.reverse()
    for via in order:
        try:
            return arr.cast(via).cast(target)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
    return None


def to_arrow_array(values: Sequence[Any] | pa.Array | pa.ChunkedArray, ctype: str) -> Any:
    """Coerce one column of values to the Arrow type of ``ctype``.

    Accepts Python values (naive datetimes are UTC, ISO strings are parsed, JSON values are
    serialised) or an Arrow array of a compatible type.
    """
    import pyarrow as pa

    target = arrow_type(ctype)
    if isinstance(values, pa.Array | pa.ChunkedArray):
        if values.type == target:
            return values
        if ctype == "json":
            return pa.array([_json_text(v) for v in values.to_pylist()], type=target)
        if ctype in ("datetime", "date") and (
            pa.types.is_string(values.type) or pa.types.is_large_string(values.type)
        ):
            cast = _cast_string_column(values, ctype)
            if cast is not None:
                return cast
            values = values.to_pylist()
        elif ctype == "string" and (
            pa.types.is_interval(values.type) or pa.types.is_duration(values.type)
        ):
            return pa.array([_interval_text(v) for v in values.to_pylist()], type=target)
        elif pa.types.is_timestamp(values.type) and ctype == "datetime":
            if values.type.tz is None:
                return values.cast(pa.timestamp("us")).cast(target)
            return values.cast(target)
        else:
            return values.cast(target)
    seq = values if isinstance(values, list) else list(values)
    if ctype == "json":
        return pa.array([_json_text(v) for v in seq], type=target)
    if ctype == "datetime":
        if seq and all(v is None or isinstance(v, str) for v in seq):
            cast = _cast_string_column(pa.array(seq, type=pa.string()), ctype)
            if cast is not None:
                return cast
        return pa.array([_parse_datetime(v) for v in seq], type=target)
    if ctype == "date":
        return pa.array([_parse_date(v) for v in seq], type=target)
    if ctype == "string":
        return pa.array(
            [v if v is None or isinstance(v, str) else str(v) for v in seq], type=target
        )
    if ctype == "float":
        return pa.array([None if v is None else float(v) for v in seq], type=target)
    if ctype == "integer":
        # pa.array(seq, type=int64) truncates 1.5 to 1 silently: infer, then cast safely.
        try:
            inferred = pa.array(seq)
            if pa.types.is_integer(inferred.type) or pa.types.is_null(inferred.type):
                return inferred.cast(target)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            pass
        return pa.array([_whole(v) for v in seq], type=target)
    if ctype == "boolean":
        return pa.array([None if v is None else bool(v) for v in seq], type=target)
    raise ValueError(f"unknown column type {ctype!r}")
