"""Named queries' JX variants (``activedata.json``): for sources whose language is JX.

A variant file is a JSON object:

- ``query``: the JX sent to the source, with ``{"$eval": "name"}`` for each parameter;
- ``let`` (optional): for a parameter left null, a JX query whose single value becomes its
  value (``until`` defaults to the latest push this way, as the SQL variants do with a
  subquery JX does not have);
- ``then`` (optional): a JX query run by the local evaluator over the first query's records
  (its ``from`` is ignored): derived columns (rates) and filters on aggregates (``HAVING``),
  which ActiveData cannot do itself.

Dates and datetimes in parameters become unix seconds, ActiveData's time values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from ..errors import ConfigError, QueryError
from ..result import Result
from .decode import decode_columns
from .evaluate import Evaluator, load_documents, unflatten
from .expressions import JXError
from .params import fill_params
from .records import to_result

__all__ = ["eval_names", "parse_variant", "run_variant"]


def parse_variant(text: str, where: str) -> dict[str, Any]:
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("query"), dict):
        raise ConfigError(f"{where}: a JX variant is an object with a 'query' (JX) member")
    return doc


def eval_names(doc: Any) -> set[str]:
    """Every parameter a variant names with ``{"$eval": ...}``."""
    found: set[str] = set()
    if isinstance(doc, Mapping):
        if set(doc) == {"$eval"}:
            found.add(str(doc["$eval"]))
        for v in doc.values():
            found |= eval_names(v)
    elif isinstance(doc, list):
        for v in doc:
            found |= eval_names(v)
    return found


def run_variant(
    variant: Mapping[str, Any],
    params: Mapping[str, Any],
    run: Callable[[Mapping[str, Any], Mapping[str, Any]], Result],
) -> Result:
    """Run a JX variant: ``run(jx, params)`` asks the source; ``then`` runs locally."""
    values = dict(params)
    for name, query in (variant.get("let") or {}).items():
        if values.get(name) is None:
            found = run(query, {}).rows()
            if len(found) != 1 or len(found[0]) != 1:
                raise QueryError(f"the default of {name!r} should be one value, not {found!r}")
            value = found[0][0]
            values[name] = value.timestamp() if hasattr(value, "timestamp") else value
    query = variant["query"]
    used = eval_names(query)
    result = run(query, {k: v for k, v in values.items() if k in used})
    then = variant.get("then")
    if not then:
        return result
    return _then(then, result, {k: v for k, v in values.items() if k in eval_names(then)})


def _then(then: Mapping[str, Any], result: Result, params: Mapping[str, Any]) -> Result:
    import duckdb

    jx = fill_params({**then, "from": "result"}, params)
    records = [unflatten(_epoch(r)) for r in result.records()]
    con = duckdb.connect()
    try:
        table = load_documents(con, "result", records)
        answer = Evaluator(con, {"result": table}).run(jx)
    except JXError as exc:
        raise QueryError(f"the variant's 'then' step failed: {exc}") from None
    finally:
        con.close()
    names, columns, _ = decode_columns(answer, jx)
    types = {c.name: c.type for c in result.columns}
    times = {n for n in names if types.get(n) == "datetime"}
    return to_result((names, columns), result.meta, times=times)


def _epoch(record: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v.timestamp() if hasattr(v, "timestamp") and hasattr(v, "tzinfo") else v
        for k, v in record.items()
    }
