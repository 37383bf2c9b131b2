"""The local result cache: hits without a request, max_age, LRU eviction, damaged entries,
processes sharing the folder, `thsources cache ls/clear`, and the key and identity rules."""

from __future__ import annotations

import datetime as dt
import io
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import thsources
from thsources.cli import main
from thsources.errors import ConfigError, ParameterError
from thsources.result import Column, Result, ResultMeta
from thsources.result_cache import (
    SUFFIX,
    CorruptEntry,
    ResultCache,
    decode,
    default_cache,
    encode,
    make_key,
    parse_size,
)
from thsources.sources.base import CompletedJob
from thsources.testing import DataSource, RedashEmulator

# Every canonical type, a NULL in each, and values whose types a re-parse could lose.
TYPED_SQL = """
SELECT id, revision, time, author IS NULL AS no_author, CAST(id AS float) / 3 AS third,
       CAST(time AS date) AS day, CAST('{"a": [1, 2]}' AS json) AS doc
FROM push ORDER BY id LIMIT 25
"""


@pytest.fixture(scope="module")
def emu() -> Iterator[RedashEmulator]:
    # Only "Treeherder": these tests connect without naming a data source.
    with RedashEmulator(data_sources=[DataSource(1, "Treeherder")]) as emulator:
        yield emulator


@pytest.fixture
def src(emu: RedashEmulator) -> Iterator[thsources.Source]:
    emu.clear_cache()
    emu.clear_requests()
    with thsources.connect("redash", url=emu.url, api_key=emu.api_key) as source:
        yield source


def posts(emu: RedashEmulator) -> list[Any]:
    return [r.json for r in emu.requests if r.method == "POST"]


def entry_files() -> list[Path]:
    return sorted(default_cache().root.rglob(f"*{SUFFIX}"))


# -- hits, misses and max_age ------------------------------------------------------------------


def test_a_hit_returns_the_same_typed_result_without_any_request(
    src: thsources.Source, emu: RedashEmulator
) -> None:
    fresh = src.query(TYPED_SQL, max_age=600)
    assert fresh.meta.cached is False and len(entry_files()) == 1
    emu.clear_requests()
    hit = src.query(TYPED_SQL, max_age=600)
    assert emu.requests == []  # not even the data source lookup
    assert hit.columns == fresh.columns
    assert [c.type for c in hit.columns] == [
        "integer",
        "string",
        "datetime",
        "boolean",
        "float",
        "date",
        "json",
    ]
    assert hit.records() == fresh.records()
    assert hit.records()[0]["doc"] == {"a": [1, 2]}
    assert hit.to_pandas().dtypes.to_dict() == fresh.to_pandas().dtypes.to_dict()
    assert hit.meta.cached is True and hit.meta.extra["local_cache"] is True
    assert hit.meta.retrieved_at == fresh.meta.retrieved_at
    assert (hit.meta.query, hit.meta.result_id) == (fresh.meta.query, fresh.meta.result_id)
    job = src.submit(TYPED_SQL, max_age=600)
    assert isinstance(job, CompletedJob) and job.result().records() == fresh.records()
    assert emu.requests == []


def test_a_different_parameter_or_data_source_is_another_entry(
    src: thsources.Source, emu: RedashEmulator
) -> None:
    sql = "SELECT CAST(:id AS integer) AS id"
    assert src.query(sql, {"id": 1}, max_age=600).records() == [{"id": 1}]
    assert src.query(sql, {"id": 2}, max_age=600).records() == [{"id": 2}]
    with thsources.connect("redash", url=emu.url, api_key=emu.api_key, data_source=1) as other:
        emu.clear_requests()
        assert other.query(sql, {"id": 1}, max_age=600).records() == [{"id": 1}]
    assert len(posts(emu)) == 1  # data_source=1 is not the same configuration
    assert len(entry_files()) == 3


def test_max_age_zero_never_reads_the_cache_and_refreshes_an_entry(
    src: thsources.Source, emu: RedashEmulator
) -> None:
    sql = "SELECT count(*) AS n FROM job"
    stored = src.query(sql, max_age=600)
    (path,) = entry_files()
    emu.clear_requests()
    again = src.query(sql)  # max_age=0 by default
    assert [p["max_age"] for p in posts(emu)] == [0] and again.meta.cached is False
    assert again.meta.retrieved_at is not None and stored.meta.retrieved_at is not None
    assert again.meta.retrieved_at > stored.meta.retrieved_at
    header, _ = decode(path.read_bytes())
    assert header["meta"]["retrieved_at"] == again.meta.retrieved_at.isoformat()


def test_entries_are_private_to_their_user(src: thsources.Source) -> None:
    src.query("SELECT 2 AS two", max_age=60)
    (path,) = entry_files()
    root = default_cache().root
    assert [oct(p.stat().st_mode & 0o777) for p in (root, path.parent, path)] == [
        "0o700",
        "0o700",
        "0o600",
    ]


def test_max_age_zero_adds_no_new_entry(src: thsources.Source) -> None:
    src.query("SELECT 1 AS one")
    assert entry_files() == []


def test_an_entry_older_than_max_age_is_fetched_again(
    src: thsources.Source, emu: RedashEmulator, no_result_cache: None, monkeypatch: Any
) -> None:
    """Age counts from when the server computed the result (meta.retrieved_at), not from
    when it was stored: a server-cached answer 1000 s old is 1000 s old here too."""
    sql = "SELECT 7 AS seven"
    src.query(sql)  # the server computes it now ...
    emu.age_results(1000)  # ... and now that was 1000 s ago
    monkeypatch.delenv("THSOURCES_RESULT_CACHE_SIZE")  # the local cache back on
    emu.clear_requests()
    old = src.query(sql, max_age=2000)  # the server's cached answer, stored locally
    assert old.meta.cached is True and emu.executions >= 1
    executions = emu.executions
    emu.clear_requests()
    assert src.query(sql, max_age=2000).meta.extra.get("local_cache") is True
    assert emu.requests == []
    young = src.query(sql, max_age=500)  # the stored entry is too old: to the server
    assert [p["max_age"] for p in posts(emu)] == [500]
    assert emu.executions == executions + 1 and "local_cache" not in young.meta.extra
    emu.clear_requests()
    assert src.query(sql, max_age=500).meta.retrieved_at == young.meta.retrieved_at
    assert emu.requests == []  # the fresh answer replaced the old entry


def test_any_age_is_math_inf_and_minus_one_is_refused(
    src: thsources.Source, emu: RedashEmulator
) -> None:
    src.query("SELECT 8 AS eight", max_age=math.inf)
    assert [p["max_age"] for p in posts(emu)] == [-1]  # Redash's wire spelling
    emu.clear_requests()
    assert src.query("SELECT 8 AS eight", max_age=math.inf).records() == [{"eight": 8}]
    assert emu.requests == []
    with pytest.raises(ParameterError, match=r"math\.inf \(any age\), not -1"):
        src.query("SELECT 8 AS eight", max_age=-1)
    with pytest.raises(ParameterError, match="max_age must be a number of seconds, not '60'"):
        thsources.connect("local").query("SELECT 1", max_age="60")
    assert emu.requests == []


def test_every_kind_honours_max_age_local_and_jx_included() -> None:
    with thsources.connect("local") as local:
        first = local.query("SELECT id FROM push WHERE id < :n ORDER BY id", {"n": 3}, max_age=60)
        jx = {"from": "treeherder", "select": "run.result", "limit": 3}
        jx_first = local.query(jx, max_age=60)
        assert len(entry_files()) == 2
        second = local.query("SELECT id FROM push WHERE id < :n ORDER BY id", {"n": 3}, max_age=60)
        jx_second = local.query(jx, max_age=60)
    assert second.meta.extra["local_cache"] is True and second.records() == first.records()
    assert jx_second.meta.extra["local_cache"] is True
    assert jx_second.records() == jx_first.records()


def test_a_named_query_is_cached_with_its_parameters(
    src: thsources.Source, emu: RedashEmulator
) -> None:
    first = thsources.run("pushes", {"repository": "autoland"}, source=src, max_age=600)
    emu.clear_requests()
    second = thsources.run("pushes", {"repository": "autoland"}, source=src, max_age=600)
    assert emu.requests == [] and second.records() == first.records()
    assert second.columns == first.columns


def test_a_saved_query_is_cached_by_id_and_parameters(
    src: thsources.Source, emu: RedashEmulator
) -> None:
    first = src.run_saved(1, {"repo": "autoland"}, max_age=600)  # type: ignore[attr-defined]
    other = src.run_saved(1, {"repo": "try"}, max_age=600)  # type: ignore[attr-defined]
    emu.clear_requests()
    again = src.run_saved(f"{emu.url}/queries/1", {"repo": "autoland"}, max_age=600)  # type: ignore[attr-defined]
    assert emu.requests == [] and again.records() == first.records()
    assert again.meta.extra["local_cache"] is True and other.records() != first.records()
    assert len(entry_files()) == 2


def test_treeherder_rest_named_queries_are_cached() -> None:
    from thsources.testing import TreeherderEmulator

    with TreeherderEmulator() as th, thsources.connect("treeherder", url=th.url) as rest:
        params = {"repository": "autoland", "days": 3}
        first = thsources.run("pushes", params, source=rest, max_age=600)
        th.clear_requests()
        second = thsources.run("pushes", params, source=rest, max_age=600)
        assert th.requests == [] and second.records() == first.records()
        assert second.columns == first.columns and len(first) > 5
        thsources.run("pushes", params, source=rest)  # max_age=0: asks again
        assert th.requests != []


def test_activedata_queries_are_cached() -> None:
    from thsources.testing import ActiveDataEmulator

    with ActiveDataEmulator() as ad, thsources.connect("activedata", url=ad.url) as src:
        jx = {"from": "treeherder", "select": "run.result", "limit": 3}
        first = src.query(jx, max_age=600)
        ad.clear_requests()
        second = src.query(jx, max_age=600)
        assert ad.requests == [] and second.records() == first.records()
        assert second.meta.extra["local_cache"] is True


def test_database_files_are_cached_until_they_change(tmp_path: Path) -> None:
    """sql (here SQLite) and history key on the file's size and modification time too: a
    file written since is asked again, whatever max_age allows."""
    import sqlite3

    db = tmp_path / "t.sqlite"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
        con.execute("INSERT INTO t VALUES (1)")
    con.close()
    sql = "SELECT x FROM t ORDER BY x"
    with thsources.connect("sql", url=f"sqlite:///{db}") as src:
        assert src.query(sql, max_age=600).records() == [{"x": 1}]
        assert src.query(sql, max_age=600).meta.extra["local_cache"] is True
    with sqlite3.connect(db) as con:
        con.execute("INSERT INTO t VALUES (2)")
    con.close()
    os.utime(db, (1_000_000, 1_000_000))  # whatever the clock's resolution, it changed
    with thsources.connect("sql", url=f"sqlite:///{db}") as src:
        again = src.query(sql, max_age=600)
    assert again.records() == [{"x": 1}, {"x": 2}] and "local_cache" not in again.meta.extra


def test_a_failed_query_stores_nothing(src: thsources.Source) -> None:
    with pytest.raises(thsources.QueryError):
        src.query("SELEC 1", max_age=600)
    assert entry_files() == []


# -- damaged entries ---------------------------------------------------------------------------


def _truncate(data: bytes) -> bytes:
    return data[: len(data) // 2]


def _flip_body(data: bytes) -> bytes:
    i = len(data) - 200
    return data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :]


def _flip_middle(data: bytes) -> bytes:
    """A byte inside a column's values: Arrow cannot notice, only the digest can."""
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1 :]


def _flip_header(data: bytes) -> bytes:
    return data[:40] + b"#" + data[41:]


DAMAGE = {
    "empty": lambda data: b"",
    "truncated": _truncate,
    "flipped-body-byte": _flip_body,
    "flipped-value-byte": _flip_middle,
    "flipped-header-byte": _flip_header,
    "garbage": lambda data: os.urandom(len(data)),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_entry_is_ignored_and_replaced(
    src: thsources.Source, emu: RedashEmulator, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    first = src.query(TYPED_SQL, max_age=600)
    (path,) = entry_files()
    path.write_bytes(DAMAGE[damage](path.read_bytes()))
    emu.clear_requests()
    again = src.query(TYPED_SQL, max_age=600)
    assert len(posts(emu)) == 1 and "local_cache" not in again.meta.extra
    assert again.records() == first.records()
    assert "ignoring damaged entry" in caplog.text
    _, stored = decode(path.read_bytes())  # replaced by a whole entry
    assert stored.records() == first.records()
    emu.clear_requests()
    assert src.query(TYPED_SQL, max_age=600).meta.extra["local_cache"] is True
    assert emu.requests == []


def test_decode_names_what_is_wrong() -> None:
    with pytest.raises(CorruptEntry, match="bad magic"):
        decode(b"PAR1" + b"\0" * 64)
    res = _result(10)
    data = b"".join(bytes(p) for p in encode(_key(1), res, kind="local", source="x"))
    assert decode(data)[1].records() == res.records()
    with pytest.raises(CorruptEntry, match="digest mismatch"):
        decode(_flip_body(data))
    with pytest.raises(CorruptEntry, match="header cut short"):
        decode(data[:20])


# -- eviction ----------------------------------------------------------------------------------


def _result(rows: int, tag: str = "x") -> Result:
    return Result.from_columns(
        [Column("i", "integer"), Column("tag", "string")],
        [list(range(rows)), [tag] * rows],
        ResultMeta(source="t", query="q", retrieved_at=dt.datetime.now(dt.UTC)),
    )


def _key(n: int) -> Any:
    return make_key({"kind": "local", "path": "/x"}, f"SELECT {n}", None)


def test_eviction_removes_the_least_recently_used_first(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=10**9)
    paths = [cache.put(_key(n), _result(1000, str(n)), kind="local", source="t") for n in range(4)]
    assert all(p is not None for p in paths)
    sizes = [p.stat().st_size for p in paths if p]
    for n, p in enumerate(paths):  # written long ago, in order 0, 1, 2, 3
        assert p is not None
        os.utime(p, (1_000_000 + n, 1_000_000 + n))
    assert cache.get(_key(0), 60) is not None  # 0 is now the most recently used
    cache.max_bytes = sum(sizes) - 1  # one entry must go: the least recently used, 1
    assert cache.evict() == 1
    assert [p.exists() for p in paths if p] == [True, False, True, True]
    cache.max_bytes = sizes[0] + sizes[3] + 1  # two more: 2, then 3 (0 was used last)
    big = cache.put(_key(9), _result(10, "9"), kind="local", source="t")
    assert big is not None and big.exists()
    assert [p.exists() for p in paths if p] == [True, False, False, False]


def test_a_result_larger_than_the_cap_is_not_stored(tmp_path: Path) -> None:
    cache = ResultCache(tmp_path, max_bytes=1000)
    assert cache.put(_key(1), _result(5000), kind="local", source="t") is None
    assert list(tmp_path.rglob(f"*{SUFFIX}")) == []


def test_the_size_cap_comes_from_env_then_config_then_default(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert default_cache().max_bytes == 1 << 30
    monkeypatch.setenv("THSOURCES_CONFIG", str(tmp_path / "config.toml"))
    (tmp_path / "config.toml").write_text('[cache]\nmax_size = "200 MiB"\n')
    assert default_cache().max_bytes == 200 << 20
    monkeypatch.setenv("THSOURCES_RESULT_CACHE_SIZE", "1.5 GB")
    assert default_cache().max_bytes == 1_500_000_000
    monkeypatch.setenv("THSOURCES_RESULT_CACHE_SIZE", "lots")
    with pytest.raises(ConfigError, match="THSOURCES_RESULT_CACHE_SIZE: 'lots' is not a size"):
        default_cache()
    monkeypatch.delenv("THSOURCES_RESULT_CACHE_SIZE")
    (tmp_path / "config.toml").write_text("[cache]\nmax_sise = 1\n")
    with pytest.raises(ConfigError, match=r"\[cache\] takes one key, max_size"):
        default_cache()
    assert [parse_size(v, "x") for v in (0, "0", "10kb", "2 KiB", "1G")] == [
        0,
        0,
        10_000,
        2048,
        10**9,
    ]


def test_size_zero_turns_the_cache_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THSOURCES_RESULT_CACHE_SIZE", "0")
    with thsources.connect("local") as local:
        local.query("SELECT 1 AS one", max_age=60)
        assert "local_cache" not in local.query("SELECT 1 AS one", max_age=60).meta.extra
    assert entry_files() == []


# -- processes sharing the folder --------------------------------------------------------------

WORKER = textwrap.dedent(
    """
    import datetime as dt, os, sys
    from pathlib import Path
    from thsources.result import Column, Result, ResultMeta
    from thsources.result_cache import CorruptEntry, ResultCache, SUFFIX, decode, make_key

    root, me, rounds, cap = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    cache = ResultCache(root, max_bytes=cap)

    def result(tag, rows):
        return Result.from_columns(
            [Column("i", "integer"), Column("tag", "string")],
            [list(range(rows)), [tag] * rows],
            ResultMeta(source="w", query="q", retrieved_at=dt.datetime.now(dt.UTC)),
        )

    shared = make_key({"kind": "local", "path": "/shared"}, "SELECT shared", None)
    torn = 0
    for n in range(rounds):
        cache.put(shared, result(f"{me}-{n}", 2000 + n), kind="local", source=me)
        own = make_key({"kind": "local", "path": "/shared"}, f"SELECT {me} {n}", None)
        cache.put(own, result(f"{me}-{n}", 500), kind="local", source=me)
        for path in root.rglob("*" + SUFFIX):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue  # evicted by the other process: fine
            try:
                header, res = decode(data)
            except CorruptEntry:
                torn += 1
                continue
            tags = set(res.column("tag"))
            if len(tags) != 1 or header["key"] != path.name[: -len(SUFFIX)]:
                torn += 1
    print(torn)
    """
)


@pytest.mark.parametrize("cap", [10**9, 120_000], ids=["no-eviction", "evicting"])
def test_two_processes_share_the_cache_without_torn_or_duplicate_entries(
    tmp_path: Path, cap: int
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    root = tmp_path / "results"
    rounds = 40
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), str(root), name, str(rounds), str(cap)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["0", "0"]  # no torn read, ever
    files = list(root.rglob("*"))
    assert [f for f in files if f.name.startswith(".tmp-")] == []  # no half-written file
    entries = ResultCache(root, cap).entries()
    keys = [e.key for e in entries]
    assert len(keys) == len(set(keys))
    for e in entries:
        header, res = decode(e.path.read_bytes())
        assert header["key"] == e.path.name[: -len(SUFFIX)] == e.key
        assert len(set(res.column("tag"))) == 1
    shared = make_key({"kind": "local", "path": "/shared"}, "SELECT shared", None)
    if cap == 10**9:
        assert len(entries) == 1 + 2 * rounds  # one shared entry, each process's own
        got = ResultCache(root, cap).get(shared, math.inf)
        assert got is not None and got.column("tag")[0] in {f"a-{rounds - 1}", f"b-{rounds - 1}"}
    else:
        assert sum(e.size for e in entries) <= cap


# -- keys and identities -----------------------------------------------------------------------


def test_values_that_bind_differently_never_share_a_key() -> None:
    ident = {"kind": "local", "path": "/x"}
    values = [
        "2024-01-02",
        dt.date(2024, 1, 2),
        dt.datetime(2024, 1, 2),
        1,
        1.0,
        True,
        "1",
        None,
        math.nan,
        [1, 2],
        "[1, 2]",
    ]
    digests = {make_key(ident, "SELECT :v", {"v": v}).digest for v in values}
    assert len(digests) == len(values)
    assert (
        make_key(ident, "SELECT :v", {"v": (1, 2)}).digest
        == make_key(ident, "SELECT :v", {"v": [1, 2]}).digest
    )
    assert (
        make_key(ident, "SELECT :v", {"v": {3, 1, 2}}).digest
        == make_key(ident, "SELECT :v", {"v": {2, 3, 1}}).digest
    )
    with pytest.raises(TypeError):
        make_key(ident, "SELECT :v", {"v": object()})


def test_identities_tell_servers_apart_and_hold_no_secret(emu: RedashEmulator) -> None:
    secret = "NoTiNtHeCaChE-0123456789"
    a = thsources.connect("redash", url=emu.url, api_key=secret)
    b = thsources.connect("redash", url=emu.url, api_key=secret, data_source="Other")
    c = thsources.connect("redash", url="http://127.0.0.1:1", api_key=secret)
    d = thsources.connect("redash", url=emu.url, api_key="another-key-entirely")
    ad = thsources.connect("activedata", url=f"http://u:{secret}@127.0.0.1:9")
    sql = thsources.connect("sql", url=f"postgresql://u:{secret}@127.0.0.1:5432/db")
    ids = [s.cache_identity() for s in (a, b, c, ad, sql)]
    assert all(secret not in repr(i) for i in ids)
    assert len({repr(i) for i in ids}) == len(ids)
    assert d.cache_identity() == a.cache_identity()  # results are the data source's


# -- the command line --------------------------------------------------------------------------


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdin=io.StringIO(), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


def test_cache_ls_and_clear() -> None:
    assert (
        cli("query", "SELECT id FROM push ORDER BY id LIMIT 3", "-s", "local", "--max-age", "60")[0]
        == 0
    )
    long = "SELECT id, revision, author, time FROM push WHERE id > :lo ORDER BY id DESC LIMIT 4"
    assert cli("query", long, "-p", "lo=1", "-s", "local", "--max-age", "inf")[0] == 0
    code, out, err = cli("cache", "ls", "--format", "jsonl")
    assert code == 0 and err.startswith("thsources: 2 cached results, ")
    rows = [orjson.loads(line) for line in out.splitlines()]
    assert [r["rows"] for r in rows] == [4, 3]  # most recently used first
    assert rows[0]["query"] == long[:59] + "…" and rows[1]["source"] == "local"
    assert rows[0]["kind"] == "local" and rows[0]["size"].endswith("KiB")
    assert rows[0]["age"].endswith("s")
    code, out, _ = cli("cache", "ls")
    assert code == 0 and "SELECT id FROM push ORDER BY id LIMIT 3" in out and "(2 rows)" in out
    assert cli("run", "pushes", "-s", "local", "--max-age", "60")[0] == 0
    code, out, err = cli("cache", "ls", "-s", "local", "--format", "jsonl")
    assert code == 0 and err.startswith("thsources: 3 cached results")
    assert orjson.loads(out.splitlines()[0])["query"].startswith("WITH bounds AS ( SELECT")
    assert cli("cache", "ls", "-s", "stmo")[2].startswith("thsources: 0 cached results, 0 B")
    code, _, err = cli("cache", "clear", "-s", "redash")
    assert code == 0 and err.startswith("thsources: removed 0 cached results of 'redash' (0 B)")
    code, _, err = cli("cache", "clear", "-s", "local")
    assert code == 0 and err.startswith("thsources: removed 3 cached results of 'local' (")
    assert entry_files() == []
    assert cli("cache", "ls")[2].startswith("thsources: 0 cached results, 0 B")


def test_cli_max_age_minus_one_is_a_usage_error() -> None:
    code, _, err = cli("query", "SELECT 1", "-s", "local", "--max-age", "-1")
    assert code == 2 and "not -1.0; Redash's -1 (any age) is written math.inf here" in err


class _Counting(thsources.Source):
    """A kind written with no thought for caching: it counts the queries it really runs."""

    kind = "counting"

    def __init__(self, identity: dict[str, Any] | None) -> None:
        super().__init__("counting")
        self.identity = identity
        self.runs = 0

    def cache_identity(self) -> dict[str, Any] | None:
        return self.identity

    def submit(
        self,
        sql: str,
        params: Any = None,
        *,
        max_age: float = 0,
        timeout: float | None = None,
    ) -> CompletedJob:
        self.runs += 1
        meta = ResultMeta(source=self.name, query=sql, retrieved_at=dt.datetime.now(dt.UTC))
        return CompletedJob(Result.from_rows([Column("n", "integer")], [[self.runs]], meta))


def test_any_kind_that_names_its_identity_is_cached_and_others_are_not() -> None:
    plain = _Counting(None)
    assert [plain.query("q", max_age=60).records() for _ in range(2)] == [[{"n": 1}], [{"n": 2}]]
    cached = _Counting({"server": "a"})
    assert [cached.query("q", max_age=60).records() for _ in range(2)] == [[{"n": 1}], [{"n": 1}]]
    assert cached.submit("q", max_age=60).result().records() == [{"n": 1}]
    assert cached.query("q").records() == [{"n": 2}] and cached.runs == 2  # max_age=0 runs
    assert cached.query("q", max_age=60).records() == [{"n": 2}]  # ... and refreshed it
    other = _Counting({"server": "b"})
    assert other.query("q", max_age=60).records() == [{"n": 1}] and other.runs == 1


def test_the_plugin_gives_each_emulator_test_its_own_result_cache(
    redash_emulator: RedashEmulator, tmp_path: Path
) -> None:
    """Users' tests meet emulators on reused ports: entries of an earlier test or run must
    not answer them."""
    assert default_cache().root == tmp_path / "thsources-results"
    with thsources.connect(
        "redash", url=redash_emulator.url, api_key=redash_emulator.api_key, data_source=1
    ) as src:
        src.query("SELECT 1 AS one", max_age=60)
    assert len(list((tmp_path / "thsources-results").rglob(f"*{SUFFIX}"))) == 1
