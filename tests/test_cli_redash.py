"""The command line against the Redash emulator: profiles, saved queries, progress, secrets."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from thsources.cli import main
from thsources.testing import RedashEmulator


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(scope="module")
def emu() -> Iterator[RedashEmulator]:
    with RedashEmulator(workers=2) as emulator:
        yield emulator


@pytest.fixture
def profile(emu: RedashEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A 'stmo' profile whose key comes from an environment variable."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.stmo]\nkind = "redash"\nurl = "{emu.url}"\ndata_source = "Treeherder"\n'
        'api_key_env = "TEST_STMO_KEY"\n'
    )
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    monkeypatch.setenv("TEST_STMO_KEY", emu.api_key)
    emu.faults.clear()
    return "stmo"


def run_cli(*argv: str, stderr: io.StringIO | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), stderr or io.StringIO()
    code = main(list(argv), stdin=io.StringIO(), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_query_on_a_redash_profile(profile: str, emu: RedashEmulator) -> None:
    code, out, err = run_cli(
        "query",
        "SELECT name FROM repository WHERE name = :n",
        "-s",
        profile,
        "-p",
        "n=autoland",
        "--format",
        "json",
    )
    assert (code, err) == (0, "")
    assert json.loads(out) == [{"name": "autoland"}]
    assert "SELECT name FROM repository WHERE name = 'autoland'" in emu.executed[-1]


def test_named_query_on_a_redash_profile(profile: str) -> None:
    code, out, _ = run_cli("run", "pushes", "-s", profile, "--format", "csv")
    assert code == 0
    assert out.splitlines()[0].startswith("push_id,revision,author,push_time,jobs")


def test_saved_query_with_parameters(profile: str, emu: RedashEmulator) -> None:
    code, out, err = run_cli(
        "saved", "1", "-s", profile, "-p", "repo=autoland", "--format", "jsonl"
    )
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert rows and set(rows[0]) == {"id", "revision", "author"}
    posted = [r for r in emu.requests if r.method == "POST" and r.path == "/api/queries/1/results"]
    assert posted[-1].json["parameters"] == {"repo": "autoland"}


def test_saved_query_multi_value_enum_from_a_comma_list(profile: str, emu: RedashEmulator) -> None:
    code, out, err = run_cli(
        "saved", "7", "-s", profile, "-p", "results=success,busted", "--format", "csv"
    )
    assert code == 0, err
    assert {line.split(",")[2] for line in out.splitlines()[1:]} == {"success", "busted"}
    posted = [r for r in emu.requests if r.method == "POST" and r.path == "/api/queries/7/results"]
    assert posted[-1].json["parameters"] == {"results": ["success", "busted"]}


def test_saved_query_stored_default_is_applied(profile: str, emu: RedashEmulator) -> None:
    code, _, err = run_cli("saved", "1", "-s", profile)
    assert code == 0, err
    posted = [r for r in emu.requests if r.method == "POST" and r.path == "/api/queries/1/results"]
    assert posted[-1].json["parameters"] == {"repo": "mozilla-central"}


def test_saved_query_bad_parameter_is_exit_2(profile: str) -> None:
    code, _, err = run_cli("saved", "3", "-s", profile, "-p", "result=nonsense")
    assert code == 2
    assert "result" in err and err.count("\n") == 1


def test_progress_shows_state_and_elapsed_on_a_terminal(profile: str, emu: RedashEmulator) -> None:
    emu.job_duration = 0.6
    try:
        err = Tty()
        code, _, _ = run_cli("query", "SELECT 42 AS answer", "-s", profile, stderr=err)
    finally:
        emu.job_duration = 0.0
    assert code == 0
    text = err.getvalue()
    assert "running" in text or "queued" in text
    assert "s" in text and "\r\x1b[K" in text
    assert text.endswith("\r\x1b[K")  # the status line is wiped at the end


def test_timeout_cancels_and_exits_5(profile: str, emu: RedashEmulator) -> None:
    emu.job_duration = 30
    try:
        code, _, err = run_cli("query", "SELECT 7 AS slow", "-s", profile, "--timeout", "0.5")
    finally:
        emu.job_duration = 0.0
    assert code == 5
    assert err.startswith("thsources: error: ") and err.count("\n") == 1
    assert any(r.method == "DELETE" and r.path.startswith("/api/jobs/") for r in emu.requests)


def test_query_error_is_exit_1_with_the_server_message(profile: str) -> None:
    code, _, err = run_cli("query", "SELECT nosuchcol FROM push", "-s", profile)
    assert code == 1
    assert "nosuchcol" in err and "Username:" not in err


def test_wrong_key_is_exit_3_and_never_printed(
    profile: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_STMO_KEY", "wrongkey0123456789wrongkey0123456789abcd")
    code, out, err = run_cli("query", "SELECT 1", "-s", profile, "--debug")
    assert code == 3
    assert "wrongkey0123456789" not in out + err


def test_unreachable_server_is_exit_4(profile: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THSOURCES_STMO_URL", "http://127.0.0.1:9")
    code, _, err = run_cli("query", "SELECT 1", "-s", profile, "--timeout", "5")
    assert code == 4, err


def test_html_answer_is_exit_4_saying_the_url_is_probably_wrong(
    profile: str, emu: RedashEmulator
) -> None:
    emu.faults.html_200 = 1
    code, _, err = run_cli("query", "SELECT 1", "-s", profile)
    assert code == 4
    assert "URL" in err or "url" in err


def test_sources_masks_the_key(profile: str, emu: RedashEmulator) -> None:
    code, out, _ = run_cli("sources")
    assert code == 0
    assert "stmo: kind=redash" in out and "api_key_env=TEST_STMO_KEY" in out
    assert emu.api_key not in out


def test_key_never_reaches_the_terminal(profile: str, emu: RedashEmulator) -> None:
    """Every output of the runs above and a failing one with --debug: no key anywhere."""
    outputs = [
        run_cli("query", "SELECT 1 AS one", "-s", profile, "--debug"),
        run_cli("query", "SELEC 1", "-s", profile, "--debug"),
        run_cli("saved", "5", "-s", profile, "--debug"),
        run_cli("sources"),
    ]
    for _, out, err in outputs:
        assert emu.api_key not in out and emu.api_key not in err
