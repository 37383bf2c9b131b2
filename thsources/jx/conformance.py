"""Run ActiveData's own JX test cases (as JSON) against the decoder and the evaluator.

Each case carries its documents, its query and the answers ActiveData gave per format. Two
checks: every recorded format of a case decodes to the same records, and the evaluator's
answer in each format decodes to the records of the recorded one. Records are compared as
ActiveData's test harness did: row order ignored unless the query sorts (and never for cubes),
a missing key equal to null, numbers to about seven significant digits.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from .decode import decode

if TYPE_CHECKING:
    import duckdb

__all__ = ["FORMATS", "CaseOutcome", "comparable", "decoding_disagreements", "evaluate_case"]

FORMATS: Final = ("list", "table", "cube")

#: The day the recorded cases were extracted: their times are relative to it ("today-week").
CASES_NOW: Final = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        if float(value).is_integer():
            return int(value)
        return float(f"{value:.7g}")
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def comparable(records: Sequence[Mapping[str, Any]], ordered: bool) -> list[str]:
    """Records as sortable strings: nulls dropped, all-null records dropped, numbers rounded."""
    out = []
    for rec in records:
        items = sorted((k, repr(_norm(v))) for k, v in rec.items() if v is not None)
        if items:
            out.append(repr(items))
    return out if ordered else sorted(out)


def _ordered(query: Mapping[str, Any], fmt: str) -> bool:
    return bool(query.get("sort")) and fmt != "cube"


def decoding_disagreements(case: Mapping[str, Any]) -> list[str]:
    """Formats of one case whose records differ from the first recorded format's."""
    query = case.get("query") or {}
    fmts = [f for f in FORMATS if f"expecting_{f}" in case]
    if len(fmts) < 2:
        return []
    ordered = all(_ordered(query, f) for f in fmts)
    first = comparable(decode(case[f"expecting_{fmts[0]}"], query).records, ordered)
    return [
        f
        for f in fmts[1:]
        if comparable(decode(case[f"expecting_{f}"], query).records, ordered) != first
    ]


@dataclass(frozen=True)
class CaseOutcome:
    name: str
    passed: bool
    failures: dict[str, str]  # format -> why


def evaluate_case(
    case: Mapping[str, Any],
    now: dt.datetime = CASES_NOW,
    con: duckdb.DuckDBPyConnection | None = None,
) -> CaseOutcome:
    """Run one case's query on its own documents in every format it has an expectation for.

    ``con`` (an in-memory DuckDB connection) can be shared between cases: opening one costs
    more than most cases take.
    """
    import duckdb

    from .evaluate import Evaluator, load_documents
    from .expressions import JXError

    name = str(case.get("_source"))
    query = case.get("query")
    fmts = [f for f in FORMATS if f"expecting_{f}" in case]
    if "expecting" in case:
        fmts.append("default")  # the format-less expectation: ActiveData's default format
    if not isinstance(query, Mapping) or not (fmts or "expecting_error" in case):
        return CaseOutcome(name, False, {"-": "no query and no expectation"})
    source = str(query.get("from") or "")
    _base, _, nested = source.partition(".")
    own = con is None
    con = duckdb.connect() if con is None else con
    failures: dict[str, str] = {}
    try:
        table = load_documents(con, "testdata", case.get("data") or [], nested or None)
        evaluator = Evaluator(con, {source: table}, now=now)
        if "expecting_error" in case:
            expected = str(case["expecting_error"]).strip()
            try:
                evaluator.run(query)
                failures["error"] = f"no error; expected {expected!r}"
            except JXError as exc:
                if expected not in str(exc):
                    failures["error"] = f"error {exc} does not say {expected!r}"
        for fmt in fmts:
            key = "expecting" if fmt == "default" else f"expecting_{fmt}"
            try:
                answer = evaluator.run(query if fmt == "default" else {**query, "format": fmt})
                got = decode(answer, query).records
            except (JXError, ValueError, KeyError, TypeError) as exc:
                failures[fmt] = f"{type(exc).__name__}: {exc}"
                continue
            want = decode(case[key], query).records
            ordered = _ordered(query, fmt)
            if comparable(got, ordered) != comparable(want, ordered):
                failures[fmt] = f"records differ: got {got!r:.300} want {want!r:.300}"
    finally:
        if own:
            con.close()
    return CaseOutcome(name, not failures, failures)
