"""Do the sources agree? A named query's answers from several sources, compared record by
record: same columns, types and values in the declared order.

The one loss forgiven is what the query's ``query.toml`` declares for a column and a source
kind (:class:`~thsources.catalog.Precision`: Treeherder's REST rounding, Redash's
milliseconds); both values are reduced by the coarsest declared rule, then must be equal.
The test matrix and ``thsources check`` both use this module, so what the tests accept is
what the command accepts.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from .catalog import NamedQuery, bind_params, get, run_named
from .errors import ThsourcesError, UnsupportedQuery
from .result import Result

if TYPE_CHECKING:
    from .sources.base import Source

__all__ = [
    "Answer",
    "CheckRow",
    "Comparison",
    "ask",
    "check",
    "compare",
    "example_params",
]

SHOWN_ROWS: Final = 3
"""Differing rows shown per column in a diff."""


@dataclass(frozen=True)
class Answer:
    """One source's answer to one named query: a result, or why there is none."""

    source: str
    kind: str
    result: Result | None = None
    skipped: str | None = None
    """Why the source was not asked (it has no variant for the query)."""
    error: ThsourcesError | None = None


@dataclass(frozen=True)
class Comparison:
    """``other``'s answer next to ``reference``'s; ``diff`` is empty when they agree."""

    query: str
    params: Mapping[str, Any]
    reference: str
    other: str
    rows: int
    diff: str = ""

    @property
    def agrees(self) -> bool:
        return not self.diff


def _show_params(params: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={_show(v)}" for k, v in params.items() if v is not None)
    return f" ({shown})" if shown else ""


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return ",".join(_show(v) for v in value)
    return repr(value)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return type(a) is type(b) and a == b if a is not None and b is not None else a is b


def compare(
    query: NamedQuery,
    params: Mapping[str, Any],
    reference: Answer,
    other: Answer,
) -> Comparison:
    """Compare two answers of ``query``; the diff names the query, both sources, each
    differing column and its first differing rows (by the query's key where it has one)."""
    assert reference.result is not None and other.result is not None
    ref, oth = reference.result, other.result
    lines: list[str] = []
    ref_cols = [f"{c.name}:{c.type}" for c in ref.columns]
    oth_cols = [f"{c.name}:{c.type}" for c in oth.columns]
    if ref_cols != oth_cols:
        lines.append(
            f"  columns differ: {reference.source} has {', '.join(ref_cols)}; "
            f"{other.source} has {', '.join(oth_cols)}"
        )
    if len(ref) != len(oth):
        lines.append(
            f"  {reference.source} has {len(ref)} rows, {other.source} {len(oth)}; "
            f"rows compared by position up to {min(len(ref), len(oth))}"
        )
    ref_rows, oth_rows = ref.records(), oth.records()
    key = [k for k in query.key if k in ref.column_names] if query.key else []
    shared = [c for c in ref.columns if c.name in set(oth.column_names)]
    for col in shared:
        rule = query.precision_for(col.name, [reference.kind, other.kind])
        differing = []
        for i, (r, o) in enumerate(zip(ref_rows, oth_rows, strict=False)):
            a, b = r[col.name], o[col.name]
            if rule is not None:
                a, b = rule.apply(a), rule.apply(b)
            if not _same(a, b):
                differing.append((i, r, a, b))
        if not differing:
            continue
        how = f", compared {rule.describe()} as declared" if rule is not None else ""
        lines.append(
            f"  column {col.name!r} ({col.type}{how}): {len(differing)} of "
            f"{min(len(ref_rows), len(oth_rows))} rows differ; first differing rows:"
        )
        for i, row, a, b in differing[:SHOWN_ROWS]:
            where = ", ".join(f"{k}={_show(row[k])}" for k in key if k != col.name)
            lines.append(
                f"    row {i}{' (' + where + ')' if where else ''}: "
                f"{reference.source} {_show(a)}, {other.source} {_show(b)}"
            )
    diff = ""
    if lines:
        head = (
            f"named query {query.name!r}{_show_params(params)}: {other.source!r} "
            f"({other.kind}) differs from {reference.source!r} ({reference.kind})"
        )
        diff = "\n".join([head, *lines])
    return Comparison(query.name, dict(params), reference.source, other.source, len(ref), diff)


def ask(
    name: str,
    source: Source,
    params: Mapping[str, Any],
    *,
    timeout: float | None = None,
) -> Answer:
    """Run named query ``name`` on ``source``; no variant is a skip, a failure an error."""
    query = get(name)
    try:
        query.variant_for(source.dialect)
    except UnsupportedQuery as exc:
        return Answer(source.name, source.kind, skipped=str(exc))
    try:
        result = run_named(name, source, params, timeout=timeout)
    except ThsourcesError as exc:
        return Answer(source.name, source.kind, error=exc)
    return Answer(source.name, source.kind, result=result)


def example_params(
    query: NamedQuery, source: Source, *, timeout: float | None = None
) -> dict[str, Any]:
    """Values for the query's required parameters from the data, by their ``example``
    (``"pushes.push_id"``: the first row of ``pushes`` on ``source``); the rest default."""
    out: dict[str, Any] = {}
    for p in query.params:
        if not p.required:
            continue
        if p.example is None:
            raise UnsupportedQuery(
                f"named query {query.name!r} needs {p.name!r} and declares no example for it; "
                "give the parameters yourself"
            )
        other, column = p.example.split(".")
        rows = run_named(other, source, example_params(get(other), source), timeout=timeout)
        if len(rows) == 0:
            raise UnsupportedQuery(
                f"no example for {query.name}'s {p.name!r}: {other} returned no rows "
                f"on {source.name!r}",
                source=source.name,
            )
        out[p.name] = rows.column(column)[0]
    return out


def _runs(query: NamedQuery, source: Source) -> bool:
    try:
        query.variant_for(source.dialect)
    except UnsupportedQuery:
        return False
    return True


@dataclass
class CheckRow:
    """One named query across sources: a short verdict per source, and the diffs."""

    query: str
    params: Mapping[str, Any]
    verdicts: dict[str, str] = field(default_factory=dict)
    diffs: list[str] = field(default_factory=list)
    errors: list[ThsourcesError] = field(default_factory=list)

    @property
    def agrees(self) -> bool:
        return not self.diffs


def check(
    names: Sequence[str],
    sources: Sequence[Source],
    *,
    params: Mapping[str, Mapping[str, Any]] | None = None,
    timeout: float | None = None,
) -> list[CheckRow]:
    """Each named query on each source, every answer compared with the first one given.

    ``params`` (per query) are used as given; otherwise the defaults, with required values
    taken from the data of the first source that answers (``example`` in query.toml). A
    source without a variant is skipped; an error or a differing answer fails the row.
    """
    rows: list[CheckRow] = []
    for name in names:
        query = get(name)
        given = (params or {}).get(name)
        row = CheckRow(name, dict(given or {}))
        reference: Answer | None = None
        answers: list[Answer] = []
        for source in sources:
            if given is None and reference is None and not row.params and _runs(query, source):
                try:
                    row.params = example_params(query, source, timeout=timeout)
                except ThsourcesError as exc:
                    answers.append(Answer(source.name, source.kind, error=exc))
                    continue
            answer = ask(name, source, row.params, timeout=timeout)
            answers.append(answer)
            if reference is None and answer.result is not None:
                reference = answer
        bound = bind_params(query, row.params)
        for answer in answers:
            if answer.skipped is not None:
                row.verdicts[answer.source] = "no variant"
            elif answer.error is not None:
                row.verdicts[answer.source] = f"error: {type(answer.error).__name__}"
                row.errors.append(answer.error)
                row.diffs.append(
                    f"named query {name!r}{_show_params(bound)} failed on {answer.source!r} "
                    f"({answer.kind}): {answer.error}"
                )
            elif answer is reference:
                assert answer.result is not None
                row.verdicts[answer.source] = f"reference ({len(answer.result)} rows)"
            else:
                assert reference is not None
                comparison = compare(query, bound, reference, answer)
                row.verdicts[answer.source] = "agrees" if comparison.agrees else "DIFFERS"
                if not comparison.agrees:
                    row.diffs.append(comparison.diff)
        rows.append(row)
    return rows
