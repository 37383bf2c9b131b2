"""Every ActiveData answer format decoded into the same flat records.

ActiveData answers one query in four shapes (``list``, ``table``, ``cube``, ``value``), and
which one arrives depends on the query kind as much as on the ``format`` asked for. Callers
want one thing: rows whose keys are dotted column names (``run.result``), with nested objects
flattened and missing keys read as null. :func:`decode` gives exactly that, whatever the shape.

Rules worth knowing (each one is ActiveData behaviour, not a choice made here):

- ``list``: records may be nested (``{"run": {"result": ...}}``) or already dotted; both give
  ``run.result``. With a single, non-list ``select`` the items are bare values, named after
  that select.
- ``table``: ``header`` zipped with each row; a cell holding an object is flattened under its
  column's name.
- ``cube``: one array per select, one axis per edge. Each edge has its partitions plus, unless
  ``allowNulls`` is false, one extra cell for the null/out-of-domain part. Sizes come from the
  partitions, never from array lengths (recorded answers have spurious extra cells). A
  ``groupby`` cube is dense; pass the query and cells for groups that do not exist (every
  value null or a zero count) are dropped, so it matches the list answer.
- ``value``: one record.
- Internal fields leaked by the server's cube formatter (``pull``, ``put``, typed names such as
  ``result.test.~s~``) are ignored.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["DecodeError", "Decoded", "decode", "flatten", "record_key", "single_select_name"]

_LEAKED: Final = frozenset({"pull", "put"})


class DecodeError(ValueError):
    """The answer does not have the shape its format promises."""


@dataclass(frozen=True, slots=True)
class Decoded:
    """Flat records and the column names in the order the answer gave them."""

    columns: list[str]
    records: list[dict[str, Any]]
    format: str


def _leaked(name: str) -> bool:
    return name in _LEAKED or "~" in name


def flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    """Put ``value`` into ``out`` under ``prefix``, objects expanded into dotted names.

    ``"."`` (the whole document) as a prefix adds no name part.
    """
    if isinstance(value, Mapping):
        base = "" if prefix in (".", "") else prefix + "."
        for key, inner in value.items():
            if _leaked(str(key)):
                continue
            flatten(base + str(key), inner, out)
        return
    if value is None:
        out.setdefault(prefix or ".", None)
        return
    out[prefix or "."] = value


def _record(prefix: str, value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    flatten(prefix, value, out)
    return out


def _select_items(query: Mapping[str, Any] | None) -> Any:
    return None if query is None else query.get("select")


def single_select_name(query: Mapping[str, Any] | None) -> str | None:
    """The name bare values take: the select's name when ``select`` is one item (not a list).

    None when the select is a list, a ``*`` selection (those give records), or there is none.
    """
    select = _select_items(query)
    if select is None or isinstance(select, list):
        return None
    if isinstance(select, str):
        return None if select.endswith("*") else select
    if isinstance(select, Mapping):
        name = select.get("name")
        if isinstance(name, str):
            return name
        value = select.get("value")
        aggregate = select.get("aggregate")
        if isinstance(value, str) and not (aggregate and value == "."):
            return None if value.endswith("*") else value
        if aggregate and (value is None or value == "."):
            return str(aggregate)
        return None
    return None


def _is_groupby(query: Mapping[str, Any] | None) -> bool:
    return bool(query is not None and query.get("groupby"))


def _declared_format(answer: Mapping[str, Any]) -> str:
    meta = answer.get("meta")
    fmt = meta.get("format") if isinstance(meta, Mapping) else None
    if isinstance(fmt, str):
        return fmt
    # A real server always declares it; recorded answers sometimes do not: go by shape.
    if "header" in answer:
        return "table"
    if "edges" in answer or "select" in answer or isinstance(answer.get("data"), Mapping):
        return "cube"
    if isinstance(answer.get("data"), list):
        return "list"
    return "value"


def decode(answer: Mapping[str, Any], query: Mapping[str, Any] | None = None) -> Decoded:
    """Decode one ActiveData answer (``{"meta":{"format":...}, "data": ...}``) into records.

    ``query``, when given, is the JX that produced the answer: it names bare values and marks
    ``groupby`` cubes as sparse. Without it, bare values are named ``"."``.
    """
    if not isinstance(answer, Mapping) or "data" not in answer:
        raise DecodeError("an ActiveData answer is an object with a 'data' member")
    fmt = _declared_format(answer)
    data = answer["data"]
    if fmt == "list":
        return _decode_list(data, query)
    if fmt == "table":
        return _decode_table(answer, data)
    if fmt == "cube":
        return _decode_cube(answer, data, query)
    if fmt == "value":
        return _decode_value(data, query)
    raise DecodeError(f"unknown answer format {fmt!r}; expected list, table, cube or value")


def _columns(records: Iterable[Mapping[str, Any]], first: Sequence[str] = ()) -> list[str]:
    """Column names in order of appearance; a name only ever null whose values were objects
    elsewhere (``a`` beside ``a.b``) is dropped."""
    rows = records if isinstance(records, list) else list(records)
    seen = dict.fromkeys(first)
    for rec in rows:
        for key in rec:
            if key not in seen:
                seen[key] = None
    names = list(seen)
    parents = {n for n in names if any(m.startswith(n + ".") for m in names)}
    shadowed = {n for n in parents if all(rec.get(n) is None for rec in rows)}
    return [n for n in names if n not in shadowed]


def _decode_list(data: Any, query: Mapping[str, Any] | None) -> Decoded:
    if not isinstance(data, list):
        raise DecodeError(f"a list answer's data is an array, not {type(data).__name__}")
    name = None if query is not None and not _is_set_op(query) else single_select_name(query)
    if name is None and data and not all(isinstance(x, Mapping) for x in data):
        name = "."
    if name is not None:
        records = [_record(name, x) for x in data]
    else:
        records = [_record("", x) for x in data]
    return Decoded(_columns(records), records, "list")


def _decode_table(answer: Mapping[str, Any], data: Any) -> Decoded:
    header = answer.get("header")
    if not isinstance(header, list) or not isinstance(data, list):
        raise DecodeError("a table answer has a 'header' array and a 'data' array of rows")
    names = [str(h) for h in header]
    keep = [i for i, n in enumerate(names) if not _leaked(n)]
    width = len(names)
    if (
        len(keep) == width
        and all(type(r) is list and len(r) == width for r in data)
        and not any(dict in set(map(type, r)) for r in data)
    ):
        # Plain cells (the usual case): one zip per row, nothing to flatten.
        return Decoded(names, [dict(zip(names, r, strict=True)) for r in data], "table")
    records = []
    for row in data:
        if not isinstance(row, list):
            raise DecodeError(f"a table row is an array, not {type(row).__name__}")
        rec: dict[str, Any] = {}
        for i in keep:
            flatten(names[i], row[i] if i < len(row) else None, rec)
        records.append(rec)
    return Decoded(_columns(records, [names[i] for i in keep]), records, "table")


def _edge_values(edge: Mapping[str, Any]) -> list[Any]:
    """The value each partition of an edge stands for (the null part is not included)."""
    domain = edge.get("domain") or {}
    parts = domain.get("partitions")
    if parts is None:
        if domain.get("type") == "rownum":
            lo, hi = int(domain.get("min") or 0), int(domain.get("max") or 0)
            return list(range(lo, hi))
        return []
    key = domain.get("key")
    values = []
    for p in parts:
        if not isinstance(p, Mapping):
            values.append(p)
        elif isinstance(key, str) and key in p:
            values.append(p[key])
        elif "value" in p:
            values.append(p["value"])
        elif "min" in p:
            values.append(p["min"])
        else:
            values.append(p.get("name"))
    return values


def _cell(array: Any, index: Sequence[int]) -> Any:
    node = array
    for i in index:
        if not isinstance(node, list) or i >= len(node):
            return None
        node = node[i]
    return node


def _decode_cube(answer: Mapping[str, Any], data: Any, query: Mapping[str, Any] | None) -> Decoded:
    if not isinstance(data, Mapping):
        raise DecodeError("a cube answer's data is an object of arrays, one per select")
    edges = [e for e in answer.get("edges") or [] if isinstance(e, Mapping)]
    names = [str(n) for n in data if not _leaked(str(n))]
    rownum = [e for e in edges if (e.get("domain") or {}).get("type") == "rownum"]
    set_op = bool(rownum) or (not edges and all(isinstance(data[n], list) for n in names) and names)
    if query is not None and not edges:
        set_op = _is_set_op(query)
    if set_op:
        if rownum:
            size = len(_edge_values(rownum[0]))
        else:
            size = min((len(data[n]) for n in names), default=0)
        arrays = [data[n] for n in names]
        if all(type(a) is list and len(a) >= size for a in arrays) and not any(
            dict in set(map(type, a)) for a in arrays
        ):
            cut = [a[:size] for a in arrays]
            records = [dict(zip(names, row, strict=True)) for row in zip(*cut, strict=True)]
            return Decoded(list(names), records, "cube")
        records = []
        for i in range(size):
            rec: dict[str, Any] = {}
            for n in names:
                flatten(n, _cell(data[n], [i]), rec)
            records.append(rec)
        return Decoded(_columns(records, names), records, "cube")
    if not edges:
        rec = {}
        for n in names:
            flatten(n, data[n], rec)
        return Decoded(_columns([rec], names), [rec], "cube")
    axes: list[list[Any]] = []
    edge_names: list[str] = []
    for e in edges:
        values = _edge_values(e)
        if e.get("allowNulls", True) is not False:
            values = [*values, None]
        axes.append(values)
        edge_names.append(str(e.get("name")))
    sparse = _is_groupby(query)
    counts = _count_names(query)
    records = []
    for index in itertools.product(*(range(len(a)) for a in axes)):
        rec = {}
        for name, axis, i in zip(edge_names, axes, index, strict=True):
            flatten(name, axis[i], rec)
        cells = {n: _cell(data[n], index) for n in names}
        if sparse and all(v is None or (v == 0 and n in counts) for n, v in cells.items()):
            continue  # a group that does not exist
        for n, v in cells.items():
            flatten(n, v, rec)
        records.append(rec)
    return Decoded(_columns(records, [*edge_names, *names]), records, "cube")


def _count_names(query: Mapping[str, Any] | None) -> set[str]:
    """Names of the ``count`` aggregates of a query (their empty cells read 0, not null)."""
    if query is None:
        return set()
    select = query.get("select")
    if select is None:
        return {"count"}
    names = set()
    for s in select if isinstance(select, list) else [select]:
        if isinstance(s, Mapping) and s.get("aggregate") == "count":
            value = s.get("value")
            names.add(str(s.get("name") or (value if isinstance(value, str) else "count")))
    return names


def _is_set_op(query: Mapping[str, Any]) -> bool:
    if query.get("edges") or query.get("groupby"):
        return False
    select = query.get("select")
    items = select if isinstance(select, list) else [select]
    return not any(isinstance(s, Mapping) and s.get("aggregate") for s in items)


def _decode_value(data: Any, query: Mapping[str, Any] | None) -> Decoded:
    select = None if query is None else query.get("select")
    if isinstance(data, Mapping) and (query is None or isinstance(select, list)):
        rec = _record("", data)
    elif isinstance(select, list) and len(select) == 1:
        # One aggregate in a select list: some servers still answer with the bare value.
        rec = _record(single_select_name({"select": select[0]}) or ".", data)
    else:
        rec = _record(single_select_name(query) or ".", data)
    return Decoded(list(rec), [rec], "value")


def record_key(record: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    """A hashable, order-free form of a record for comparing answers: nulls dropped,
    ``1`` and ``1.0`` equal."""
    items = []
    for k, v in record.items():
        if v is None:
            continue
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        items.append((k, repr(v) if not isinstance(v, list) else repr(_norm_list(v))))
    return tuple(sorted(items))


def _norm_list(values: list[Any]) -> list[Any]:
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]


def iter_cells(records: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> Iterator[list[Any]]:
    """Rows as lists in ``columns`` order (missing keys are null)."""
    for rec in records:
        yield [rec.get(c) for c in columns]


def decode_columns(
    answer: Mapping[str, Any], query: Mapping[str, Any] | None = None
) -> tuple[list[str], list[list[Any]], str]:
    """Column-major :func:`decode`: names, one list of values per name, and the format.

    Table answers and set-operation cubes whose cells are plain values are transposed
    directly, without building a dict per row (the common, large case); anything else goes
    through the records.
    """
    fmt = _declared_format(answer) if isinstance(answer, Mapping) else ""
    data = answer.get("data") if isinstance(answer, Mapping) else None
    if fmt == "table" and isinstance(data, list) and isinstance(answer.get("header"), list):
        names = [str(h) for h in answer["header"]]
        width = len(names)
        if all(isinstance(r, list) and len(r) == width for r in data) and not any(
            _leaked(n) for n in names
        ):
            columns = [list(c) for c in zip(*data, strict=True)] if data else [[] for _ in names]
            if not any(dict in set(map(type, col)) for col in columns):
                return names, columns, fmt
    if fmt == "cube" and isinstance(data, Mapping):
        edges = answer.get("edges") or []
        rownum = [e for e in edges if isinstance(e, Mapping)
                  and (e.get("domain") or {}).get("type") == "rownum"]  # fmt: skip
        if rownum and len(edges) == 1:
            size = len(_edge_values(rownum[0]))
            names = [str(n) for n in data if not _leaked(str(n))]
            if all(isinstance(data[n], list) and len(data[n]) >= size for n in names):
                columns = [list(data[n][:size]) for n in names]
                if not any(dict in set(map(type, col)) for col in columns):
                    return names, columns, fmt
    decoded = decode(answer, query)
    return (
        decoded.columns,
        [[rec.get(n) for rec in decoded.records] for n in decoded.columns],
        decoded.format,
    )
