"""Named queries: analyses with typed parameters, declared output columns and one SQL variant
per dialect, so the same call gives the same records from every source.

Each query is a folder holding ``query.toml`` (description, parameters, output columns, row
order) and one ``<dialect>.sql`` file per variant. The shipped folders live in the top-level
``queries/`` of the repository (installed as ``thsources._queries``); extra folders can be
added with ``THSOURCES_QUERIES_PATH`` (``os.pathsep``-separated).
"""

from __future__ import annotations

import datetime as dt
import decimal
import inspect
import math
import os
import re
import time
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .coltypes import arrow_type, check_type
from .errors import ConfigError, NotFound, ParameterError, QueryError, UnsupportedQuery
from .result import Column, Result
from .sqlbind import check_mapping, did_you_mean, placeholders, to_python

if TYPE_CHECKING:
    from .sources.base import Source

__all__ = ["NamedQuery", "Param", "Precision", "bind_params", "get", "list_queries", "run_named"]

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
    "rest": ("rest",),
    "jx": ("activedata",),  # activedata.json: JX, see thsources.jx.named
}
_MISSING: Final = object()
_IDENT: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LOOKUP: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*")
_EXAMPLE: Final = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z_][A-Za-z0-9_]*")
_PARAM_KEYS: Final = frozenset(
    [
        "name",
        "type",
        "default",
        "optional",
        "description",
        "min",
        "max",
        "pattern",
        "lookup",
        "suggest",
        "example",
    ]
)
_TRUNCATE_UNITS: Final = {"ms": "milliseconds", "s": "seconds"}
# How each dialect spells a cast to text, for the one query that checks lookups.
_TEXT_TYPE: Final = {
    "postgresql": "VARCHAR",
    "duckdb": "VARCHAR",
    "mysql": "CHAR",
    "bigquery": "STRING",
}


@dataclass(frozen=True)
class Param:
    """A declared parameter; ``required`` ones have no default (``optional`` defaults to null).

    ``minimum``/``maximum`` bound numbers (``min``/``max`` in query.toml); ``pattern`` is a
    regular expression a string (or each item of a list) must match in full; ``lookup``
    (``"table.column"``) names where the value lives in the data, so an empty result can say
    that the value does not exist; ``suggest`` (default true) lets that check fetch the
    column's distinct values to propose close matches (false for big tables: existence only).
    """

    name: str
    type: str
    default: Any = _MISSING
    description: str = ""
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    lookup: str | None = None
    suggest: bool = True
    example: str | None = None
    """``"query.column"``: the first row's value of that named query, a value that exists in
    the data, for runs that need one without a user (the agreement matrix, `thsources check`)."""

    @property
    def required(self) -> bool:
        return self.default is _MISSING

    @property
    def is_list(self) -> bool:
        return self.type.endswith("[]")

    def coerce(self, value: Any) -> Any:
        """The value as this parameter's type; strings (from the CLI) are parsed.

        numpy and pandas values are taken by value (as in ``query()``); leading and trailing
        blanks are dropped; a list for a one-value parameter is refused, not truncated.
        """
        try:
            value = to_python(value)
        except ParameterError as exc:
            raise ParameterError(f"parameter {self.name!r}: {exc.message}") from None
        if value is None:
            return None
        base = self.type.removesuffix("[]")
        if self.is_list:
            items = value.split(",") if isinstance(value, str) else value
            if not isinstance(items, list):
                raise self._error(value, f"a list of {base}s (or a comma-separated string)")
            out = [self._scalar(base, v, value) for v in items]
            if not out:
                raise self._error(value, f"at least one {base}")
            return out
        if isinstance(value, list):
            shown = ", ".join(repr(v) for v in value)
            raise ParameterError(
                f"parameter {self.name!r} takes one {base}, got {len(value)} values ({shown}); "
                "give it once, with one value"
            )
        return self._scalar(base, value, value)

    def _scalar(self, base: str, value: Any, whole: Any) -> Any:
        if isinstance(value, str):
            value = value.strip()
            if not value and self.is_list:
                raise ParameterError(
                    f"parameter {self.name!r} has an empty item in {whole!r}; "
                    "separate the values with single commas"
                )
        out = _coerce_scalar(self, base, value)
        if out is None:
            return None
        if self.pattern is not None and not re.fullmatch(self.pattern, out):
            hint = "; it takes one value, not a list" if "," in out and not self.is_list else ""
            raise ParameterError(
                f"parameter {self.name!r} must match {self.pattern!r}, got {out!r}{hint}"
            )
        if self.minimum is not None and out < self.minimum:
            raise ParameterError(
                f"parameter {self.name!r} must be at least {self.minimum:g}, got {out!r}"
            )
        if self.maximum is not None and out > self.maximum:
            raise ParameterError(
                f"parameter {self.name!r} must be at most {self.maximum:g}, got {out!r}"
            )
        return out

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
            if not isinstance(value, int | float | str | decimal.Decimal):
                raise TypeError
            return int(value)
        if base == "float":
            if not isinstance(value, int | float | str | decimal.Decimal) or isinstance(
                value, bool
            ):
                raise TypeError
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if base == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, int) and value in (0, 1):
                return bool(value)
            if isinstance(value, str) and value.lower() in _BOOL_WORDS:
                return _BOOL_WORDS[value.lower()]
            raise ValueError
        if base == "date":
            if isinstance(value, dt.datetime):
                raise TypeError
            if isinstance(value, dt.date):
                return value
            if not isinstance(value, str):
                raise TypeError
            return dt.date.fromisoformat(value)
        if base == "datetime":
            if isinstance(value, dt.datetime):
                parsed = value
            elif isinstance(value, dt.date):
                parsed = dt.datetime(value.year, value.month, value.day)
            elif isinstance(value, str):
                parsed = dt.datetime.fromisoformat(value)
            else:
                raise TypeError
            return parsed if parsed.tzinfo is None else parsed.astimezone(dt.UTC)
    except (TypeError, ValueError, OverflowError):
        pass
    expected = {
        "string": "a string",
        "integer": "an integer",
        "float": "a finite number",
        "boolean": "true or false",
        "date": "a date (YYYY-MM-DD)",
        "datetime": "a datetime (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS, UTC unless an offset is given)",
    }[base]
    raise param._error(value, expected)


_BOOL_WORDS: Final = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


@dataclass(frozen=True)
class Precision:
    """How much of a column's value one source carries, as declared in query.toml::

        [[columns]]
        name = "value"
        type = "float"
        precision = { treeherder = { decimals = 2 } }   # the REST API rounds to 2 places

    ``decimals``: floats rounded as Python's ``round(value, n)``; ``truncate``: datetimes cut
    to ``"ms"`` or ``"s"``. Comparisons reduce both values by the rule and then ask for
    equality: the declared loss is forgiven, nothing else.
    """

    decimals: int | None = None
    truncate: str | None = None

    def apply(self, value: Any) -> Any:
        """``value`` as a source with this precision would give it."""
        if value is None:
            return None
        if self.decimals is not None and isinstance(value, float):
            return round(value, self.decimals) if math.isfinite(value) else value
        if self.truncate is not None and isinstance(value, dt.datetime):
            keep = 1000 if self.truncate == "ms" else 1_000_000
            return value.replace(microsecond=value.microsecond // keep * keep)
        return value

    def coarsest(self, other: Precision) -> Precision:
        """The rule that loses more of the two (the one to apply to both sides)."""
        if self.decimals is not None and other.decimals is not None:
            return self if self.decimals <= other.decimals else other
        if self.truncate is not None and other.truncate is not None:
            return self if self.truncate == "s" else other
        return self

    def describe(self) -> str:
        if self.decimals is not None:
            return f"rounded to {self.decimals} decimals"
        return f"truncated to {_TRUNCATE_UNITS[str(self.truncate)]}"


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
    key: tuple[str, ...] = ()
    """Columns that identify a row across runs (``thsources pull`` skips rows it has)."""
    precision: Mapping[str, Mapping[str, Precision]] = field(default_factory=dict)
    """Per column, per source kind: what that kind cannot carry (see :class:`Precision`)."""

    def precision_for(self, column: str, kinds: Sequence[str]) -> Precision | None:
        """The coarsest rule any of ``kinds`` declares for ``column`` (None: exact)."""
        rules = [r for k in kinds if (r := self.precision.get(column, {}).get(k)) is not None]
        if not rules:
            return None
        out = rules[0]
        for rule in rules[1:]:
            out = out.coarsest(rule)
        return out

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
    params = [_parse_param(spec_file, p) for p in spec.get("params", [])]
    columns = tuple(Column(c["name"], check_type(c["type"])) for c in spec.get("columns", []))
    precision = {
        c["name"]: _parse_precision(spec_file, c)
        for c in spec.get("columns", [])
        if "precision" in c
    }
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
    key = tuple(str(k) for k in spec.get("key", ()))
    unknown = [k for k in key if k not in {c.name for c in columns}]
    if unknown:
        raise ConfigError(f"{spec_file}: key names {unknown}, which are not declared columns")
    rest = folder / "rest.toml"  # a REST variant: a source method and parameter mapping
    if rest.is_file():
        variants["rest"] = rest.read_text(encoding="utf-8")
    return NamedQuery(
        name=folder.name,
        description=spec.get("description", "").strip(),
        params=tuple(params),
        columns=columns,
        order=spec.get("order", ""),
        variants=variants,
        folder=folder,
        key=key,
        precision=precision,
    )


def _parse_precision(spec_file: Path, column: Mapping[str, Any]) -> dict[str, Precision]:
    """A column's ``precision = { KIND = { decimals = N } | { truncate = "ms" } }``."""
    from .sources.base import known_kinds

    where = f"{spec_file}: column {column['name']!r}"
    table = column["precision"]
    if not isinstance(table, dict) or not table:
        raise ConfigError(
            f"{where}: precision must be a table of source kinds, e.g. "
            "precision = { treeherder = { decimals = 2 } }"
        )
    out: dict[str, Precision] = {}
    for kind, rule in table.items():
        if kind not in known_kinds():
            raise ConfigError(
                f"{where}: precision names {kind!r}, which is not a source kind "
                f"({', '.join(known_kinds())})"
            )
        if not isinstance(rule, dict) or len(rule) != 1:
            raise ConfigError(f"{where}: precision.{kind} must hold one of decimals, truncate")
        ((how, value),) = rule.items()
        if how == "decimals" and column["type"] == "float":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{where}: decimals must be a whole number >= 0, not {value!r}")
            out[kind] = Precision(decimals=value)
        elif how == "truncate" and column["type"] == "datetime":
            if value not in _TRUNCATE_UNITS:
                raise ConfigError(f'{where}: truncate takes "ms" or "s", not {value!r}')
            out[kind] = Precision(truncate=value)
        else:
            raise ConfigError(
                f"{where}: precision.{kind}.{how} does not apply to a {column['type']} column "
                "(decimals: float columns; truncate: datetime columns)"
            )
    return out


def _parse_param(spec_file: Path, p: Mapping[str, Any]) -> Param:
    """One ``[[params]]`` entry, checked: a typo in a key or a bad default is a ConfigError."""
    name = p.get("name")
    where = f"{spec_file}: parameter {name!r}"
    if not isinstance(name, str) or not _IDENT.fullmatch(name):
        raise ConfigError(f"{where}: the name must be a plain identifier")
    unknown = sorted(set(p) - _PARAM_KEYS)
    if unknown:
        hint = did_you_mean(unknown[0], _PARAM_KEYS)
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(unknown)}{hint and ' (' + hint + ')'}; "
            f"known: {', '.join(sorted(_PARAM_KEYS))}"
        )
    ptype = p.get("type", "string")
    if ptype not in PARAM_TYPES:
        raise ConfigError(
            f"{where} has unknown type {ptype!r}; use one of {', '.join(PARAM_TYPES)}"
        )
    base = ptype.removesuffix("[]")
    if ("min" in p or "max" in p) and base not in ("integer", "float"):
        raise ConfigError(f"{where}: min and max apply to integer and float parameters only")
    for key in ("min", "max"):
        if key in p and (isinstance(p[key], bool) or not isinstance(p[key], int | float)):
            raise ConfigError(f"{where}: {key} must be a number, not {p[key]!r}")
    if ("pattern" in p) and base != "string":
        raise ConfigError(f"{where}: pattern applies to string parameters only")
    lookup = p.get("lookup")
    if lookup is not None and (
        not isinstance(lookup, str)
        or not _LOOKUP.fullmatch(lookup)
        or base not in ("string", "integer")
    ):
        raise ConfigError(
            f'{where}: lookup must be "table.column" on a string or integer parameter'
        )
    pattern = p.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as exc:
            raise ConfigError(
                f"{where}: pattern {pattern!r} is not a regular expression: {exc}"
            ) from None
    param = Param(
        name,
        ptype,
        None if p.get("optional") else p.get("default", _MISSING),
        p.get("description", ""),
        minimum=p.get("min"),
        maximum=p.get("max"),
        pattern=pattern,
        lookup=lookup,
        suggest=bool(p.get("suggest", True)),
        example=_parse_example(where, p.get("example")),
    )
    if not param.required:
        try:
            param.coerce(param.default)
        except ParameterError as exc:
            raise ConfigError(f"{where}: the default does not fit: {exc}") from None
    return param


def _parse_example(where: str, example: Any) -> str | None:
    if example is not None and (not isinstance(example, str) or not _EXAMPLE.fullmatch(example)):
        raise ConfigError(f'{where}: example must be "query-name.column", not {example!r}')
    return example


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
    """The named query ``name`` or a ``ConfigError`` naming close matches and the known ones."""
    queries = {q.name: q for q in list_queries()}
    try:
        return queries[name]
    except KeyError:
        hint = did_you_mean(name, queries)
        raise ConfigError(
            f"no named query {name!r}{' (' + hint + ')' if hint else ''}; known: "
            f"{', '.join(sorted(queries))} (`thsources queries` lists them with their parameters)"
        ) from None


def bind_params(query: NamedQuery, params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Validate ``params`` against the declaration; fill defaults; coerce types."""
    params = dict(check_mapping(params))
    declared = {p.name: p for p in query.params}
    unknown = sorted(set(params) - set(declared))
    if unknown:
        hint = did_you_mean(unknown[0], declared)
        raise ParameterError(
            f"named query {query.name!r} has no parameter(s) {', '.join(unknown)}"
            f"{' (' + hint + ')' if hint else ''}; "
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
    """Run named query ``name`` on ``source``; the result matches the declared columns.

    A result with no rows is checked once against the data: a parameter that names
    something that does not exist there (``lookup`` in query.toml) raises ``NotFound`` with
    close matches, instead of an empty answer to a typo. ``progress`` (in ``query_options``)
    reaches sources whose ``query`` accepts it and is dropped for the others.
    """
    query = get(name)
    bound = bind_params(query, params)
    from .fallback import Fallback

    if isinstance(source, Fallback):  # a list profile: the first source that can answer
        return source.first_answer(
            lambda member, left: run_named(
                name, member, bound, max_age=max_age, timeout=left, **query_options
            ),
            timeout=timeout,
        )
    variant, sql = query.variant_for(source.dialect)
    if variant == "rest":
        # A REST variant names an entity call, not SQL: the source maps it (no lookups).
        from .sources.caching import stored

        spec = tomllib.loads(sql)
        result = stored(  # the REST calls through the local result cache too (max_age)
            source,
            {"rest": spec},
            bound,
            max_age,
            lambda: source.run_rest(spec, bound, timeout=timeout),  # type: ignore[attr-defined]
        )
        return conform(query, result)
    if variant == "activedata":
        from .jx.named import parse_variant, run_variant

        result = run_variant(
            parse_variant(sql, variant),
            bound,
            lambda jx, p: source.query(jx, p, max_age=max_age, timeout=timeout),  # type: ignore[arg-type]
        )
        return conform(query, result)
    if "progress" in query_options and not _accepts(source, "progress"):
        query_options.pop("progress")
    started = time.monotonic()
    result = source.query(sql, bound, max_age=max_age, timeout=timeout, **query_options)
    if len(result) == 0:
        remaining = None if timeout is None else timeout - (time.monotonic() - started)
        if remaining is None or remaining > 0:
            _check_lookups(query, source, bound, max_age, remaining, query_options)
    return conform(query, result)


def _accepts(source: Source, option: str) -> bool:
    try:
        return option in inspect.signature(source.query).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without a signature
        return False


def _check_lookups(
    query: NamedQuery,
    source: Source,
    bound: Mapping[str, Any],
    max_age: float,
    timeout: float | None,
    query_options: Mapping[str, Any],
) -> None:
    """Raise ``NotFound`` when a looked-up parameter value is not in the data (one query)."""
    checks = [
        (p, values)
        for p in query.params
        if p.lookup is not None
        and (values := [v for v in _as_list(bound.get(p.name)) if v is not None])
    ]
    if not checks or source.dialect not in _TEXT_TYPE:  # a source that speaks no SQL
        return
    cast = _TEXT_TYPE[source.dialect]
    selects: list[str] = []
    lookup_params: dict[str, Any] = {}
    for i, (p, values) in enumerate(checks):
        assert p.lookup is not None
        table, column = p.lookup.split(".")
        select = f"SELECT DISTINCT {i} AS k, CAST({column} AS {cast}) AS v FROM {table}"
        if not p.suggest:
            select += f" WHERE {column} IN :lookup_{i}"
            lookup_params[f"lookup_{i}"] = values
        selects.append(select)
    found: dict[int, set[str]] = {i: set() for i in range(len(checks))}
    answer = source.query(
        "\nUNION ALL\n".join(selects),
        lookup_params,
        max_age=max_age,
        timeout=timeout,
        **query_options,
    )
    for row in answer.rows():
        if row[1] is not None:
            found[int(row[0])].add(str(row[1]))
    problems = []
    for i, (p, values) in enumerate(checks):
        for value in values:
            if str(value) in found[i]:
                continue
            text = f"no {p.name} {value!r} in {p.lookup}"
            if p.suggest and isinstance(value, str):
                hint = did_you_mean(value, found[i])
                if hint:
                    text += f" ({hint})"
                elif 0 < len(found[i]) <= 12:
                    text += f" (known: {', '.join(sorted(found[i]))})"
            problems.append(text)
    if problems:
        raise NotFound(
            f"named query {query.name!r} found no rows: {'; '.join(problems)} "
            f"(on source {source.name!r})",
            source=source.name,
        )


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


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
