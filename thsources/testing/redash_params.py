"""Redash's ``ParameterizedQuery``: validate values against a saved query's schema, then render.

The rules are the server's (``redash/models/parameterized_query.py``), including its quirks:
values are pasted raw, a query without a schema accepts anything, a list is allowed only for a
multi-value enum/query parameter and is joined with its prefix/suffix/separator, and the names a
template needs are compared with the names given (``p.start`` for a dict value ``p``).
"""

from __future__ import annotations

import importlib
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from thsources.testing import redash_mustache

__all__ = [
    "InvalidParameterError",
    "QueryDetachedError",
    "is_safe",
    "join_list_values",
    "missing_params",
    "render",
    "validate",
]

DropdownLookup = Callable[[Any], "list[str] | None"]


class InvalidParameterError(ValueError):
    """Values that do not fit their definitions (the 400 message-shaped answer)."""

    def __init__(self, names: Sequence[str]) -> None:
        self.names = list(names)
        super().__init__(
            "The following parameter values are incompatible with their definitions: "
            + ", ".join(self.names)
        )


class QueryDetachedError(ValueError):
    """A dropdown parameter's source query has no data source."""

    def __init__(self) -> None:
        super().__init__(
            "This query is detached from any data source. Please select a different query."
        )


def _is_number(value: Any) -> bool:
    if isinstance(value, numbers.Number):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _is_date(value: Any) -> bool:
    parser: Any = importlib.import_module("dateutil.parser")
    try:
        parser.parse(value)
    except (ValueError, TypeError, OverflowError):
        return False
    return True


def _is_date_range(value: Any) -> bool:
    try:
        return _is_date(value["start"]) and _is_date(value["end"])
    except (KeyError, TypeError, IndexError):
        return False


def _within(value: Any, options: Sequence[str] | None, allow_list: bool) -> bool:
    options = list(options or [])
    if isinstance(value, list):
        return allow_list and {str(v) for v in value} <= set(options)
    return str(value) in options


def _matches(value: Any, regex: Any) -> bool:
    try:
        return isinstance(value, str) and re.compile(str(regex)).fullmatch(value) is not None
    except re.error:
        return False


def _valid(definition: Mapping[str, Any] | None, value: Any, dropdown: DropdownLookup) -> bool:
    if definition is None:
        return False
    kind = definition.get("type")
    allow_list = isinstance(definition.get("multiValuesOptions"), dict)
    if kind == "text":
        return isinstance(value, str)
    if kind == "text-pattern":
        return _matches(value, definition.get("regex"))
    if kind == "number":
        return _is_number(value)
    if kind == "enum":
        options = definition.get("enumOptions")
        if isinstance(options, str):
            options = options.split("\n")
        return _within(value, options, allow_list)
    if kind == "query":
        values = dropdown(definition.get("queryId"))
        return values is not None and _within(value, values, allow_list)
    if kind in ("date", "datetime-local", "datetime-with-seconds"):
        return _is_date(value)
    if kind in ("date-range", "datetime-range", "datetime-range-with-seconds"):
        return _is_date_range(value)
    return False


def validate(
    schema: Sequence[Mapping[str, Any]], values: Mapping[str, Any], dropdown: DropdownLookup
) -> None:
    """Raise :class:`InvalidParameterError` naming every value that breaks its definition.

    ``dropdown(query_id)`` gives the allowed values of a query-based parameter (None when that
    query has no result) or raises :class:`QueryDetachedError`.
    """
    if not schema:
        return
    by_name = {str(d.get("name")): d for d in schema}
    bad = [name for name, value in values.items() if not _valid(by_name.get(name), value, dropdown)]
    if bad:
        raise InvalidParameterError(bad)


def join_list_values(
    values: Mapping[str, Any], schema: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """Lists become one string: ``prefix + v + suffix`` joined by the separator (default ",")."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, list):
            definition = next((d for d in schema if d.get("name") == name), {})
            options = definition.get("multiValuesOptions") or {}
            separator = str(options.get("separator", ","))
            prefix = str(options.get("prefix", ""))
            suffix = str(options.get("suffix", ""))
            # Like the server, a non-string item is a TypeError (a 500 there).
            out[name] = separator.join([prefix + v + suffix for v in value])
        else:
            out[name] = value
    return out


def render(template: str, values: Mapping[str, Any], schema: Sequence[Mapping[str, Any]]) -> str:
    """The SQL with values pasted in raw (no quoting, no escaping)."""
    return redash_mustache.render(template, join_list_values(values, schema))


def _given_names(values: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for name, value in values.items():
        if isinstance(value, dict):
            names.update(f"{name}.{inner}" for inner in value)
        else:
            names.add(name)
    return names


def missing_params(template: str, values: Mapping[str, Any]) -> list[str]:
    """Names the template needs that ``values`` does not give, in template order."""
    given = _given_names(values)
    return [key for key in redash_mustache.collect_keys(template) if key not in given]


def is_safe(schema: Sequence[Mapping[str, Any]]) -> bool:
    """Whether a query key (or a view-only user) may run it: no free-text parameter."""
    return not any(d.get("type") == "text" for d in schema)
