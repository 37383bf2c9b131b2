"""The command line against the Redash emulator: profiles, saved queries, progress, secrets."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from thsources.cli import main
from thsources.errors import NotFound, exit_code_for
from thsources.sources.base import Job, Source, register
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


@pytest.mark.parametrize(
    "ref",
    ["{url}/queries/1", "{url}/queries/1/source#table", "{url}/queries/1?p_repo=x", " 1 "],
)
def test_saved_query_by_url(profile: str, emu: RedashEmulator, ref: str) -> None:
    code, out, err = run_cli("saved", ref.format(url=emu.url), "-s", profile, "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[0] == "id,revision,author"
    posted = [r for r in emu.requests if r.method == "POST" and r.path.startswith("/api/queries/")]
    assert posted[-1].path == "/api/queries/1/results"


def test_saved_query_reference_that_is_no_id_is_exit_2(profile: str) -> None:
    code, _, err = run_cli("saved", "last-week", "-s", profile)
    assert code == 2
    assert err == (
        "thsources: error: a saved query id is a number (or a query URL), not 'last-week'\n"
    )


def test_missing_saved_query_is_not_found_exit_4(profile: str, emu: RedashEmulator) -> None:
    code, out, err = run_cli("saved", "999", "-s", profile)
    assert code == exit_code_for(NotFound("x")) == 4
    assert err.startswith("thsources: error: GET /api/queries/999: not found on ")
    assert err.count("\n") == 1 and out == ""


def test_tables_on_a_source_without_a_schema_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The base contract: UnsupportedQuery, a usage error."""
    config = tmp_path / "c.toml"
    config.write_text('[profiles.bare]\nkind = "schemaless"\n')
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    code, out, err = run_cli("tables", "-s", "bare")
    assert (code, out) == (2, "")
    assert err == "thsources: error: source 'bare' (schemaless) has no schema listing\n"


@register("schemaless")
class Schemaless(Source):
    def submit(self, *args: object, **kwargs: object) -> Job:
        raise AssertionError("not used")


def test_sources_with_the_key_in_the_config_file(
    emu: RedashEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The key written in the (0600) file: `sources` must mask it, and queries still work."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.stmo]\nkind = "redash"\nurl = "{emu.url}"\ndata_source = "Treeherder"\n'
        f'api_key = "{emu.api_key}"\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    code, out, err = run_cli("sources")
    assert (code, err) == (0, "")
    assert out.splitlines()[1] == (
        f"stmo: kind=redash api_key=(set), data_source=Treeherder, url={emu.url}"
    )
    assert emu.api_key not in out
    code, out, _ = run_cli("query", "SELECT 1 AS one", "-s", "stmo", "--format", "csv")
    assert (code, out) == (0, "one\n1\n")


def test_sigint_to_the_command_exits_130_and_cancels_the_job(
    emu: RedashEmulator, profile: str, tmp_path: Path
) -> None:
    """A real process sent SIGINT while its Redash job runs (the emulator's job is slow)."""
    emu.job_duration = 60
    env = {**os.environ, "TEST_STMO_KEY": emu.api_key}
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "thsources", "query", "SELECT 'sigint' AS s", "-s", profile],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            cwd=tmp_path,
        )
        try:
            deadline = time.monotonic() + 60
            while not polled(emu):  # the job runs and the command waits on it
                assert proc.poll() is None and time.monotonic() < deadline
                time.sleep(0.05)
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    finally:
        emu.job_duration = 0.0
    assert proc.returncode == 130, err
    assert err.decode().endswith("thsources: interrupted\n") and out == b""
    jobs = polled(emu)
    assert [r.path for r in emu.requests if r.method == "DELETE"][-1:] == jobs[:1]
    assert emu.jobs[jobs[0].rsplit("/", 1)[1]].state == "cancelled"


def polled(emu: RedashEmulator) -> list[str]:
    """The job paths polled after the query with 'sigint' in it was posted."""
    posted = [
        i
        for i, r in enumerate(emu.requests)
        if r.method == "POST" and "sigint" in str((r.json or {}).get("query"))
    ]
    if not posted:
        return []
    later = emu.requests[posted[-1] :]
    return list(
        dict.fromkeys(
            r.path for r in later if r.method == "GET" and r.path.startswith("/api/jobs/")
        )
    )
