"""A profile listing several sources: named queries (and SQL) run on the first that can
answer, ``meta.source`` says which; the query's own errors do not fall through."""

from __future__ import annotations

import io
import re
import shutil
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import thsources
from thsources import (
    ConfigError,
    ParameterError,
    QueryError,
    QueryTimeout,
    SourceUnavailable,
    UnsupportedQuery,
)
from thsources.catalog import QUERIES_PATH_ENV, get
from thsources.cli import main
from thsources.fallback import Fallback
from thsources.testing import ActiveDataEmulator, TreeherderEmulator

API_KEY = "Fallback-Api-Key-7f3e9a"
PASSWORD = "Fallback-Passw0rd-41c2"


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A port nothing listens on: bound, then released."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@pytest.fixture(scope="module")
def activedata() -> Iterator[ActiveDataEmulator]:
    with ActiveDataEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def treeherder() -> Iterator[TreeherderEmulator]:
    with TreeherderEmulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def local() -> Iterator[thsources.Source]:
    with thsources.connect("local") as src:
        yield src


def write_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text)
    path.chmod(0o600)
    monkeypatch.setenv("THSOURCES_CONFIG", str(path))
    return path


def test_an_unreachable_first_source_falls_through_to_the_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int, local: thsources.Source
) -> None:
    write_config(
        tmp_path,
        monkeypatch,
        f"""
[profiles.down]
kind = "treeherder"
url = "http://127.0.0.1:{closed_port}"
retries = 1

[profiles.anywhere]
sources = ["down", "local"]
""",
    )
    with thsources.connect("anywhere") as src:
        assert isinstance(src, Fallback) and src.members == ["down", "local"]
        res = thsources.run("pushes", source=src)
    assert res.meta.source == "local"
    assert res.records() == thsources.run("pushes", source=local).records()
    skipped = res.meta.extra["skipped"]
    assert list(skipped) == ["down"]
    assert skipped["down"].startswith("SourceUnavailable: ")
    assert f"127.0.0.1:{closed_port}" in skipped["down"]
    # by name too, as the CLI does
    assert thsources.run("pushes", source="anywhere").meta.source == "local"


def test_a_source_without_a_variant_is_passed_over(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    treeherder: TreeherderEmulator,
    local: thsources.Source,
) -> None:
    write_config(
        tmp_path,
        monkeypatch,
        f"""
[profiles.rest]
kind = "treeherder"
url = "{treeherder.url}"
pace = inf

[profiles.anywhere]
sources = ["rest", "local"]
""",
    )
    with thsources.connect("anywhere") as src:
        bugs = thsources.run("intermittent-bugs", source=src)
        pushes = thsources.run("pushes", {"days": 2}, source=src)
    assert bugs.meta.source == "local"
    assert bugs.meta.extra["skipped"] == {
        "rest": f"UnsupportedQuery: {_no_variant('intermittent-bugs', 'rest')}"
    }
    assert bugs.records() == thsources.run("intermittent-bugs", source=local).records()
    assert pushes.meta.source == "rest"  # the first that has a variant answers
    assert pushes.meta.extra["skipped"] == {}
    assert pushes.records() == thsources.run("pushes", {"days": 2}, source=local).records()


def _no_variant(name: str, dialect: str) -> str:
    with pytest.raises(UnsupportedQuery) as info:
        get(name).variant_for(dialect)
    return str(info.value)


@pytest.fixture
def ad_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, activedata: ActiveDataEmulator
) -> Iterator[thsources.Source]:
    """``local`` first, the ActiveData emulator second (its requests show a fall-through)."""
    write_config(
        tmp_path,
        monkeypatch,
        f"""
[profiles.ad]
kind = "activedata"
url = "{activedata.url}"

[profiles.anywhere]
sources = ["local", "ad"]
""",
    )
    activedata.clear_requests()
    with thsources.connect("anywhere") as src:
        yield src


def test_parameter_errors_do_not_fall_through(
    ad_second: thsources.Source, activedata: ActiveDataEmulator
) -> None:
    with pytest.raises(ParameterError, match=r"parameter 'days' must be at least 1, got 0"):
        thsources.run("pushes", {"days": 0}, source=ad_second)
    with pytest.raises(
        ParameterError, match=r"missing value for parameter\(s\): x;"
    ):  # the first source's own
        ad_second.query("SELECT :x AS v", {"y": 1})
    assert activedata.requests == []


def test_query_errors_do_not_fall_through(
    ad_second: thsources.Source,
    activedata: ActiveDataEmulator,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with pytest.raises(QueryError) as raw:
        ad_second.query("SELECT no_such_column FROM push")
    assert raw.value.source == "local"
    # a named query whose SQL variant is broken: ActiveData's (intact) would have answered
    folder = tmp_path / "queries" / "pushes"
    shutil.copytree(get("pushes").folder or "", folder)
    (folder / "postgresql.sql").write_text(
        (folder / "postgresql.sql").read_text().replace("p.revision", "p.no_such_column", 1)
    )
    monkeypatch.setenv(QUERIES_PATH_ENV, str(folder.parent))
    with pytest.raises(QueryError, match="no_such_column") as named:
        thsources.run("pushes", source=ad_second)
    assert type(named.value) is QueryError and named.value.source == "local"
    assert activedata.requests == []


def test_when_every_source_fails_the_error_names_each_reason_and_no_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    write_config(
        tmp_path,
        monkeypatch,
        f"""
[profiles.stmo]
kind = "redash"
url = "http://127.0.0.1:{closed_port}"
api_key = "{API_KEY}"
data_source = "Treeherder"

[profiles.replica]
kind = "sql"
url = "postgresql://reader:{PASSWORD}@127.0.0.1:{closed_port}/treeherder"

[profiles.needs-key]
kind = "redash"
url = "http://127.0.0.1:{closed_port}"
api_key_env = "THSOURCES_FALLBACK_UNSET_KEY"

[profiles.anywhere]
sources = ["stmo", "replica", "needs-key"]
""",
    )
    monkeypatch.delenv("THSOURCES_FALLBACK_UNSET_KEY", raising=False)
    with thsources.connect("anywhere") as src, pytest.raises(SourceUnavailable) as info:
        thsources.run("pushes", source=src, timeout=60)
    message = str(info.value)
    assert re.fullmatch(
        r"no source of profile 'anywhere' could answer \("
        rf"stmo: SourceUnavailable: cannot talk to 127\.0\.0\.1:{closed_port}: .+; "
        rf"replica: SourceUnavailable: cannot connect to postgresql://reader:\*\*\*@127\.0\.0\.1:"
        rf"{closed_port}/treeherder: .+; "
        "needs-key: ConfigError: profile 'needs-key' reads api_key from the environment "
        "variable THSOURCES_FALLBACK_UNSET_KEY, which is not set; export "
        r"THSOURCES_FALLBACK_UNSET_KEY=\.\.\. or pass api_key=\.\.\.\)",
        message,
    ), message
    for text in (message, repr(info.value)):
        assert API_KEY not in text and PASSWORD not in text
    # the command line says the same on one line, exit code 4 (source unavailable)
    err = io.StringIO()
    code = main(["run", "pushes", "-s", "anywhere"], stdout=io.StringIO(), stderr=err)
    assert code == 4
    assert "no source of profile 'anywhere' could answer (stmo: " in err.getvalue()
    assert API_KEY not in err.getvalue() and PASSWORD not in err.getvalue()


def test_when_no_source_has_a_variant_it_is_unsupported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, treeherder: TreeherderEmulator
) -> None:
    write_config(
        tmp_path,
        monkeypatch,
        f"""
[profiles.rest]
kind = "treeherder"
url = "{treeherder.url}"

[profiles.anywhere]
sources = ["rest"]
""",
    )
    with pytest.raises(UnsupportedQuery) as info:
        thsources.run("intermittent-bugs", source="anywhere")
    assert str(info.value) == (
        "no source of profile 'anywhere' could answer "
        f"(rest: UnsupportedQuery: {_no_variant('intermittent-bugs', 'rest')})"
    )


@pytest.mark.parametrize(
    ("profiles", "message"),
    [
        (
            '[profiles.a]\nkind = "local"\nsources = ["local"]\n',
            r"\[profiles.a\] lists sources and also sets kind; a profile either lists",
        ),
        ("[profiles.a]\nsources = []\n", r"sources must be a list of profile or kind names"),
        ('[profiles.a]\nsources = "local"\n', r"sources must be a list of profile or kind"),
    ],
)
def test_a_malformed_list_profile_is_refused_when_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profiles: str, message: str
) -> None:
    write_config(tmp_path, monkeypatch, profiles)
    with pytest.raises(ConfigError, match=message):
        thsources.connect("a")


@pytest.mark.parametrize(
    ("listed", "message"),
    [
        ('["lcal"]', r"lists 'lcal', which is neither a profile nor a source kind \(did you mean "),
        ('["b"]', r"lists 'b', which lists sources itself; list its sources directly"),
        ('["local", "local"]', r"lists 'local' twice"),
    ],
)
def test_list_members_must_be_single_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, listed: str, message: str
) -> None:
    write_config(
        tmp_path,
        monkeypatch,
        f'[profiles.a]\nsources = {listed}\n[profiles.b]\nsources = ["local"]\n',
    )
    with pytest.raises(ConfigError, match=message):
        thsources.connect("a")


def test_a_list_profile_takes_no_options_and_is_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_config(tmp_path, monkeypatch, '[profiles.default]\nsources = ["local"]\n')
    with pytest.raises(ConfigError, match=r"profile 'default' lists sources; set options such"):
        thsources.connect("default", scale=0.5)
    with thsources.connect() as src:  # the default profile may be a list
        assert src.describe() == {"name": "default", "kind": "fallback", "sources": ["local"]}
        assert src.query("SELECT 1 AS one").meta.source == "local"
    out = io.StringIO()
    assert main(["sources"], stdout=out, stderr=io.StringIO()) == 0
    assert "default (default): sources=local\n" in out.getvalue()


def test_the_command_line_runs_on_the_first_that_answers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    write_config(
        tmp_path,
        monkeypatch,
        f"""
[profiles.down]
kind = "activedata"
url = "http://127.0.0.1:{closed_port}"

[profiles.anywhere]
sources = ["down", "local"]
""",
    )
    outputs = []
    for source in ("anywhere", "local"):
        out, err = io.StringIO(), io.StringIO()
        argv = ["run", "pushes", "-s", source, "--format", "csv", "-p", "days=1"]
        assert main(argv, stdout=out, stderr=err) == 0, err.getvalue()
        outputs.append(out.getvalue())
    assert outputs[0].startswith("push_id,revision,") and outputs[0] == outputs[1]


class _SlowToFail(thsources.Source):
    """A source that takes longer than the caller's whole deadline to say it is down."""

    kind = "slow"

    def submit(
        self, sql: str, params: Any = None, *, max_age: float = 0, timeout: Any = None
    ) -> Any:
        time.sleep(0.3)
        raise SourceUnavailable("down after a while", source=self.name)


def test_the_deadline_is_shared_and_ends_the_search(local: thsources.Source) -> None:
    asked: list[str] = []

    def connector(name: str, source: thsources.Source) -> Any:
        def factory() -> thsources.Source:
            asked.append(name)
            return source

        return factory

    chain = Fallback(
        "chain", [("slow", connector("slow", _SlowToFail())), ("local", connector("local", local))]
    )
    with pytest.raises(QueryTimeout) as info:
        chain.query("SELECT 1 AS one", timeout=0.1)
    assert str(info.value) == (
        "the timeout passed before a source of profile 'chain' answered "
        "(slow: SourceUnavailable: down after a while)"
    )
    assert asked == ["slow", "local"]  # connected, but given no time: not asked
    assert chain.query("SELECT 1 AS one", timeout=10).meta.extra["skipped"] == {
        "slow": "SourceUnavailable: down after a while"
    }


def test_sql_jobs_and_tables_go_to_the_first_source_that_takes_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    treeherder: TreeherderEmulator,
    local: thsources.Source,
) -> None:
    """The REST API runs no SQL and lists no tables: submit() and tables() pass it over."""
    write_config(
        tmp_path,
        monkeypatch,
        f'[profiles.rest]\nkind = "treeherder"\nurl = "{treeherder.url}"\n'
        '[profiles.anywhere]\nsources = ["rest", "local"]\n',
    )
    with thsources.connect("anywhere") as src:
        job = src.submit("SELECT count(*) AS n FROM push")
        assert job.result().records() == local.query("SELECT count(*) AS n FROM push").records()
        assert job.result().meta.source == "local"
        assert src.tables().records() == local.tables().records()


def test_verbose_says_which_source_answered_and_why_others_were_passed_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, treeherder: TreeherderEmulator
) -> None:
    write_config(
        tmp_path,
        monkeypatch,
        f'[profiles.rest]\nkind = "treeherder"\nurl = "{treeherder.url}"\npace = inf\n'
        '[profiles.anywhere]\nsources = ["rest", "local"]\n',
    )
    err = io.StringIO()
    code = main(
        ["-v", "run", "intermittent-bugs", "-s", "anywhere"], stdout=io.StringIO(), stderr=err
    )
    assert code == 0, err.getvalue()
    assert err.getvalue().splitlines()[-1] == (
        "thsources: answered by 'local'; passed over rest "
        f"(UnsupportedQuery: {_no_variant('intermittent-bugs', 'rest')})"
    )
    err = io.StringIO()
    assert main(["-v", "run", "pushes", "-s", "anywhere"], stdout=io.StringIO(), stderr=err) == 0
    assert err.getvalue().splitlines()[-1] == "thsources: answered by 'rest'"
