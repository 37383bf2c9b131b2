"""Profiles: which source to talk to and how, from keywords, the environment and a TOML file.

Order of precedence for every option: keyword argument > environment > profile > default.
The environment gives ``THSOURCES_<NAME>_<OPTION>`` (NAME is the profile or kind, upper case,
``-`` as ``_``), and a profile option ``<option>_env = "VAR"`` names a variable to read the
option from, so that keys need not be written into the file. A file that does hold a secret
must not be readable by group or others.

Example ``config.toml``::

    [profiles.stmo]
    kind = "redash"
    url = "https://redash.example.org"
    data_source = "Treeherder"
    api_key_env = "STMO_API_KEY"

    [profiles.anywhere]            # a list: named queries run on the first that can answer
    sources = ["stmo", "treeherder", "local"]
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import ConfigError

__all__ = [
    "CONFIG_ENV",
    "Config",
    "Profile",
    "close_matches",
    "config_path",
    "load_config",
    "mask",
    "members",
    "resolve",
]

CONFIG_ENV: Final = "THSOURCES_CONFIG"
DEFAULT_PROFILE: Final = "default"
GENERIC_SECRETS: Final = frozenset({"api_key", "password", "token", "secret"})
FALLBACK_KIND: Final = "fallback"
"""The ``kind`` of a profile that lists ``sources`` instead of being one (thsources.fallback)."""


def config_path() -> Path:
    """Where the config file is read from: ``$THSOURCES_CONFIG`` or the user config dir."""
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("thsources")) / "config.toml"


@dataclass(frozen=True)
class Profile:
    """A named source configuration as written in the file (values not yet resolved)."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    sources: tuple[str, ...] = ()
    """Profiles or kinds to try in order (``sources = [...]``); kind is then ``fallback``."""


@dataclass(frozen=True)
class Config:
    path: Path
    profiles: Mapping[str, Profile] = field(default_factory=dict)
    exists: bool = False
    cache: Mapping[str, Any] = field(default_factory=dict)
    """The ``[cache]`` table: ``max_size`` of the result cache (see result_cache.py)."""


def _is_secret(option: str, value: Any, secret_options: frozenset[str]) -> bool:
    if option.endswith("_env"):
        return False
    if option in secret_options or option in GENERIC_SECRETS:
        return value not in (None, "")
    if isinstance(value, str) and "://" in value:
        return urlsplit(value).password is not None
    return False


def load_config(path: Path | None = None) -> Config:
    """Read and check the config file; a missing file is an empty config."""
    path = path or config_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        # No file is no profiles (`thsources sources` says so); the CLI then names the
        # fallback to the local sample on stderr, so a mistyped path does not pass unseen.
        return Config(path=path)
    except OSError as exc:
        raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
    unknown = set(data) - {"profiles", "cache"}
    if unknown:
        raise ConfigError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}; "
            "write each source as a [profiles.NAME] table"
        )
    profiles: dict[str, Profile] = {}
    tables = data.get("profiles", {})
    if not isinstance(tables, dict):
        raise ConfigError(f"{path}: 'profiles' must be a table of [profiles.NAME] tables")
    holds_secret: list[str] = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [profiles.{name}] must be a table")
        options = dict(table)
        if "sources" in options:
            profiles[name] = _list_profile(path, name, options)
            continue
        kind = options.pop("kind", None)
        if not isinstance(kind, str):
            raise ConfigError(
                f'{path}: [profiles.{name}] needs kind = "..." (for example "redash" or "local")'
            )
        for option, value in options.items():
            if _is_secret(option, value, _secret_options_of(kind)):
                holds_secret.append(f"profiles.{name}.{option}")
        profiles[name] = Profile(name=name, kind=kind, options=options)
    if holds_secret and os.name == "posix":
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"the config file {path} holds a secret ({', '.join(holds_secret)}) and is "
                f"readable by group or others; run `chmod 600 {path}`, or move the secret "
                "to an environment variable named by an `<option>_env` entry"
            )
    return Config(path=path, profiles=profiles, exists=True, cache=_cache_table(path, data))


def _cache_table(path: Path, data: Mapping[str, Any]) -> Mapping[str, Any]:
    table = data.get("cache", {})
    if not isinstance(table, dict) or set(table) - {"max_size"}:
        raise ConfigError(
            f'{path}: [cache] takes one key, max_size (e.g. max_size = "2 GiB"; 0 turns the '
            "result cache off)"
        )
    return table


def _list_profile(path: Path, name: str, options: Mapping[str, Any]) -> Profile:
    """``[profiles.NAME] sources = [...]``: the names only, checked for shape here and
    against the other profiles by :func:`members`."""
    sources = options["sources"]
    if set(options) != {"sources"}:
        others = ", ".join(sorted(set(options) - {"sources"}))
        raise ConfigError(
            f"{path}: [profiles.{name}] lists sources and also sets {others}; a profile "
            "either lists sources or is one (set the options on the listed profiles)"
        )
    if (
        not isinstance(sources, list)
        or not sources
        or not all(isinstance(s, str) and s for s in sources)
    ):
        raise ConfigError(
            f"{path}: [profiles.{name}] sources must be a list of profile or kind names, "
            'e.g. sources = ["stmo", "local"]'
        )
    return Profile(name=name, kind=FALLBACK_KIND, sources=tuple(sources))


def members(name: str | None, *, config: Config | None = None) -> tuple[str, ...] | None:
    """The sources a list profile names, in order, each checked to be a single profile or
    a kind; None when ``name`` is not a list profile."""
    from .sources.base import known_kinds

    config = config or load_config()
    if name is None:
        name = DEFAULT_PROFILE if DEFAULT_PROFILE in config.profiles else "local"
    profile = config.profiles.get(name)
    if profile is None or not profile.sources:
        return None
    seen: set[str] = set()
    for member in profile.sources:
        listed = config.profiles.get(member)
        if listed is not None and listed.sources:
            raise ConfigError(
                f"{config.path}: [profiles.{name}] lists {member!r}, which lists sources "
                "itself; list its sources directly"
            )
        if listed is None and member not in known_kinds():
            close = close_matches(member, [*config.profiles, *known_kinds()])
            hint = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
            raise ConfigError(
                f"{config.path}: [profiles.{name}] lists {member!r}, which is neither a "
                f"profile nor a source kind{hint}"
            )
        if member in seen:
            raise ConfigError(f"{config.path}: [profiles.{name}] lists {member!r} twice")
        seen.add(member)
    return profile.sources


def _secret_options_of(kind: str) -> frozenset[str]:
    from .sources.base import source_class

    try:
        return frozenset(source_class(kind).secret_options())
    except ConfigError:
        return frozenset()


def _env_prefix(name: str) -> str:
    return "THSOURCES_" + name.upper().replace("-", "_") + "_"


def resolve(
    name: str | None,
    keywords: Mapping[str, Any],
    *,
    config: Config | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[str, str, dict[str, Any]]:
    """Resolve ``name`` to (source name, kind, options) with the documented precedence."""
    from .sources.base import known_kinds, source_class

    config = config or load_config()
    environ = os.environ if environ is None else environ
    if name is None:
        name = DEFAULT_PROFILE if DEFAULT_PROFILE in config.profiles else "local"
    profile = config.profiles.get(name)
    if profile is None and name not in known_kinds():
        close = close_matches(name, [*config.profiles, *known_kinds()])
        hint = f"did you mean {' or '.join(repr(c) for c in close)}? " if close else ""
        where = (
            f"profiles in {config.path}: {', '.join(sorted(config.profiles)) or 'none'}"
            if config.exists
            else f"no config file at {config.path}"
        )
        raise ConfigError(
            f"no profile or source kind named {name!r}; {hint}"
            f"({where}; kinds: {', '.join(known_kinds())})"
        )
    if profile is not None and profile.sources:
        raise ConfigError(
            f"profile {name!r} lists sources ({', '.join(profile.sources)}), it is not one; "
            "thsources.connect() it, or name one of its sources"
        )
    kind = profile.kind if profile else name
    cls = source_class(kind)
    allowed = set(cls.option_names())

    options: dict[str, Any] = {}
    env_named: dict[str, str] = {}
    for option, value in (profile.options if profile else {}).items():
        if option.endswith("_env") and option[:-4] in allowed:
            env_named[option[:-4]] = str(value)
        elif option in allowed:
            options[option] = value
        else:
            raise ConfigError(
                f"{config.path}: [profiles.{name}] has unknown option {option!r} for kind "
                f"{kind!r}; valid options: {', '.join(sorted(allowed)) or 'none'}"
            )
    prefix = _env_prefix(name)
    for option in allowed:
        var = env_named.get(option)
        if var and environ.get(var):
            options[option] = environ[var]
        if environ.get(prefix + option.upper()):
            options[option] = environ[prefix + option.upper()]
    for option, value in keywords.items():
        if option not in allowed:
            raise ConfigError(
                f"unknown option {option!r} for a {kind} source; valid options: "
                f"{', '.join(sorted(allowed)) or 'none'}"
            )
        if value is not None:
            options[option] = value
    for option, var in env_named.items():
        if option not in options:
            raise ConfigError(
                f"profile {name!r} reads {option} from the environment variable {var}, "
                f"which is not set; export {var}=... or pass {option}=..."
            )
    return name, kind, options


def close_matches(name: str, names: Iterable[str]) -> list[str]:
    """Names a typo of ``name`` probably meant, best first (swapped letters included)."""
    import difflib

    candidates = sorted(set(names))
    close = difflib.get_close_matches(name, candidates, n=3, cutoff=0.5)
    swapped = [c for c in candidates if sorted(c) == sorted(name) and c != name]
    return list(dict.fromkeys([*swapped, *close]))[:3]


def mask(option: str, value: Any, secret_options: frozenset[str] = frozenset()) -> Any:
    """A value fit for display: secrets replaced, passwords cut out of URLs."""
    if option in secret_options or option in GENERIC_SECRETS:
        return "(set)" if value not in (None, "") else "(not set)"
    if isinstance(value, str) and "://" in value:
        parts = urlsplit(value)
        if parts.password is not None:
            netloc = f"{parts.username}:***@{parts.hostname}" + (
                f":{parts.port}" if parts.port else ""
            )
            return parts._replace(netloc=netloc).geturl()
    return value
