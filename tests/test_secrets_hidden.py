"""Hidden-input check: distinctive secrets go in, and no text a user or a log can see holds them.

The secrets: an API key and a wrong API key written in the (0600) config file, a password in
a Redash URL (as a database password would be written) and a password in the URL of an
unreachable server. Every scenario below runs against the Redash emulator and looks at
everything it produced: the command's stdout and stderr (with ``--debug`` tracebacks), every
log record at DEBUG, the message, repr and full traceback of every exception, the reprs of
sources, jobs and results, and every file left under the test's directory (outputs, caches)
except the config file itself.
"""

from __future__ import annotations

import base64
import io
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

import pytest
from secret_watch import SecretWatch

import thsources
from thsources import errors
from thsources.cli import main
from thsources.testing import DataSource, RedashEmulator, User

KEY: Final = "HiDdEnKeY-0123456789-abcdefghij-KLMNOPQR"
WRONG_KEY: Final = "WrOnGkEy-9876543210-zyxwvutsrq-PONMLKJI"
DB_PASSWORD: Final = "dbPaSsWoRd-Hidden-4417"
URL_PASSWORD: Final = "urlPaSsWoRd-Hidden-9063"
SECRETS: Final = (KEY, WRONG_KEY, DB_PASSWORD, URL_PASSWORD)
# The same secrets as they may be encoded on their way out: basic auth, URL quoting.
ENCODED: Final = (
    base64.b64encode(f"alice:{DB_PASSWORD}".encode()).decode(),
    base64.b64encode(f"bob:{URL_PASSWORD}".encode()).decode(),
)
WATCH = SecretWatch(*SECRETS, *ENCODED)
SLOW: Final = "'slow' AS slow"  # a marker the server keeps (it strips trailing comments)


@pytest.fixture(scope="module")
def emu() -> Iterator[RedashEmulator]:
    with RedashEmulator(
        users=[User(api_key=KEY)],
        data_sources=[DataSource(1, "Treeherder"), DataSource(2, "Locked", view_only=True)],
        duration_for=lambda sql: 30.0 if SLOW in sql else None,
        workers=2,
    ) as emulator:
        yield emulator


@pytest.fixture
def world(
    emu: RedashEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[Path]:
    """Profiles holding the secrets; after the test, nothing anywhere may hold one."""
    emu.faults.clear()
    emu.job_duration = 0.0
    with_password = emu.url.replace("http://", f"http://alice:{DB_PASSWORD}@")
    profiles = {
        "stmo": f'url = "{emu.url}"\napi_key = "{KEY}"',
        "envkey": f'url = "{emu.url}"\napi_key_env = "HIDDEN_TEST_KEY"',
        "pw": f'url = "{with_password}"\napi_key = "{KEY}"',
        "down": f'url = "http://127.0.0.1:9"\napi_key = "{KEY}"',
        "wrong": f'url = "{emu.url}"\napi_key = "{WRONG_KEY}"',
        "bq": f'url = "{emu.url}"\napi_key = "{KEY}"\ndialect = "bigquery"',
        "locked": f'url = "{emu.url}"\napi_key = "{KEY}"\ndata_source = "Locked"',
    }
    config = tmp_path / "config.toml"
    config.write_text(
        "".join(
            f'[profiles.{name}]\nkind = "redash"\ndata_source = "Treeherder"\n{body}\n'
            if "data_source" not in body
            else f'[profiles.{name}]\nkind = "redash"\n{body}\n'
            for name, body in profiles.items()
        )
        # Another kind that takes credentials in its URL, pointing nowhere: the password must
        # stay out of the SourceUnavailable message.
        + f'[profiles.down-ad]\nkind = "activedata"\nurl = "http://bob:{URL_PASSWORD}@127.0.0.1:9"\n'
        # Lists: the reasons of the sources passed over are shown (meta, errors), never a secret.
        + '[profiles.anyw]\nsources = ["down", "down-ad", "stmo"]\n'
        + '[profiles.anyw-down]\nsources = ["down-ad", "down"]\n'
    )
    config.chmod(0o600)
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    monkeypatch.setenv("HIDDEN_TEST_KEY", KEY)
    monkeypatch.setenv("THSOURCES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("THSOURCES_RESULT_CACHE_DIR")  # the result cache under cache/ too
    monkeypatch.setenv("THSOURCES_HISTORY", str(tmp_path / "history.duckdb"))
    monkeypatch.chdir(tmp_path)
    yield from WATCH.check_logs(caplog)
    for path in tmp_path.rglob("*"):
        if path.is_file() and path != config:
            data = path.read_bytes()
            leaked = [s for s in (*SECRETS, *ENCODED) if s.encode() in data]
            assert not leaked, f"{path.name} holds a secret"


def cli(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(), stdout=out, stderr=err)
    WATCH.remember(out.getvalue(), err.getvalue())
    assert not WATCH.leaks([out.getvalue(), err.getvalue()]), (argv, out.getvalue(), err.getvalue())
    return code, out.getvalue() + err.getvalue()


# -- every command, with --debug (tracebacks) and -v ------------------------------------------

SLOW_SQL: Final = f"SELECT 1 AS one, {SLOW}"

COMMANDS: Final[list[tuple[str, list[str], int]]] = [
    ("sources", ["sources"], 0),
    ("query", ["query", "SELECT 1 AS one", "-s", "stmo"], 0),
    ("query-env-key", ["query", "SELECT 1 AS one", "-s", "envkey"], 0),
    ("query-csv-file", ["query", "SELECT 1 AS one", "-s", "stmo", "-o", "out.csv"], 0),
    ("query-json-file", ["query", "SELECT 1 AS one", "-s", "stmo", "-o", "out.json"], 0),
    ("query-parquet-file", ["query", "SELECT 1 AS one", "-s", "stmo", "-o", "o.parquet"], 0),
    ("named-query", ["run", "pushes", "-s", "stmo", "--format", "jsonl"], 0),
    ("saved", ["saved", "1", "-s", "stmo", "-p", "repo=autoland"], 0),
    ("saved-by-url", ["saved", "http://x/queries/1", "-s", "stmo"], 0),
    ("queries", ["queries"], 0),
    ("query-error", ["query", "SELEC 1", "-s", "stmo"], 1),
    ("timeout", ["query", SLOW_SQL, "-s", "stmo", "--timeout", "0.5"], 5),
    ("missing-saved", ["saved", "999", "-s", "stmo"], 4),
    ("bad-saved-param", ["saved", "3", "-s", "stmo", "-p", "result=nonsense"], 2),
    ("missing-param", ["query", "SELECT :a", "-s", "stmo"], 2),
    ("unsupported", ["run", "pushes", "-s", "bq"], 2),
    ("tables", ["tables", "-s", "stmo"], 0),
    ("wrong-key", ["query", "SELECT 1", "-s", "wrong"], 3),
    ("view-only", ["query", "SELECT 1", "-s", "locked"], 3),
    ("unreachable", ["query", "SELECT 1", "-s", "down", "--timeout", "5"], 4),
    (
        "unreachable-url-password",
        ["query", "SELECT count(*) FROM treeherder", "-s", "down-ad", "--timeout", "5"],
        4,
    ),
    ("misspelled-profile", ["query", "SELECT 1", "-s", "stmp"], 2),
    ("bad-output", ["query", "SELECT 1", "-s", "stmo", "-o", "x.xlsx"], 2),
    ("pull", ["pull", "pushes", "-s", "stmo", "--into", "p"], 0),
    ("pull-bad-table", ["pull", "pushes", "-s", "stmo", "--into", "pulls"], 2),
    ("join-missing-table", ["join", "SELECT * FROM t"], 2),
    ("fallback", ["run", "pushes", "-s", "anyw", "--format", "jsonl", "--timeout", "60"], 0),
    ("fallback-all-down", ["query", "SELECT 1", "-s", "anyw-down", "--timeout", "30"], 4),
    ("check", ["check", "stmo", "down-ad", "pw", "-q", "pushes", "--timeout", "30"], 1),
    ("query-cached", ["query", "SELECT 1 AS one", "-s", "stmo", "--max-age", "600"], 0),
    ("named-cached", ["run", "pushes", "-s", "envkey", "--max-age", "inf"], 0),
    ("cache-ls", ["cache", "ls"], 0),
    ("cache-clear", ["cache", "clear", "-s", "stmo"], 0),
]


@pytest.mark.parametrize(("argv", "code"), [c[1:] for c in COMMANDS], ids=[c[0] for c in COMMANDS])
@pytest.mark.parametrize("flags", [["--debug", "-v"], []], ids=["debug", "plain"])
def test_command_output_holds_no_secret(
    world: Path, argv: list[str], code: int, flags: list[str]
) -> None:
    got, text = cli(*flags, *argv)
    assert got == code, text
    if flags and code:
        assert "Traceback" in text


def test_url_password_profile_is_refused_without_showing_it(world: Path) -> None:
    """A password in the Redash URL would replace the API key's header with basic auth:
    refused before any request, and the password is shown nowhere."""
    got, text = cli("--debug", "query", "SELECT 1 AS one", "-s", "pw")
    assert got == 2, text
    assert "must not carry a user name or password" in text


def test_server_error_pages_hold_no_secret(world: Path, emu: RedashEmulator) -> None:
    emu.faults.html_200 = 1
    got, _ = cli("--debug", "query", "SELECT 1", "-s", "stmo")
    assert got == 4


def test_group_readable_config_error_names_no_secret(world: Path) -> None:
    config = Path(os.environ["THSOURCES_CONFIG"])
    config.chmod(0o644)
    try:
        for argv in (["sources"], ["query", "SELECT 1", "-s", "stmo"]):
            got, text = cli("--debug", *argv)
            assert got == 2 and "profiles.stmo.api_key" in text
    finally:
        config.chmod(0o600)


# -- the Python API: every error class, its message, repr and traceback ----------------------


def _source(name: str) -> thsources.Source:
    src = thsources.connect(name)
    WATCH.remember(repr(src), src.describe())
    return src


def _query(name: str, sql: str, **kw: Any) -> Callable[[], Any]:
    return lambda: _source(name).query(sql, **kw)


def _cancelled() -> Any:
    job = _source("stmo").submit(f"SELECT 2 AS two, {SLOW}")
    WATCH.remember(repr(job))
    job.cancel()
    return job.result(timeout=20)


def _group_readable() -> Any:
    config = Path(os.environ["THSOURCES_CONFIG"])
    config.chmod(0o640)
    try:
        return thsources.connect("stmo")
    finally:
        config.chmod(0o600)


def _without_polars() -> Any:
    """Result.to_polars() on a machine where polars cannot be imported."""
    res = _source("stmo").query("SELECT 1 AS one")
    saved = sys.modules.get("polars")
    sys.modules["polars"] = None  # type: ignore[assignment]
    try:
        return res.to_polars()
    finally:
        if saved is None:
            del sys.modules["polars"]
        else:
            sys.modules["polars"] = saved


ERRORS: Final[list[tuple[type[errors.ThsourcesError], Callable[[], Any]]]] = [
    (errors.ConfigError, _group_readable),
    (errors.ConfigError, lambda: thsources.connect("stmp")),
    (errors.MissingDependency, _without_polars),
    (errors.ParameterError, lambda: _source("stmo").run_saved(3, {"result": "nonsense"})),
    (errors.UnsupportedQuery, lambda: thsources.run("pushes", source=_source("bq"))),
    (errors.AuthenticationError, _query("wrong", "SELECT 1")),
    (errors.PermissionDenied, _query("locked", "SELECT 1")),
    (errors.NotFound, lambda: _source("stmo").run_saved(999)),
    (errors.SourceUnavailable, _query("down", "SELECT 1", timeout=5)),
    (errors.SourceUnavailable, _query("down-ad", "SELECT count(*) FROM treeherder", timeout=5)),
    (errors.QueryError, _query("stmo", "SELEC 1")),
    (errors.QueryTimeout, _query("stmo", f"SELECT 3, {SLOW}", timeout=0.5)),
    (errors.QueryCancelled, _cancelled),
]


@pytest.mark.parametrize(
    ("cls", "call"), ERRORS, ids=[f"{c.__name__}-{i}" for i, (c, _) in enumerate(ERRORS)]
)
def test_error_texts_hold_no_secret(
    world: Path, cls: type[errors.ThsourcesError], call: Callable[[], Any]
) -> None:
    start = len(WATCH.seen)
    with WATCH.raises(cls) as info:
        call()
    assert type(info.value) is cls
    WATCH.remember("".join(traceback.format_exception(info.value)))
    assert not WATCH.leaks(WATCH.seen[start:])


def test_protocol_error_holds_no_secret(world: Path, emu: RedashEmulator) -> None:
    emu.faults.html_200 = 1
    start = len(WATCH.seen)
    with WATCH.raises(errors.ProtocolError) as info:
        _source("stmo").query("SELECT 1")
    WATCH.remember("".join(traceback.format_exception(info.value)))
    assert not WATCH.leaks(WATCH.seen[start:])


def test_every_error_class_is_checked() -> None:
    """A class added to the tree must get a scenario here (the two roots are never raised)."""
    checked = {cls for cls, _ in ERRORS} | {errors.ProtocolError}
    classes = {getattr(errors, n) for n in errors.__all__ if isinstance(getattr(errors, n), type)}
    assert classes - {errors.ThsourcesError, errors.SourceError} == checked


def test_results_and_sources_hold_no_secret(world: Path) -> None:
    start = len(WATCH.seen)
    for name in ("stmo", "envkey", "down"):
        src = _source(name)
        WATCH.remember(repr(src), str(src), src.describe())
    res = _source("stmo").query("SELECT 1 AS one")
    WATCH.remember(repr(res), res.meta, res.records())
    with thsources.connect("anyw") as listed:
        passed_over = listed.query("SELECT 1 AS one", timeout=60)
        WATCH.remember(repr(listed), listed.describe(), repr(passed_over), passed_over.meta)
    assert list(passed_over.meta.extra["skipped"]) == ["down", "down-ad"]
    assert not WATCH.leaks(WATCH.seen[start:])


def test_result_cache_files_hold_no_secret(world: Path, tmp_path: Path) -> None:
    """Entries (identity, header, meta) name the server, never the key; twice, so the second
    call is a hit read back from the file, and `cache ls` shows the entries."""
    for _ in range(2):
        assert cli("query", "SELECT 2 AS two", "-s", "stmo", "--max-age", "600")[0] == 0
        assert cli("query", "SELECT 2 AS two", "-s", "envkey", "--max-age", "600")[0] == 0
    entries = list((tmp_path / "cache" / "results").rglob("*.thsr"))
    assert len(entries) == 1  # the same server and data source: one entry for both profiles
    code, text = cli("cache", "ls", "--format", "json")
    assert code == 0 and "SELECT 2 AS two" in text


@pytest.mark.skipif(
    not os.environ.get("THSOURCES_TEST_POSTGRES_URL"), reason="needs THSOURCES_TEST_POSTGRES_URL"
)
def test_sql_url_password_stays_out_of_the_result_cache(world: Path, tmp_path: Path) -> None:
    """A database password in a sql source's URL: the entry keys on the URL without it."""
    from urllib.parse import urlsplit

    parts = urlsplit(os.environ["THSOURCES_TEST_POSTGRES_URL"])
    user = parts.username or "postgres"
    url = parts._replace(netloc=f"{user}:{DB_PASSWORD}@{parts.hostname}:{parts.port or 5432}")
    src = thsources.connect("sql", url=url.geturl())  # trust authentication ignores it
    WATCH.remember(repr(src), src.describe(), src.cache_identity())
    first = src.query("SELECT 3 AS three", max_age=600)
    second = src.query("SELECT 3 AS three", max_age=600)
    assert second.meta.extra["local_cache"] is True and second.records() == first.records()
    WATCH.remember(repr(second), second.meta)
    assert len(list((tmp_path / "cache" / "results").rglob("*.thsr"))) == 1
    assert not WATCH.leaks(WATCH.seen)
