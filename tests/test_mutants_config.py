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
    write(cfg, PROFILE, 0o644)
    with pytest.raises(ConfigError) as info:
        load_config()
    assert str(info.value) == (
        f"the config file {cfg} holds a secret (profiles.wh.dsn) and is readable by group "
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
