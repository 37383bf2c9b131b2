"""Named queries: analyses with typed parameters, declared output columns and one SQL variant
per dialect, so the same call gives the same records from every source.

Each query is a folder holding ``query.toml`` (description, parameters, output columns, row
order) and one ``<dialect>.sql`` file per variant. The shipped folders live in the top-level
``queries/`` of the repository (installed as ``thsources._queries``); extra folders can be
added with ``THSOURCES_QUERIES_PATH`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .coltypes import arrow_type, check_type
from .errors import ConfigError, ParameterError, QueryError, UnsupportedQuery
from .result import Column, Result
from .sqlbind import placeholders

if TYPE_CHECKING:
    from .sources.base import Source

__all__ = ["NamedQuery", "Param", "bind_params", "get", "list_queries", "run_named"]

QUERIES_PATH_ENV: Final = "THSOURCES_QUERIES_PATH"
PARAM_TYPES: Final = (
    "string",
    "integer",
    "float",
    "boolean",
    "date",
    "datetime",
    "string[]",
    "integer[]",
)
# Which variant files a dialect can run, best first.
VARIANTS_FOR_DIALECT: Final[dict[str, tuple[str, ...]]] = {
    "duckdb": ("duckdb", "postgresql"),
    "postgresql": ("postgresql",),
    "mysql": ("mysql",),
    "bigquery": ("bigquery",),
    "jx": ("activedata",),  # activedata.json: JX, see thsources.jx.named
}
_MISSING: Final = object()


@dataclass(frozen=True)
class Param:
    """A declared parameter; ``required`` ones have no default (``optional`` defaults to null)."""

    name: str
    type: str
    default: Any = _MISSING
    description: str = ""

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    def coerce(self, value: Any) -> Any:
        """The value as this parameter's type; strings (from the CLI) are parsed."""
        if value is None:
            return None
        base = self.type.removesuffix("[]")
        if self.type.endswith("[]"):
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list | tuple | set | frozenset):
                raise self._error(value, f"a list of {base}s (or a comma-separated string)")
            out = [
                _coerce_scalar(self, base, v.strip() if isinstance(v, str) else v) for v in items
            ]
            if not out:
                raise self._error(value, f"at least one {base}")
            return out
        return _coerce_scalar(self, base, value)

    def _error(self, value: Any, expected: str) -> ParameterError:
        return ParameterError(f"parameter {self.name!r} must be {expected}, got {value!r}")


def _coerce_scalar(param: Param, base: str, value: Any) -> Any:
    try:
        if base == "string":
            if not isinstance(value, str):
                raise TypeError
            return value
        if base == "integer":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise TypeError
            return int(value)
        if base == "float":
            if isinstance(value, bool):
                raise TypeError
            return float(value)
        if base == "boolean":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("true", "1", "yes", "on"):
                return True
            if text in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if base == "date":
            if isinstance(value, dt.datetime):
                raise TypeError
            if isinstance(value, dt.date):
                return value
            return dt.date.fromisoformat(str(value))
        if base == "datetime":
            if isinstance(value, dt.datetime):
                parsed = value
            elif isinstance(value, dt.date):
                parsed = dt.datetime(value.year, value.month, value.day)
            else:
                parsed = dt.datetime.fromisoformat(str(value))
            return parsed if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    except (TypeError, ValueError, OverflowError):
        pass
    expected = {
        "string": "a string",
        "integer": "an integer",
        "float": "a number",
        "boolean": "true or false",
        "date": "a date (YYYY-MM-DD)",
        "datetime": "a datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC unless an offset is given)",
    }[base]
    raise param._error(value, expected)


@dataclass(frozen=True)
class NamedQuery:
    """One analysis: its parameters, output contract and SQL variants."""

    name: str
    description: str
    params: tuple[Param, ...]
    columns: tuple[Column, ...]
    order: str
    variants: Mapping[str, str] = field(default_factory=dict)
    folder: Path | None = None

    def variant_for(self, dialect: str) -> tuple[str, str]:
        """(variant name, SQL) to run on a source of ``dialect``."""
        for name in VARIANTS_FOR_DIALECT.get(dialect, (dialect,)):
            if name in self.variants:
                return name, self.variants[name]
        raise UnsupportedQuery(
            f"named query {self.name!r} has no variant for the {dialect} dialect "
            f"(it has: {', '.join(sorted(self.variants))})"
        )


def _query_roots() -> list[Path]:
    roots: list[Path] = []
    extra = os.environ.get(QUERIES_PATH_ENV, "")
    roots.extend(Path(p).expanduser() for p in extra.split(os.pathsep) if p)
    roots.append(_shipped_root())
    return roots


def _shipped_root() -> Path:
    """The installed ``thsources._queries``, or ``queries/`` of a source checkout on sys.path
    (``python -m thsources`` run from the repository imports the package from there)."""
    try:
        return Path(str(resources.files("thsources._queries")))
    except ModuleNotFoundError:
        return Path(__file__).resolve().parent.parent / "queries"


def _parse(folder: Path) -> NamedQuery:
    spec_file = folder / "query.toml"
    try:
        spec = tomllib.loads(spec_file.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read the named query {spec_file}: {exc}") from None
    params = []
    for p in spec.get("params", []):
        ptype = p.get("type", "string")
        if ptype not in PARAM_TYPES:
            raise ConfigError(
                f"{spec_file}: parameter {p.get('name')!r} has unknown type {ptype!r}"
            )
        default = None if p.get("optional") else p.get("default", _MISSING)
        params.append(Param(p["name"], ptype, default, p.get("description", "")))
    columns = tuple(Column(c["name"], check_type(c["type"])) for c in spec.get("columns", []))
    variants = {f.stem: f.read_text(encoding="utf-8") for f in sorted(folder.glob("*.sql"))}
    declared = {p.name for p in params}
    jx_file = folder / "activedata.json"
    if jx_file.is_file():
        from .jx.named import eval_names, parse_variant

        text = jx_file.read_text(encoding="utf-8")
        if not eval_names(parse_variant(text, str(jx_file))) <= declared:
            raise ConfigError(f"{jx_file}: $eval names a parameter that is not declared")
        variants["activedata"] = text
    for vname, sql in variants.items():
        if vname == "activedata":
            continue
        dialect = vname if vname in VARIANTS_FOR_DIALECT else "postgresql"
        used = set(placeholders(sql, dialect))
        if used != declared:
            raise ConfigError(
                f"{folder / (vname + '.sql')}: placeholders {sorted(used)} do not match the "
                f"declared parameters {sorted(declared)}"
            )
    return NamedQuery(
        name=folder.name,
        description=spec.get("description", "").strip(),
        params=tuple(params),
        columns=columns,
        order=spec.get("order", ""),
        variants=variants,
        folder=folder,
    )


@cache
def _load_folder(folder: Path, mtime: float) -> NamedQuery:
    return _parse(folder)


def list_queries() -> list[NamedQuery]:
    """Every named query; one in ``THSOURCES_QUERIES_PATH`` hides a shipped one of that name."""
    found: dict[str, NamedQuery] = {}
    for root in _query_roots():
        if not root.is_dir():
            continue
        for folder in sorted(root.iterdir()):
            spec = folder / "query.toml"
            if folder.name in found or not spec.is_file():
                continue
            found[folder.name] = _load_folder(folder, spec.stat().st_mtime)
    return [found[k] for k in sorted(found)]


def get(name: str) -> NamedQuery:
    """The named query ``name`` or a ``ConfigError`` listing the known ones."""
    queries = {q.name: q for q in list_queries()}
    try:
        return queries[name]
    except KeyError:
        raise ConfigError(
            f"no named query {name!r}; known: {', '.join(sorted(queries))} "
            "(`thsources queries` lists them with their parameters)"
        ) from None


def bind_params(query: NamedQuery, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``params`` against the declaration; fill defaults; coerce types."""
    params = dict(params or {})
    declared = {p.name: p for p in query.params}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        raise ParameterError(
            f"named query {query.name!r} has no parameter(s) {', '.join(unknown)}; "
            f"its parameters: {', '.join(declared) or 'none'}"
        )
    out: dict[str, Any] = {}
    missing = []
    for p in query.params:
        if p.name in params:
            out[p.name] = p.coerce(params[p.name])
        elif p.required:
            missing.append(p.name)
        else:
            out[p.name] = p.coerce(p.default)
    if missing:
        raise ParameterError(
            f"named query {query.name!r} needs parameter(s) {', '.join(missing)}; "
            "pass them with params={...} or -p NAME=VALUE"
        )
    return out


def conform(query: NamedQuery, result: Result) -> Result:
    """Declared columns first, in order and with their declared types; extra ones kept after."""
    import pyarrow as pa

    table = result.to_arrow()
    have = {c.name: (c, table.column(i)) for i, c in enumerate(result.columns)}
    missing = [c.name for c in query.columns if c.name not in have]
    if missing:
        raise QueryError(
            f"named query {query.name!r} returned no column(s) {', '.join(missing)} "
            f"(got {', '.join(have)}); its variant for this source is out of date",
            source=result.meta.source,
        )
    columns: list[Column] = []
    arrays = []
    for col in query.columns:
        _, arr = have[col.name]
        target = arrow_type(col.type)
        if arr.type != target:
            try:
                arr = arr.cast(target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
                raise QueryError(
                    f"named query {query.name!r}: column {col.name!r} should be {col.type} "
                    f"but the source returned {arr.type}: {exc}",
                    source=result.meta.source,
                ) from None
        columns.append(col)
        arrays.append(arr)
    declared = {c.name for c in query.columns}
    for name, (col, arr) in have.items():
        if name not in declared:
            columns.append(col)
            arrays.append(arr)
    new_table = pa.Table.from_arrays(arrays, names=[c.name for c in columns])
    return Result(columns, new_table, result.meta)


def run_named(
    name: str,
    source: Source,
    params: Mapping[str, Any] | None = None,
    *,
    max_age: float = 0,
    timeout: float | None = None,
    **query_options: Any,
) -> Result:
    """Run named query ``name`` on ``source``; the result matches the declared columns."""
    query = get(name)
    bound = bind_params(query, params)
    vname, sql = query.variant_for(source.dialect)
    if vname == "activedata":
        from .jx.named import parse_variant, run_variant

        result = run_variant(
            parse_variant(sql, vname),
            bound,
            lambda jx, p: source.query(jx, p, max_age=max_age, timeout=timeout),  # type: ignore[arg-type]
        )
        return conform(query, result)
    result = source.query(sql, bound, max_age=max_age, timeout=timeout, **query_options)
    return conform(query, result)


def describe_params(params: Sequence[Param]) -> str:
    """A one-line summary such as ``repository:string=autoland days:integer=7 push_id:integer``."""
    parts = []
    for p in params:
        if p.required:
            parts.append(f"{p.name}:{p.type} (required)")
        else:
            default = p.default
            shown = (
                "null"
                if default is None
                else (",".join(map(str, default)) if isinstance(default, list) else str(default))
            )
            parts.append(f"{p.name}:{p.type}={shown}")
    return " ".join(parts)
