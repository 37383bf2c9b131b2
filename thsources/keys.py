"""Join keys between Treeherder and telemetry, which spell the same things differently.

Treeherder names a build by its revision (40 hex characters, often shown as 12) and a
platform (``windows11-64-shippable``) on a repository (``mozilla-central``); telemetry names
it by a build id (``20261127093015``, the build's UTC start time), an OS (``Windows_NT``), an
architecture (``x86-64``) and a channel (``nightly``), and counts by UTC day. Each function
here maps one spelling onto the other, in Python and, inside :func:`thsources.local_sql`, as
a DuckDB function of the same name. Values that are not what the function maps raise
``ParameterError`` (in SQL: the statement fails with the same message); None stays None.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, Final

from .errors import ParameterError

__all__ = [
    "SQL_FUNCTIONS",
    "buildid_to_datetime",
    "datetime_to_buildid",
    "platform_arch",
    "platform_os",
    "repository_channel",
    "revision",
    "short_revision",
    "utc_day",
]

_REVISION: Final = re.compile(r"[0-9a-fA-F]{12}|[0-9a-fA-F]{40}")
_BUILDID: Final = re.compile(r"\d{14}")


def revision(value: str) -> str:
    """``value`` as a revision in lower case: 12 or 40 hex characters, any case."""
    if not isinstance(value, str) or not _REVISION.fullmatch(value):
        raise ParameterError(f"{value!r} is not a revision: give 12 or 40 hexadecimal characters")
    return value.lower()


def short_revision(value: str) -> str:
    """The first 12 characters of a revision, lower case: the key that joins a short
    revision to a full one (``short_revision(a) = short_revision(b)`` is a join by prefix
    that DuckDB can hash)."""
    return revision(value)[:12]


def buildid_to_datetime(value: str | int) -> dt.datetime:
    """A build id (``YYYYMMDDhhmmss``, a string or an integer) as an aware UTC datetime."""
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(text, str) or not _BUILDID.fullmatch(text):
        raise ParameterError(f"{value!r} is not a build id: give 14 digits, YYYYMMDDhhmmss")
    try:
        return dt.datetime.strptime(text, "%Y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    except ValueError:
        raise ParameterError(
            f"{value!r} is not a build id: {text[:8]} {text[8:]} is not a date and time"
        ) from None


def datetime_to_buildid(value: dt.datetime) -> str:
    """The build id of a datetime (naive means UTC; aware ones are converted to UTC)."""
    if not isinstance(value, dt.datetime):
        raise ParameterError(f"{value!r} is not a datetime")
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.strftime("%Y%m%d%H%M%S")


def utc_day(value: dt.datetime | dt.date) -> dt.date:
    """The UTC day a moment falls in (naive datetimes are taken as UTC), as telemetry's
    daily tables (``submission_date``) count it."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC)
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ParameterError(f"{value!r} is not a date or datetime")


# Telemetry's ``environment.system.os.name`` for each Treeherder platform prefix.
_OS_PREFIXES: Final = (
    ("android", "Android"),
    ("linux", "Linux"),
    ("ubuntu", "Linux"),
    ("windows", "Windows_NT"),
    ("win", "Windows_NT"),
    ("macosx", "Darwin"),
    ("osx", "Darwin"),
    ("mac", "Darwin"),
)


def platform_os(platform: str) -> str | None:
    """Telemetry's OS name (``environment.system.os.name``: ``Windows_NT``, ``Darwin``,
    ``Linux``, ``Android``) of a Treeherder platform (``windows11-64-shippable``), or None
    for platforms of no OS (``lint``, ``gecko-decision``): in a join they match nothing."""
    name = _platform_name(platform)
    for prefix, os_name in _OS_PREFIXES:
        if name.startswith(prefix):
            return os_name
    return None


def platform_arch(platform: str) -> str | None:
    """Telemetry's architecture (``environment.build.architecture``: ``x86-64``, ``x86``,
    ``aarch64``) of a Treeherder platform.

    Read from the name: ``aarch64``/``arm64`` first, then ``x86_64`` or a ``64`` word
    (``linux64``, ``windows11-64``), then ``32``/``x86``; a Mac platform that says nothing
    (``osx-cross``, ``macosx1015-64``) is x86-64. None when the name does not say (or names
    no OS).
    """
    name = _platform_name(platform)
    os_name = platform_os(name)
    if os_name is None:
        return None
    if "aarch64" in name or "arm64" in name:
        return "aarch64"
    if "x86_64" in name or "x86-64" in name or re.search(r"(?<![0-9])64(?![0-9])|[a-z]64\b", name):
        return "x86-64"
    if re.search(r"(?<![0-9])32(?![0-9])|[a-z]32\b", name) or "x86" in name:
        return "x86"
    if os_name == "Darwin":
        return "x86-64"
    return None


def _platform_name(platform: str) -> str:
    if not isinstance(platform, str) or not platform.strip():
        raise ParameterError(f"{platform!r} is not a platform name")
    return platform.strip().lower()


_CHANNELS: Final = {
    "mozilla-central": "nightly",
    "comm-central": "nightly",
    "mozilla-aurora": "aurora",
    "mozilla-beta": "beta",
    "comm-beta": "beta",
    "mozilla-release": "release",
    "comm-release": "release",
}
_ESR: Final = re.compile(r"(mozilla|comm)-esr\d+")


def repository_channel(repository: str) -> str | None:
    """The release channel a repository's builds ship on (``mozilla-central`` is nightly,
    ``mozilla-esr128`` esr), or None for repositories that ship to no channel (autoland,
    try, project branches): their builds have no telemetry to join."""
    if not isinstance(repository, str):
        raise ParameterError(f"{repository!r} is not a repository name")
    name = repository.strip().lower()
    if name in _CHANNELS:
        return _CHANNELS[name]
    if _ESR.fullmatch(name):
        return "esr"
    return None


SQL_FUNCTIONS: Final[dict[str, tuple[Callable[..., Any], tuple[str, ...], str]]] = {
    "revision": (revision, ("VARCHAR",), "VARCHAR"),
    "short_revision": (short_revision, ("VARCHAR",), "VARCHAR"),
    "buildid_to_timestamp": (buildid_to_datetime, ("VARCHAR",), "TIMESTAMPTZ"),
    "platform_os": (platform_os, ("VARCHAR",), "VARCHAR"),
    "platform_arch": (platform_arch, ("VARCHAR",), "VARCHAR"),
    "repository_channel": (repository_channel, ("VARCHAR",), "VARCHAR"),
}
"""DuckDB name -> (function, argument types, return type), registered by ``local_sql``.
``utc_day`` needs no Python there: DuckDB's ``timezone('UTC', ts)`` cast to a date does it,
so it is registered as a macro (see :func:`register_sql`)."""


def _null_passing(func: Callable[[Any], Any], name: str) -> Callable[[Any], Any]:
    """NULL in, NULL out; a value the function maps to None (a channel-less repository)
    comes back NULL too, which DuckDB only allows with ``null_handling="special"``."""

    def call(value: Any) -> Any:
        if value is None:
            return None
        try:
            return func(value)
        except ParameterError as exc:  # DuckDB shows the message: say which function
            raise ParameterError(f"{name}(): {exc}") from None

    call.__name__ = name
    return call


def register_sql(con: Any) -> None:
    """Make the key functions callable in SQL on the DuckDB connection ``con``."""
    for name, (func, args, returns) in SQL_FUNCTIONS.items():
        con.create_function(
            name, _null_passing(func, name), list(args), returns, null_handling="special"
        )
    # timestamptz -> the UTC day; a plain timestamp is taken as UTC already.
    con.execute(
        "CREATE OR REPLACE TEMP MACRO utc_day(ts) AS "
        "CAST(timezone('UTC', CAST(ts AS TIMESTAMPTZ)) AS DATE)"
    )
