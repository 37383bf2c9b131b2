"""Profiles and precedence: keyword > environment > profile > default."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import thsources
from thsources.config import load_config, mask, resolve
from thsources.errors import ConfigError
from thsources.sources.base import Source, register


@register("dummy")
class DummySource(Source):
    """A source kind only these tests use: it records the options it was given."""

    def __init__(self, name: str | None = None, **options: object) -> None:
        super().__init__(name)
        self.options = options

    @classmethod
    def option_names(cls) -> tuple[str, ...]:
        return ("url", "api_key", "data_source")

    @classmethod
    def secret_options(cls) -> tuple[str, ...]:
        return ("api_key",)

    def submit(self, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        raise AssertionError("not used")


def write(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    os.chmod(path, mode)
    return path


@pytest.fixture
def cfg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("THSOURCES_CONFIG", str(path))
    for var in list(os.environ):
        if var.startswith("THSOURCES_") and var != "THSOURCES_CONFIG":
            monkeypatch.delenv(var)
    return path


def test_precedence_keyword_over_env_over_profile(
    cfg: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        cfg,
        '[profiles.stmo]\nkind = "dummy"\nurl = "http://profile"\ndata_source = "Treeherder"\n'
        'api_key_env = "MY_KEY"\n',
    )
    monkeypatch.setenv("MY_KEY", "from-named-env")
    name, kind, options = resolve("stmo", {})
    assert (name, kind) == ("stmo", "dummy")
    assert options == {
        "url": "http://profile",
        "data_source": "Treeherder",
        "api_key": "from-named-env",
    }

    monkeypatch.setenv("THSOURCES_STMO_URL", "http://env")
    assert resolve("stmo", {})[2]["url"] == "http://env"
    assert resolve("stmo", {"url": "http://kw"})[2]["url"] == "http://kw"


def test_kind_without_profile_reads_kind_env(cfg: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THSOURCES_DUMMY_API_KEY", "k")
    assert resolve("dummy", {"url": "http://x"})[2] == {"url": "http://x", "api_key": "k"}


def test_connect_builds_the_profile_source(cfg: Path) -> None:
    write(cfg, '[profiles.mine]\nkind = "dummy"\nurl = "http://u"\n')
    src = thsources.connect("mine", data_source=3)
    assert isinstance(src, DummySource)
    assert src.name == "mine"
    assert src.options == {"url": "http://u", "data_source": 3}


def test_no_name_uses_default_profile_else_local(cfg: Path) -> None:
    assert resolve(None, {})[:2] == ("local", "local")
    write(cfg, '[profiles.default]\nkind = "dummy"\n')
    assert resolve(None, {})[:2] == ("default", "dummy")


def test_missing_named_env_variable_says_how_to_fix(cfg: Path) -> None:
    write(cfg, '[profiles.stmo]\nkind = "dummy"\napi_key_env = "NOT_SET_ANYWHERE"\n')
    with pytest.raises(ConfigError, match="export NOT_SET_ANYWHERE=..."):
        resolve("stmo", {})


def test_unknown_profile_lists_profiles_and_kinds(cfg: Path) -> None:
    write(cfg, '[profiles.stmo]\nkind = "dummy"\n')
    with pytest.raises(ConfigError, match=r"no profile or source kind named 'nope'.*stmo.*local"):
        resolve("nope", {})


def test_unknown_option_is_refused(cfg: Path) -> None:
    write(cfg, '[profiles.stmo]\nkind = "dummy"\nurll = "x"\n')
    with pytest.raises(ConfigError, match="unknown option 'urll'.*valid options: api_key"):
        resolve("stmo", {})
    with pytest.raises(ConfigError, match="unknown option 'bogus'"):
        resolve("dummy", {"bogus": 1})


def test_secret_in_group_readable_file_is_refused(cfg: Path) -> None:
    write(cfg, '[profiles.stmo]\nkind = "dummy"\napi_key = "s3cret-value"\n', mode=0o644)
    with pytest.raises(ConfigError) as info:
        load_config()
    message = str(info.value)
    assert "chmod 600" in message and "profiles.stmo.api_key" in message
    assert "s3cret-value" not in message
    os.chmod(cfg, 0o600)
    assert load_config().profiles["stmo"].options["api_key"] == "s3cret-value"


def test_password_in_url_counts_as_secret(cfg: Path) -> None:
    write(cfg, '[profiles.db]\nkind = "dummy"\nurl = "postgresql://u:pw@h/db"\n', mode=0o640)
    with pytest.raises(ConfigError, match="readable by group or others"):
        load_config()


def test_group_readable_file_without_secrets_is_fine(cfg: Path) -> None:
    write(cfg, '[profiles.x]\nkind = "dummy"\napi_key_env = "K"\n', mode=0o644)
    assert "x" in load_config().profiles


def test_bad_toml_and_missing_kind(cfg: Path) -> None:
    write(cfg, "[profiles.x\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config()
    write(cfg, "[profiles.x]\nurl = 'u'\n")
    with pytest.raises(ConfigError, match='needs kind = "..."'):
        load_config()


def test_missing_config_file_is_an_empty_config(cfg: Path) -> None:
    config = load_config()
    assert not config.exists and config.profiles == {} and config.path == cfg


def test_mask_hides_secrets_and_url_passwords() -> None:
    assert mask("api_key", "abcdef") == "(set)"
    assert mask("api_key", "") == "(not set)"
    assert mask("url", "postgresql://me:pw@db:5432/x") == "postgresql://me:***@db:5432/x"
    assert mask("url", "https://h") == "https://h"


@pytest.mark.parametrize(
    ("typo", "meant"), [("stmp", "'stmo'"), ("tsmo", "'stmo'"), ("loacl", "'local'")]
)
def test_misspelled_profile_or_kind_gets_did_you_mean(cfg: Path, typo: str, meant: str) -> None:
    write(cfg, '[profiles.stmo]\nkind = "dummy"\n[profiles.other]\nkind = "dummy"\n')
    with pytest.raises(ConfigError, match=f"named '{typo}'; did you mean {meant}"):
        resolve(typo, {})


def test_no_did_you_mean_for_a_name_like_nothing(cfg: Path) -> None:
    write(cfg, '[profiles.stmo]\nkind = "dummy"\n')
    with pytest.raises(ConfigError) as info:
        resolve("zzzzzz", {})
    assert "did you mean" not in str(info.value)
