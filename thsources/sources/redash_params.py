"""Parameters of Redash saved queries: defaults, validation, relative dates, safe text.

Redash substitutes saved-query parameters itself, pasting every value into the SQL raw. It
does not apply the stored defaults (an omitted parameter is a 400), it cannot evaluate the
relative dates its own web UI stores (``d_last_7_days``), and it leaves quoting to the query
author. So before a saved query is run, this module fills in the stored defaults, checks
each value against its declared type the way the server will, turns relative dates into
concrete ones, and makes text values safe for the place they land in the SQL: inside a quoted
literal they are escaped for the database's dialect (so ``O'Brien`` stays one literal), and
outside one they must be a single plain word.
"""

from __future__ import annotations

import calendar
import datetime as dt
import decimal
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ..errors import ParameterError

__all__ = [
    "DATE_TYPES",
    "RANGE_TYPES",
    "MultiValues",
    "ParamDef",
    "parse_schema",
    "prepare",
    "protect_mustache",
    "relative_dates",
    "template_contexts",
]

DATE_TYPES: Final = {
    "date": "%Y-%m-%d",
    "datetime-local": "%Y-%m-%d %H:%M",
    "datetime-with-seconds": "%Y-%m-%d %H:%M:%S",
}
RANGE_TYPES: Final = {
    "date-range": "%Y-%m-%d",
    "datetime-range": "%Y-%m-%d %H:%M",
    "datetime-range-with-seconds": "%Y-%m-%d %H:%M:%S",
}
_SUPPORTED: Final = frozenset(
    {"text", "text-pattern", "number", "enum", "query", *DATE_TYPES, *RANGE_TYPES}
)
_PLAIN_WORD: Final = re.compile(r"-?[A-Za-z0-9_.]+")


@dataclass(frozen=True, slots=True)
class MultiValues:
    """How Redash joins a multi-valued enum or dropdown: ``prefix + v + suffix``, separated."""

    prefix: str = ""
    suffix: str = ""
    separator: str = ","


@dataclass(frozen=True, slots=True)
class ParamDef:
    """One entry of a saved query's ``options.parameters``."""

    name: str
    type: str
    title: str
    default: Any = None
    enum_options: tuple[str, ...] | None = None
    multi: MultiValues | None = None
    query_id: int | None = None
    regex: str | None = None
    use_current_datetime: bool = False


def parse_schema(raw: Any) -> list[ParamDef]:
    """The parameter definitions of a saved query (``options.parameters``), tolerantly."""
    if not raw:
        return []
    if not isinstance(raw, list):
        raise ParameterError(f"the saved query's parameter definitions are not a list: {raw!r}")
    out: list[ParamDef] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        options = item.get("enumOptions")
        enum: tuple[str, ...] | None = None
        if isinstance(options, str):
            enum = tuple(options.split("\n"))
        elif isinstance(options, list):
            enum = tuple(str(o) for o in options)
        mvo = item.get("multiValuesOptions")
        multi = (
            MultiValues(
                str(mvo.get("prefix", "")),
                str(mvo.get("suffix", "")),
                str(mvo.get("separator", ",")),
            )
            if isinstance(mvo, dict)
            else None
        )
        qid = item.get("queryId")
        out.append(
            ParamDef(
                name=item["name"],
                type=str(item.get("type") or "text"),
                title=str(item.get("title") or item["name"]),
                default=item.get("value"),
                enum_options=enum,
                multi=multi,
                query_id=int(qid) if isinstance(qid, int | str) and str(qid).isdigit() else None,
                regex=item.get("regex") if isinstance(item.get("regex"), str) else None,
                use_current_datetime=bool(item.get("useCurrentDateTime")),
            )
        )
    return out


# -- where a placeholder lands in the SQL ------------------------------------------------------

_TAG: Final = re.compile(r"\{\{(\{|&)?\s*([^}]*?)\s*\}?\}\}")


def template_contexts(template: str, dialect: str | None) -> dict[str, set[str]]:
    """For each Mustache key in ``template``, the SQL contexts its tags sit in.

    Contexts: ``'`` (single-quoted string), ``"`` (double-quoted string or identifier),
    ``` `` ``` (backquoted identifier), ``--`` (line comment), ``/*`` (block comment), ``$``
    (dollar-quoted body) and ``sql`` (bare SQL).
    """
    contexts: dict[str, set[str]] = {}
    backslash = dialect in ("mysql", "bigquery")
    state = "sql"
    dollar_tag = ""
    i, n = 0, len(template)
    while i < n:
        if template.startswith("{{", i):
            m = _TAG.match(template, i)
            if m:
                key = m.group(2)
                if key[:1] in ("#", "^", "/", "!", "=", ">"):
                    key = ""
                if key:
                    contexts.setdefault(key, set()).add(state)
                i = m.end()
                continue
        c = template[i]
        if state == "sql":
            if c in ("'", '"', "`"):
                state = c
            elif template.startswith("--", i) or (c == "#" and dialect == "mysql"):
                state = "--"
            elif template.startswith("/*", i):
                state = "/*"
                i += 1
            elif c == "$" and dialect not in ("mysql", "bigquery"):
                m2 = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$").match(template, i)
                if m2:
                    state, dollar_tag = "$", m2.group(0)
                    i = m2.end()
                    continue
        elif state in ("'", '"', "`"):
            if backslash and c == "\\" and state != "`":
                i += 2
                continue
            if c == state:
                if template.startswith(state * 2, i):
                    i += 2
                    continue
                state = "sql"
        elif state == "--":
            if c == "\n":
                state = "sql"
        elif state == "/*":
            if template.startswith("*/", i):
                state = "sql"
                i += 1
        elif state == "$" and template.startswith(dollar_tag, i):
            state = "sql"
            i += len(dollar_tag)
            continue
        i += 1
    return contexts


def _escape_in(value: str, where: str, dialect: str | None, name: str) -> str:
    """``value`` made safe for a placeholder in context ``where`` of the SQL."""
    if where in ("'", '"'):
        if "\\" in value and dialect is None:
            raise ParameterError(
                f"parameter {name!r}: the value contains a backslash, whose meaning inside a "
                "string depends on the database; the data source's type is unknown (a query "
                "API key cannot read it), so pass dialect='postgresql' or 'mysql' to the source"
            )
        if dialect in ("mysql", "bigquery"):
            value = value.replace("\\", "\\\\")
        return value.replace(where, where * 2)
    if where == "`":
        return value.replace("`", "``")
    if where == "--":
        if "\n" in value or "\r" in value:
            raise ParameterError(f"parameter {name!r}: a line break would end the SQL comment")
        return value
    if where == "/*":
        if "*/" in value:
            raise ParameterError(f"parameter {name!r}: '*/' would end the SQL comment")
        return value
    if where == "$":
        if "$" in value:
            raise ParameterError(f"parameter {name!r}: '$' would end the dollar-quoted text")
        return value
    if not _PLAIN_WORD.fullmatch(value):
        raise ParameterError(
            f"parameter {name!r} is pasted into the saved query's SQL outside any quotes, so "
            f"only a plain word (letters, digits, '_', '.') is accepted there, not {value!r}; "
            "ask the query's author to quote the placeholder ('{{ " + name + " }}')"
        )
    return value


def _safe_text(value: str, contexts: set[str], dialect: str | None, name: str) -> str:
    escaped = {_escape_in(value, where, dialect, name) for where in contexts or {"'"}}
    if len(escaped) > 1:
        raise ParameterError(
            f"parameter {name!r} appears in places of the SQL that need different quoting, "
            "so one value cannot be made safe for all of them"
        )
    return escaped.pop()


# -- relative dates ----------------------------------------------------------------------------


def _sub_months(day: dt.datetime, months: int) -> dt.datetime:
    """``day`` minus ``months`` months, clamped to the month's end as moment.js does."""
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return day.replace(year=year, month=month + 1, day=min(day.day, last))


def _start_of_day(t: dt.datetime) -> dt.datetime:
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def _end_of_day(t: dt.datetime) -> dt.datetime:
    return t.replace(hour=23, minute=59, second=59, microsecond=999000)


def _start_of_week(t: dt.datetime) -> dt.datetime:
    # moment.js's default (en) locale starts weeks on Sunday, as Redash's UI shows them.
    return _start_of_day(t - dt.timedelta(days=(t.weekday() + 1) % 7))


def _month_range(t: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    first = _start_of_day(t.replace(day=1))
    last = calendar.monthrange(t.year, t.month)[1]
    return first, _end_of_day(t.replace(day=last))


def _year_range(t: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    return _start_of_day(t.replace(month=1, day=1)), _end_of_day(t.replace(month=12, day=31))


def _days(n: int) -> Callable[[dt.datetime], tuple[dt.datetime, dt.datetime]]:
    # Current Redash ends the "last N" ranges at now (v25.8.0 and older: at the day's end).
    return lambda now: (_start_of_day(now - dt.timedelta(days=n)), now)


def _months(n: int) -> Callable[[dt.datetime], tuple[dt.datetime, dt.datetime]]:
    return lambda now: (_start_of_day(_sub_months(now, n)), now)


def _hours(n: int) -> Callable[[dt.datetime], tuple[dt.datetime, dt.datetime]]:
    return lambda now: (now - dt.timedelta(hours=n), now)


_RANGES: Final[dict[str, Callable[[dt.datetime], tuple[dt.datetime, dt.datetime]]]] = {
    "today": lambda now: (_start_of_day(now), _end_of_day(now)),
    "yesterday": lambda now: (
        _start_of_day(now - dt.timedelta(days=1)),
        _end_of_day(now - dt.timedelta(days=1)),
    ),
    "this_week": lambda now: (
        _start_of_week(now),
        _end_of_day(_start_of_week(now) + dt.timedelta(days=6)),
    ),
    "this_month": _month_range,
    "this_year": _year_range,
    "last_week": lambda now: (
        _start_of_week(now - dt.timedelta(weeks=1)),
        _end_of_day(_start_of_week(now - dt.timedelta(weeks=1)) + dt.timedelta(days=6)),
    ),
    "last_month": lambda now: _month_range(_sub_months(now, 1)),
    "last_year": lambda now: _year_range(_sub_months(now, 12)),
    "last_hour": _hours(1),
    "last_8_hours": _hours(8),
    "last_24_hours": _hours(24),
    "last_7_days": _days(7),
    "last_14_days": _days(14),
    "last_30_days": _days(30),
    "last_60_days": _days(60),
    "last_90_days": _days(90),
    "last_12_months": _months(12),
    "last_2_years": _months(24),
    "last_3_years": _months(36),
    "last_10_years": _months(120),
}
_DATES: Final[dict[str, Callable[[dt.datetime], dt.datetime]]] = {
    "now": lambda now: now,
    "yesterday": lambda now: now - dt.timedelta(days=1),
}


def relative_dates() -> tuple[list[str], list[str]]:
    """The relative values understood: ``(for dates, for date ranges)``, ``d_`` prefixed."""
    return [f"d_{k}" for k in _DATES], [f"d_{k}" for k in _RANGES]


# -- validation --------------------------------------------------------------------------------


def _as_datetime(value: Any, name: str) -> dt.datetime:
    """A naive UTC datetime from a date, datetime or ISO-like string."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    if isinstance(value, str):
        text = value.strip()
        try:
            return _as_datetime(dt.datetime.fromisoformat(text.replace("Z", "+00:00")), name)
        except ValueError:
            pass
    raise ParameterError(
        f"parameter {name!r}: {value!r} is not a date or datetime (use a date, a datetime or "
        "an ISO string such as 2024-05-01 or 2024-05-01 10:30)"
    )


def _date_value(p: ParamDef, value: Any, now: dt.datetime) -> str:
    fmt = DATE_TYPES[p.type]
    if isinstance(value, str) and value.startswith("d_"):
        fn = _DATES.get(value[2:])
        if fn is None:
            raise ParameterError(
                f"parameter {p.name!r}: unknown relative date {value!r}; use one of "
                + ", ".join(relative_dates()[0])
            )
        return fn(now).strftime(fmt)
    return _as_datetime(value, p.name).strftime(fmt)


def _range_value(p: ParamDef, value: Any, now: dt.datetime) -> dict[str, str]:
    fmt = RANGE_TYPES[p.type]
    if isinstance(value, str) and value.startswith("d_"):
        fn = _RANGES.get(value[2:])
        if fn is None:
            raise ParameterError(
                f"parameter {p.name!r}: unknown relative date range {value!r}; use one of "
                + ", ".join(relative_dates()[1])
            )
        start, end = fn(now)
        return {"start": start.strftime(fmt), "end": end.strftime(fmt)}
    if isinstance(value, str) and "--" in value:
        value = value.split("--", 1)
    if isinstance(value, Mapping):
        if set(value) != {"start", "end"}:
            raise ParameterError(
                f"parameter {p.name!r}: a range needs exactly the keys 'start' and 'end'"
            )
        pair: Sequence[Any] = (value["start"], value["end"])
    elif isinstance(value, list | tuple) and len(value) == 2:
        pair = value
    else:
        raise ParameterError(
            f"parameter {p.name!r}: a date range is {{'start': ..., 'end': ...}}, a (start, end) "
            f"pair or a relative range such as 'd_last_7_days', not {value!r}"
        )
    start, end = (_as_datetime(v, p.name) for v in pair)
    if start > end:
        raise ParameterError(f"parameter {p.name!r}: the range starts after it ends")
    return {"start": start.strftime(fmt), "end": end.strftime(fmt)}


def _number_value(p: ParamDef, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ParameterError(f"parameter {p.name!r} is a number, not a boolean")
    if isinstance(value, int):
        return value
    if isinstance(value, float | decimal.Decimal):
        number = float(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        return int(value)
    elif isinstance(value, str) and re.fullmatch(
        r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*", value
    ):
        number = float(value)
    else:
        raise ParameterError(f"parameter {p.name!r} is a number, not {value!r}")
    if not math.isfinite(number):
        raise ParameterError(f"parameter {p.name!r}: {value!r} is not a finite number")
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _choice_values(p: ParamDef, value: Any, options: Iterable[str] | None) -> str | list[str]:
    allowed = None if options is None else list(options)
    if isinstance(value, list | tuple | set | frozenset):
        if p.multi is None:
            raise ParameterError(f"parameter {p.name!r} takes one value, not a list")
        values = [_choice_text(p, v) for v in value]
        if not values:
            raise ParameterError(f"parameter {p.name!r}: choose at least one value")
    elif (
        p.multi is not None
        and isinstance(value, str)
        and "," in value
        and (allowed is None or value not in allowed)
    ):
        # The command line gives lists as "a,b" (as it does for named queries).
        values = [v.strip() for v in value.split(",")]
    else:
        values = [_choice_text(p, value)]
    if allowed is not None:
        bad = [v for v in values if v not in allowed]
        if bad:
            shown = ", ".join(repr(o) for o in allowed[:20]) + (
                ", ..." if len(allowed) > 20 else ""
            )
            raise ParameterError(
                f"parameter {p.name!r}: {', '.join(map(repr, bad))} not among the options ({shown})"
            )
    return values if p.multi is not None else values[0]


def _pasted_raw(
    p: ParamDef, chosen: str | list[str], contexts: set[str], dialect: str | None
) -> str | list[str]:
    """``chosen`` if the server can paste it as is; else a ParameterError saying why.

    Redash pastes enum and dropdown values into the SQL unescaped, and accepts only values
    exactly equal to an option, so a client cannot escape them: ``O'Brien`` inside
    ``'{{ repo }}'`` would run as ``'O'Brien'``. Such a value is refused before anything is
    sent. A multi-value parameter's values land between its own prefix and suffix.
    """
    values = chosen if isinstance(chosen, list) else [chosen]
    if p.multi is not None and p.multi.prefix in ("'", '"', "`"):
        places = {p.multi.prefix}
    else:
        places = {c for c in contexts if c != "sql"} or set()
    kind = "dropdown" if p.type == "query" else "enum"
    for v in values:
        for where in sorted(places):
            try:
                safe = _escape_in(v, where, dialect, p.name) == v
            except ParameterError:
                safe = False
            if not safe:
                quoted = {"'": "quotes", '"': "double quotes", "`": "backquotes"}.get(where)
                place = f"inside {quoted}" if quoted else "in an SQL comment or quoted body"
                raise ParameterError(
                    f"parameter {p.name!r}: the {kind} value {v!r} cannot be used: Redash "
                    f"pastes {kind} values into the SQL as they are (here {place}, where "
                    "this value would end the quoting or change the text) and accepts only "
                    "values exactly equal to an option, so it cannot be escaped. The query's "
                    "author must change the option (e.g. drop the character) or make the "
                    "parameter a text parameter, whose values thsources escapes"
                )
    return chosen


def _choice_text(p: ParamDef, v: Any) -> str:
    if isinstance(v, bool) or not isinstance(v, str | int | float | decimal.Decimal):
        raise ParameterError(f"parameter {p.name!r}: {v!r} is not a valid choice")
    return str(v)


def prepare(
    schema: Sequence[ParamDef],
    template: str,
    given: Mapping[str, Any] | None,
    *,
    dialect: str | None,
    now: dt.datetime | None = None,
    dropdown: Callable[[ParamDef], list[str] | None] | None = None,
) -> dict[str, Any]:
    """The ``parameters`` object to send for a saved query: every parameter, valid, concrete.

    ``given`` values win over the stored defaults. ``dialect`` (None when unknown) decides
    how text is escaped inside string literals. ``now`` (UTC) anchors relative dates.
    ``dropdown(p)`` lists the allowed values of a query-based dropdown, or None when they
    cannot be read (the server then checks them).
    """
    given = dict(given or {})
    declared = {p.name for p in schema}
    unknown = sorted(set(given) - declared)
    if unknown:
        raise ParameterError(
            f"unknown parameter(s) for this saved query: {', '.join(unknown)}; it declares "
            + (", ".join(sorted(declared)) or "none")
        )
    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is not None:
        now = now.astimezone(dt.UTC).replace(tzinfo=None)
    contexts = template_contexts(template, dialect)
    out: dict[str, Any] = {}
    for p in schema:
        if p.type not in _SUPPORTED:
            raise ParameterError(
                f"parameter {p.name!r} has type {p.type!r}, which thsources cannot check; "
                f"supported: {', '.join(sorted(_SUPPORTED))}"
            )
        value = given.get(p.name, p.default)
        if value is None and p.type in DATE_TYPES and p.use_current_datetime:
            value = "d_now"
        if value is None or (value == "" and p.type != "text"):
            raise ParameterError(
                f"missing value for saved-query parameter {p.name!r} ({p.type}); it has no "
                f"stored default: pass params={{{p.name!r}: ...}}"
            )
        out[p.name] = _one(p, value, now, contexts, dialect, dropdown)
    return out


def _one(
    p: ParamDef,
    value: Any,
    now: dt.datetime,
    contexts: Mapping[str, set[str]],
    dialect: str | None,
    dropdown: Callable[[ParamDef], list[str] | None] | None,
) -> Any:
    if p.type in ("text", "text-pattern"):
        if isinstance(value, bool) or not isinstance(value, str | int | float | decimal.Decimal):
            raise ParameterError(f"parameter {p.name!r} is text, not {type(value).__name__}")
        text = str(value)
        if "\x00" in text:
            raise ParameterError(f"parameter {p.name!r} contains a NUL character")
        if p.type == "text-pattern" and not (p.regex and re.fullmatch(p.regex, text)):
            raise ParameterError(
                f"parameter {p.name!r}: {text!r} does not match the pattern {p.regex!r}"
            )
        safe = _safe_text(text, contexts.get(p.name, set()), dialect, p.name)
        if p.type == "text-pattern" and safe != text and not re.fullmatch(p.regex or "", safe):
            raise ParameterError(
                f"parameter {p.name!r}: {text!r} needs quoting that the pattern {p.regex!r} "
                "would reject on the server"
            )
        return safe
    if p.type == "number":
        return _number_value(p, value)
    if p.type == "enum":
        chosen = _choice_values(p, value, p.enum_options or ())
        return _pasted_raw(p, chosen, contexts.get(p.name, set()), dialect)
    if p.type == "query":
        chosen = _choice_values(p, value, dropdown(p) if dropdown is not None else None)
        return _pasted_raw(p, chosen, contexts.get(p.name, set()), dialect)
    if p.type in DATE_TYPES:
        return _date_value(p, value, now)
    return _range_value(p, value, now)


# -- Mustache ----------------------------------------------------------------------------------

_DELIMITERS: Final = (("<%", "%>"), ("<<<!", "!>>>"), ("[[%", "%]]"))


def protect_mustache(sql: str) -> str:
    """``sql`` such that Redash's Mustache rendering hands it to the database unchanged.

    Redash renders every ad-hoc query as a Mustache template, so ``{{`` anywhere (even in a
    string literal or a bound value) would be taken for a parameter. A set-delimiter tag in
    front switches to delimiters absent from the text; the renderer consumes the tag. Text
    without ``{{`` is returned as is, so its query hash (the cache key) is unaffected.
    """
    if "{{" not in sql:
        return sql
    # A tag alone on its line is "standalone": Mustache drops that line's blanks and newline.
    # When the text's first line is blank, give the tag a line of its own to drop instead.
    first_line = re.split(r"[\r\n]", sql, maxsplit=1)[0]
    sep = "\n" if len(first_line) < len(sql) and not first_line.strip(" \t") else ""
    candidates = list(_DELIMITERS)
    n = 0
    while True:
        for start, end in candidates:
            if start not in sql and end not in sql:
                return f"{{{{={start} {end}=}}}}{sep}{sql}"
        n += 1
        candidates = [(f"<%{n}%", f"%{n}%>")]
