"""The uniform result: typed columns over one Arrow table, whatever source answered.

A :class:`Result` is column-major (an Arrow table) because results can have millions of rows;
records, pandas and Arrow views are all derived from it. pyarrow and pandas are imported on
first use, never by ``import thsources``.
"""

from __future__ import annotations

import datetime as dt
import html
import importlib
import operator
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, overload

import orjson

from .coltypes import ColumnType, arrow_column, arrow_type, check_type, to_arrow_array
from .errors import ConfigError, MissingDependency

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["Column", "Result", "ResultMeta"]

HTML_MAX_ROWS: Final = 20
"""Rows a notebook shows of a result (``_repr_html_``); ``head(n)`` shows other slices."""


@dataclass(frozen=True, slots=True)
class Column:
    """One result column: its name and canonical type."""

    name: str
    type: ColumnType

    def __post_init__(self) -> None:
        check_type(self.type)


@dataclass(frozen=True, slots=True)
class ResultMeta:
    """Where a result came from and how it was obtained."""

    source: str | None = None
    query: str | None = None
    job_id: str | None = None
    result_id: int | str | None = None
    runtime_s: float | None = None
    retrieved_at: dt.datetime | None = None
    cached: bool = False
    truncated: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


class Result:
    """Typed rows of one query: ``columns``, ``meta``, and views as records, pandas or Arrow."""

    __slots__ = ("_columns", "_table", "meta")

    def __init__(
        self, columns: Sequence[Column], table: pa.Table, meta: ResultMeta | None = None
    ) -> None:
        names = [c.name for c in columns]
        if names != list(table.column_names):
            raise ValueError(f"columns {names} do not match the table's {table.column_names}")
        for col, arrow_col in zip(columns, table.columns, strict=True):
            expected = arrow_type(col.type)
            if arrow_col.type != expected:
                raise ValueError(
                    f"column {col.name!r} is {arrow_col.type}, expected {expected} for {col.type}"
                )
        self._columns = tuple(columns)
        self._table = table
        self.meta = meta or ResultMeta()

    # -- construction -------------------------------------------------------------------------

    @classmethod
    def from_columns(
        cls,
        columns: Sequence[Column],
        data: Sequence[Sequence[Any] | pa.Array | pa.ChunkedArray],
        meta: ResultMeta | None = None,
    ) -> Result:
        """Build from column-major data, coercing each column to its canonical type."""
        import pyarrow as pa

        if len(columns) != len(data):
            raise ValueError(f"{len(columns)} columns but {len(data)} data columns")
        arrays = [to_arrow_array(values, c.type) for c, values in zip(columns, data, strict=True)]
        schema = pa.schema([pa.field(c.name, arrow_type(c.type)) for c in columns])
        if not columns:
            return cls([], pa.table({}), meta)
        return cls(columns, pa.Table.from_arrays(arrays, schema=schema), meta)

    @classmethod
    def from_rows(
        cls,
        columns: Sequence[Column],
        rows: Sequence[Sequence[Any]],
        meta: ResultMeta | None = None,
    ) -> Result:
        """Build from row tuples (small inputs; large ones should come column-major)."""
        data: list[Sequence[Any]] = (
            [list(col) for col in zip(*rows, strict=True)] if rows else [[] for _ in columns]
        )
        return cls.from_columns(columns, data, meta)

    @classmethod
    def from_arrow(
        cls,
        table: pa.Table,
        types: Mapping[str, str] | None = None,
        meta: ResultMeta | None = None,
    ) -> Result:
        """Wrap an Arrow table, mapping each column to a canonical type (or the one given)."""
        import pyarrow as pa

        types = types or {}
        columns: list[Column] = []
        arrays = []
        names = list(table.column_names)
        if len(set(names)) != len(names):
            names = dedupe_names(names)
        for name, arr in zip(names, table.columns, strict=True):
            ctype, array = arrow_column(arr, types.get(name))
            columns.append(Column(name, ctype))
            arrays.append(array)
        schema = pa.schema([pa.field(c.name, arrow_type(c.type)) for c in columns])
        return cls(columns, pa.Table.from_arrays(arrays, schema=schema), meta)

    def with_meta(self, **changes: Any) -> Result:
        """A copy with some ``meta`` fields changed (the data is shared, not copied)."""
        return Result(self._columns, self._table, replace(self.meta, **changes))

    # -- views --------------------------------------------------------------------------------

    @property
    def columns(self) -> list[Column]:
        return list(self._columns)

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self._columns]

    def __len__(self) -> int:
        return self._table.num_rows

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.records())

    def __repr__(self) -> str:
        cols = ", ".join(f"{c.name}:{c.type}" for c in self._columns)
        return f"<Result {len(self)} rows [{cols}] from {self.meta.source or 'unknown'}>"

    @overload
    def __getitem__(self, key: str) -> list[Any]: ...
    @overload
    def __getitem__(self, key: slice) -> Result: ...
    @overload
    def __getitem__(self, key: int) -> dict[str, Any]: ...

    def __getitem__(self, key: str | slice | int) -> list[Any] | Result | dict[str, Any]:
        """``res[0]`` a record (negative indices count from the end), ``res[2:5]`` a
        Result of those rows (same columns and meta), ``res["col"]`` a column's values."""
        if isinstance(key, str):
            return self.column(key)
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step == 1:
                table = self._table.slice(start, max(0, stop - start))
            else:
                table = self._table.take(list(range(start, stop, step)))
            return Result(self._columns, table, self.meta)
        if isinstance(key, bool):
            raise TypeError("a Result is indexed by a row number, a slice or a column name")
        try:
            index = operator.index(key)
        except TypeError:
            raise TypeError(
                "a Result is indexed by a row number, a slice or a column name, "
                f"not {type(key).__name__}"
            ) from None
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"row {index} is out of range: the result has {n} rows")
        row = Result(self._columns, self._table.slice(index % n, 1), self.meta)
        return row.records()[0]

    def head(self, n: int = 5) -> Result:
        """The first ``n`` rows (all but the last ``-n`` when negative), as pandas does."""
        return self[:n]

    def _repr_html_(self) -> str:
        """A notebook's view: the first rows as an HTML table, then where they came from."""
        shown = self.head(HTML_MAX_ROWS)
        head = "".join(
            f"<th>{html.escape(c.name)}<br><small>{html.escape(c.type)}</small></th>"
            for c in self._columns
        )
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(_cell_text(v))}</td>" for v in row) + "</tr>"
            for row in shown.rows()
        )
        more = len(self) - len(shown)
        notes = [f"{len(self)} row{'' if len(self) == 1 else 's'}"]
        if more:
            notes[0] += f" (first {len(shown)} shown)"
        notes.extend(_meta_notes(self.meta))
        return (
            f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<p><small>{html.escape(' · '.join(notes))}</small></p>"
        )

    def column(self, name: str) -> list[Any]:
        """One column's values as Python objects (datetimes UTC-aware, json parsed)."""
        for col, arr in zip(self._columns, self._table.columns, strict=True):
            if col.name == name:
                return _pylist(col, arr)
        raise KeyError(f"no column {name!r}; columns are {self.column_names}")

    def records(self) -> list[dict[str, Any]]:
        """Rows as dicts; datetimes are timezone-aware UTC, json values parsed."""
        names = self.column_names
        values = [_pylist(c, a) for c, a in zip(self._columns, self._table.columns, strict=True)]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]

    def rows(self) -> list[tuple[Any, ...]]:
        """Rows as tuples in column order."""
        values = [_pylist(c, a) for c, a in zip(self._columns, self._table.columns, strict=True)]
        return list(zip(*values, strict=True))

    def to_arrow(self) -> pa.Table:
        """The Arrow table (json columns use the ``arrow.json`` extension type)."""
        return self._table

    def _plain_table(self) -> pa.Table:
        """The Arrow table with json columns as their text: readers that do not know the
        ``arrow.json`` extension type (pandas, polars) get a plain string."""
        import pyarrow as pa

        if not any(c.type == "json" for c in self._columns):
            return self._table
        return pa.Table.from_arrays(
            [
                a.cast(pa.string()) if c.type == "json" else a
                for c, a in zip(self._columns, self._table.columns, strict=True)
            ],
            names=self.column_names,
        )

    def to_pandas(self) -> pd.DataFrame:
        """A DataFrame with nullable dtypes: Int64, float64, boolean, string, UTC datetimes.

        ``date`` columns are ``datetime64[ms]`` at naive midnight (missing: ``NaT``), so
        they merge and compare with ordinary pandas dates such as ``pd.date_range``.
        """
        import pandas as pd
        import pyarrow as pa

        mapping = {
            pa.int64(): pd.Int64Dtype(),
            pa.bool_(): pd.BooleanDtype(),
            pa.string(): pd.StringDtype(),
        }
        json_cols = [c.name for c in self._columns if c.type == "json"]
        frame = self._plain_table().to_pandas(types_mapper=mapping.get, date_as_object=False)
        for c in self._columns:
            if c.type == "date" and str(frame[c.name].dtype) != "datetime64[ms]":
                frame[c.name] = frame[c.name].astype("datetime64[ms]")
        for name in json_cols:
            frame[name] = pd.Series(
                [None if v is None or v is pd.NA else orjson.loads(v) for v in frame[name]],
                dtype=object,
                index=frame.index,
            )
        return frame

    def to_polars(self) -> Any:
        """A polars DataFrame (json columns as their text); needs polars installed."""
        try:
            polars = importlib.import_module("polars")
        except ImportError:
            raise MissingDependency(
                "to_polars() needs polars, which is not installed: pip install polars"
            ) from None
        return polars.from_arrow(self._plain_table())

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write CSV to ``path`` atomically, as ``thsources ... -o FILE.csv`` does."""
        self._write_file("csv", path)

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write Parquet to ``path`` atomically (json columns stored as text)."""
        self._write_file("parquet", path)

    def _write_file(self, fmt: str, path: str | os.PathLike[str]) -> None:
        from .output import check_writable, write_result

        target = Path(path)
        check_writable(target)
        try:
            write_result(self, fmt, path=target)
        except OSError as exc:
            raise ConfigError(
                f"cannot write {fmt} to {target}: {exc.strerror or exc}; choose another path"
            ) from None


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def _meta_notes(meta: ResultMeta) -> list[str]:
    notes = []
    if meta.source:
        notes.append(f"from {meta.source}")
    if meta.job_id:
        notes.append(f"job {meta.job_id}")
    if meta.runtime_s is not None:
        notes.append(f"ran {meta.runtime_s:.3g} s")
    if meta.retrieved_at is not None:
        notes.append(f"retrieved {_cell_text(meta.retrieved_at)}")
    if meta.cached:
        notes.append("cached")
    if meta.truncated:
        notes.append("truncated by the source")
    return notes


def _pylist(col: Column, arr: pa.ChunkedArray) -> list[Any]:
    values = arr.to_pylist()
    if col.type == "json":
        return [None if v is None else orjson.loads(v) for v in values]
    if col.type == "datetime":
        return [None if v is None else v.replace(tzinfo=dt.UTC) for v in values]
    return values


def dedupe_names(names: Sequence[str]) -> list[str]:
    """Rename repeated column names ``x``, ``x1``, ``x2``, ... as Redash does."""
    seen: dict[str, int] = {}
    out: list[str] = []
    taken = set(names)
    for name in names:
        if name not in seen:
            seen[name] = 0
            out.append(name)
            continue
        n = seen[name]
        while True:
            n += 1
            candidate = f"{name}{n}"
            if candidate not in taken:
                break
        seen[name] = n
        taken.add(candidate)
        out.append(candidate)
    return out
