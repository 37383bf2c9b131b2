"""Profiles and secret masking: what mutation testing found unchecked (see docs/testing.md).

A kind's own secret options (not only the generic names) are guarded and masked; values that
are not text pass the checks; an empty key is no secret; profile names with ``-`` read their
environment variables; a typo gets at most three suggestions, swapped letters first.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from thsources.cli import main
from thsources.config import load_config, resolve
from thsources.errors import ConfigError
from thsources.sources.base import Source, register

DSN = "host=db.internal user=ann password=Hunter2-MutantCheck"


@register("mutants-dsn")
class DsnSource(Source):
    """A kind whose secret option has no generic secret name (as a third-party source may)."""

    def __init__(self, name: str | None = None, **options: object) -> None:
        super().__init__(name)
        self.options = options

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("dsn", "timeout", "api_key")

    @classmethod
    def secret_options(cls) -> tuple[str, ...]:
        return ("dsn",)

    def submit(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("THSOURCES_CONFIG", str(path))
    for var in list(os.environ):
        if var.startswith("THSOURCES_") and var != "THSOURCES_CONFIG":
            monkeypatch.delenv(var)
    return path


def write(path: Path, text: str, mode: int) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(""), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


PROFILE = f'[profiles.wh]\nkind = "mutants-dsn"\ndsn = "{DSN}"\ntimeout = 30\n'


def test_a_kinds_own_secret_in_a_group_readable_file_is_refused(cfg: Path) -> None:
    write(cfg, PROFILE + 'api_key = "k-123"\n', 0o644)
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(info.value) == (
        f"the config file {cfg} holds a secret (profiles.wh.dsn, profiles.wh.api_key) and is "
        "readable by group "
        f"or others; run `chmod 600 {cfg}`, or move the secret to an environment variable "
        "named by an `<option>_env` entry"
    )


def test_sources_masks_a_kinds_own_secret_and_shows_numbers(cfg: Path) -> None:
    write(cfg, PROFILE, 0o600)
    code, out, err = run_cli("sources")
    assert (code, err) == (0, "")
    assert out == f"config file: {cfg}\nwh: kind=mutants-dsn dsn=(set), timeout=30\n"


def test_an_empty_key_is_no_secret(cfg: Path) -> None:
    write(cfg, '[profiles.wh]\nkind = "mutants-dsn"\napi_key = ""\ntimeout = 30\n', 0o644)
    assert load_config().profiles["wh"].options == {"api_key": "", "timeout": 30}


def test_profile_name_with_a_dash_reads_its_environment_variables(cfg: Path) -> None:
    write(cfg, '[profiles.wh-prod]\nkind = "mutants-dsn"\n', 0o600)
    environ = {"THSOURCES_WH_PROD_DSN": DSN, "THSOURCES_WH_PROD_TIMEOUT": "5"}
    assert resolve("wh-prod", {}, config=load_config(), environ=environ) == (
        "wh-prod",
        "mutants-dsn",
        {"dsn": DSN, "timeout": "5"},
    )


def suggestions(cfg: Path, names: list[str], typo: str) -> str:
    write(cfg, "".join(f'[profiles.{n}]\nkind = "mutants-dsn"\n' for n in names), 0o600)
    with pytest.raises(ConfigError) as info:
        resolve(typo, {}, environ={})
    text = str(info.value)
    return text[text.index("; ") + 2 : text.index(" (profiles in")]


def test_typo_gets_three_suggestions_swapped_letters_first(cfg: Path) -> None:
    assert suggestions(cfg, ["abcdx", "abcdy", "abcdz", "abdc"], "abcd") == (
        "did you mean 'abdc' or 'abcdz' or 'abcdy'?"
    )


def test_typo_of_a_longer_name_is_still_suggested(cfg: Path) -> None:
    """'prod' for 'production' is a 0.57 match: above the 0.5 cutoff, below difflib's 0.6."""
    assert suggestions(cfg, ["production"], "prod") == "did you mean 'production'?"


@register("mutants-bare")
class BareSource(Source):
    """A kind that takes no options at all."""

    def submit(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")


def test_config_file_defaults_to_the_user_config_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("THSOURCES_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    code, out, _ = run_cli("sources")
    assert code == 0
    assert out.splitlines()[0] == (
        f"config file: {tmp_path / 'xdg' / 'thsources' / 'config.toml'} (not found)"
    )


def test_config_path_that_cannot_be_read_says_why(cfg: Path) -> None:
    cfg.mkdir()
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(info.value) == f"cannot read the config file {cfg}: Is a directory"


def test_unknown_top_level_keys_are_named(cfg: Path) -> None:
    write(cfg, 'x = 1\n[stmo]\nkind = "redash"\n', 0o600)
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(info.value) == (
        f"{cfg}: unknown top-level key(s) stmo, x; write each source as a [profiles.NAME] table"
    )


def test_unknown_name_without_a_config_file(cfg: Path) -> None:
    from thsources.sources.base import known_kinds

    with pytest.raises(ConfigError) as info:
        resolve("zzzzzz", {}, environ={})
    assert str(info.value) == (
        f"no profile or source kind named 'zzzzzz'; (no config file at {cfg}; "
        f"kinds: {', '.join(known_kinds())})"
    )


def test_unknown_name_lists_the_profiles(cfg: Path) -> None:
    from thsources.sources.base import known_kinds

    write(
        cfg, '[profiles.wh]\nkind = "mutants-bare"\n[profiles.aa]\nkind = "mutants-bare"\n', 0o600
    )
    with pytest.raises(ConfigError) as info:
        resolve("zzzzzz", {}, environ={})
    assert str(info.value) == (
        f"no profile or source kind named 'zzzzzz'; (profiles in {cfg}: aa, wh; "
        f"kinds: {', '.join(known_kinds())})"
    )
    write(cfg, "", 0o600)
    with pytest.raises(ConfigError, match=f"\\(profiles in {cfg}: none; kinds: "):
        resolve("zzzzzz", {}, environ={})


def test_misspelled_env_option_is_an_unknown_option(cfg: Path) -> None:
    """``dsn_evn`` is a typo of ``dsn_env``: refused, never read as a variable name."""
    write(cfg, '[profiles.wh]\nkind = "mutants-dsn"\ndsn_evn = "WH_DSN"\n', 0o600)
    with pytest.raises(ConfigError) as info:
        resolve("wh", {}, environ={"WH_DSN": DSN})
    assert str(info.value) == (
        f"{cfg}: [profiles.wh] has unknown option 'dsn_evn' for kind 'mutants-dsn'; "
        "valid options: api_key, dsn, timeout"
    )


def test_unknown_option_of_a_kind_without_options(cfg: Path) -> None:
    write(cfg, '[profiles.wh]\nkind = "mutants-bare"\nurl = "x"\n', 0o600)
    with pytest.raises(ConfigError) as info:
        resolve("wh", {}, environ={})
    assert str(info.value) == (
        f"{cfg}: [profiles.wh] has unknown option 'url' for kind 'mutants-bare'; "
        "valid options: none"
    )
    with pytest.raises(ConfigError) as info:
        resolve("mutants-bare", {"url": "x"}, environ={})
    assert str(info.value) == (
        "unknown option 'url' for a mutants-bare source; valid options: none"
    )
    with pytest.raises(ConfigError) as info:
        resolve("mutants-dsn", {"url": "x"}, environ={})
    assert str(info.value) == (
        "unknown option 'url' for a mutants-dsn source; valid options: api_key, dsn, timeout"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("profiles = 1\n", "'profiles' must be a table of [profiles.NAME] tables"),
        ("[profiles]\nwh = 1\n", "[profiles.wh] must be a table"),
    ],
)
def test_profiles_that_are_not_tables_are_refused(cfg: Path, text: str, message: str) -> None:
    write(cfg, text, 0o600)
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(info.value) == f"{cfg}: {message}"


def test_a_profile_knows_its_name_and_kind(cfg: Path) -> None:
    write(cfg, PROFILE, 0o600)
    profile = load_config().profiles["wh"]
    assert (profile.name, profile.kind, dict(profile.options)) == (
        "wh",
        "mutants-dsn",
        {"dsn": DSN, "timeout": 30},
    )
