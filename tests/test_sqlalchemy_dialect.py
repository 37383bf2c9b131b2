"""The SQLAlchemy dialect: URLs, ``pandas.read_sql`` equal to ``to_pandas()``, inspection,
and bad input refused with the library's message as the mapped DB-API error."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import pandas as pd
import pytest
import sqlalchemy as sa
import sqlalchemy.exc
from sql_servers import KINDS, server

import thsources
from thsources import dbapi, errors
from thsources.catalog import bind_params, list_queries
from thsources.cli import main
from thsources.local.schema import TABLES
from thsources.sources.base import Source
from thsources.testing import ActiveDataEmulator, RedashEmulator

SECRET: Final = "UrLsEcReTkEy0123456789abcdefghijKLMNOPQ"


@pytest.fixture(scope="module")
def emulator() -> Iterator[RedashEmulator]:
    with RedashEmulator(workers=2) as emu:
        yield emu


@pytest.fixture
def redash_url(emulator: RedashEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """The emulator by kind and URL options, its key from the environment."""
    monkeypatch.setenv("THSOURCES_REDASH_API_KEY", emulator.api_key)
    return f"thsources://redash?url={emulator.url}&data_source=Treeherder"


@pytest.fixture(scope="module")
def local() -> Iterator[Source]:
    with thsources.connect("local") as src:
        yield src


@pytest.fixture(scope="module")
def named_params(local: Source) -> dict[str, dict[str, Any]]:
    """Parameters that make every named query return rows on the sample."""
    push = local.query(
        "SELECT p.id FROM push p JOIN repository r ON r.id = p.repository_id "
        "WHERE r.name = 'autoland' AND EXISTS (SELECT 1 FROM job j WHERE j.push_id = p.id "
        "AND j.state = 'completed') ORDER BY p.time DESC LIMIT 1"
    ).records()[0]["id"]
    alert = thsources.run("perf-alerts", source=local).records()[0]
    return {
        "jobs-for-push": {"push_id": push},
        "perf-series": {"signature_hash": alert["signature_hash"]},
    }


SQL_QUERIES: Final = [q.name for q in list_queries() if "postgresql" in q.variants]


def test_every_named_query_with_sql_is_covered() -> None:
    assert len(SQL_QUERIES) >= 6


def _assert_same_frame(engine: sa.Engine, src: Source, name: str, given: dict[str, Any]) -> None:
    query = next(q for q in list_queries() if q.name == name)
    _, sql = query.variant_for(src.dialect)  # the variant the source runs
    bound = bind_params(query, given)
    expected = src.query(sql, bound).to_pandas()
    got = pd.read_sql(sa.text(sql), engine, params=bound, dtype_backend="numpy_nullable")
    assert len(expected) > 0
    # pandas' nullable backend makes float columns Float64 where to_pandas() keeps float64
    # (NaN for null); every other dtype and every value must be the same.
    floats = {c: "float64" for c, t in got.dtypes.items() if str(t) == "Float64"}
    pd.testing.assert_frame_equal(got.astype(floats), expected)


@pytest.mark.parametrize("name", SQL_QUERIES)
def test_read_sql_equals_to_pandas_on_local(
    name: str, local: Source, named_params: dict[str, dict[str, Any]]
) -> None:
    engine = sa.create_engine("thsources://local")
    _assert_same_frame(engine, local, name, named_params.get(name, {}))
    engine.dispose()


@pytest.mark.parametrize("name", SQL_QUERIES)
def test_read_sql_equals_to_pandas_on_redash(
    name: str, redash_url: str, emulator: RedashEmulator, named_params: dict[str, dict[str, Any]]
) -> None:
    engine = sa.create_engine(redash_url)
    with thsources.connect(
        "redash", url=emulator.url, api_key=emulator.api_key, data_source="Treeherder"
    ) as src:
        _assert_same_frame(engine, src, name, named_params.get(name, {}))
    engine.dispose()


def _params_found_on(src: Source) -> dict[str, dict[str, Any]]:
    """Parameters that make every named query return rows on ``src`` (any SQL dialect)."""
    push = src.query(
        "SELECT p.id FROM push p JOIN repository r ON r.id = p.repository_id "
        "WHERE r.name = 'autoland' AND EXISTS (SELECT 1 FROM job j WHERE j.push_id = p.id "
        "AND j.state = 'completed') ORDER BY p.time DESC, p.id LIMIT 1"
    ).records()[0]["id"]
    alert = thsources.run("perf-alerts", source=src).records()[0]
    return {
        "jobs-for-push": {"push_id": push},
        "perf-series": {"signature_hash": alert["signature_hash"]},
    }


@pytest.fixture(scope="module", params=KINDS)
def sql_server(
    request: pytest.FixtureRequest,
) -> Iterator[tuple[str, Source, dict[str, dict[str, Any]]]]:
    """(engine URL, sql source, named queries' parameters) on a real server with the sample
    loaded (at the scale where every named query has rows there); skipped, saying what to
    export, when the server's URL is not in the environment."""
    with server(request.param) as srv:
        err = io.StringIO()
        assert main(["sample", "load", srv.url, "--scale", "0.2"], stderr=err) == 0, err
        with thsources.connect("sql", url=srv.url) as src:
            url = f"thsources://sql?url={quote(srv.url, safe='')}"
            yield url, src, _params_found_on(src)


@pytest.mark.parametrize("name", SQL_QUERIES)
def test_read_sql_equals_to_pandas_on_sql(
    name: str, sql_server: tuple[str, Source, dict[str, dict[str, Any]]]
) -> None:
    url, src, params = sql_server
    engine = sa.create_engine(url)
    with engine.connect() as conn:  # the engine reached the server named in the URL
        assert conn.connection.dbapi_connection.source.kind == "sql"  # type: ignore[union-attr]
    _assert_same_frame(engine, src, name, params.get(name, {}))
    engine.dispose()


def test_inspection_and_reflection_on_sql(sql_server: tuple[str, Source, Any]) -> None:
    # The sql source has no tables(); the dialect lists the database's own schema
    # (information_schema of the current schema or database).
    url, src, _ = sql_server
    engine = sa.create_engine(url)
    insp = sa.inspect(engine)
    assert sorted(insp.get_table_names()) == sorted(t.name for t in TABLES)
    job = next(t for t in TABLES if t.name == "job")
    columns = insp.get_columns("job")
    assert [c["name"] for c in columns] == [c.name for c in job.columns]
    types = {c["name"]: type(c["type"]) for c in columns}
    assert (types["id"], types["guid"], types["end_time"]) == (
        sa.Integer,
        sa.String,
        sa.DateTime,
    )
    push = sa.Table("push", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        got = [tuple(r) for r in conn.execute(sa.select(push).order_by(push.c.id).limit(5))]
    engine.dispose()
    names = ", ".join(c.name for c in push.columns)
    assert got == src.query(f"SELECT {names} FROM push ORDER BY id LIMIT 5").rows()


def test_read_sql_equals_to_pandas_on_activedata() -> None:
    # ActiveData has no SQL variant of the named queries (their variants there are JX);
    # its SQL, translated to JX, gives through the dialect the frame to_pandas() gives.
    sql = (
        "SELECT job.id, run.result, run.tier, action.start_time, build.platform "
        "FROM treeherder WHERE run.tier < :tier ORDER BY job.id LIMIT 500"
    )
    with ActiveDataEmulator() as emu, thsources.connect("activedata", url=emu.url) as src:
        expected = src.query(sql, {"tier": 3}).to_pandas()
        engine = sa.create_engine(f"thsources://activedata?url={emu.url}")
        got = pd.read_sql(sa.text(sql), engine, params={"tier": 3}, dtype_backend="numpy_nullable")
        engine.dispose()
    assert len(expected) == 500
    pd.testing.assert_frame_equal(got, expected)


def test_the_engines_raw_cursor_gives_the_frame_without_python_rows(local: Source) -> None:
    # The fast path for SQLAlchemy users: the DB-API cursor behind the engine hands over
    # Result.to_pandas() itself.
    sql = "SELECT id, name FROM repository WHERE name <> :not_this ORDER BY id"
    engine = sa.create_engine("thsources://local")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql, {"not_this": "try"})
        frame = cur.fetch_df()
    finally:
        raw.close()
        engine.dispose()
    expected = local.query(sql, {"not_this": "try"}).to_pandas()
    assert len(expected) > 1
    pd.testing.assert_frame_equal(frame, expected)


def test_json_typed_columns_come_back_parsed_once() -> None:
    # The DB-API already gives json values parsed (as Result.rows() does); SQLAlchemy's JSON
    # type must not parse them again (a TypeError: "must be str ..., not dict").
    engine = sa.create_engine("thsources://local")
    typed_text = sa.text("SELECT CAST('{\"a\": [1, 2]}' AS json) AS j, 7 AS n").columns(
        j=sa.JSON, n=sa.Integer
    )
    cast = sa.select(sa.cast(sa.literal('{"b": null}'), sa.JSON).label("j"))
    with engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(typed_text)] == [({"a": [1, 2]}, 7)]
        assert [tuple(r) for r in conn.execute(cast)] == [({"b": None},)]
    engine.dispose()


def test_a_profile_url(
    emulator: RedashEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[profiles.stmo]\nkind = "redash"\nurl = "{emulator.url}"\n'
        'data_source = "Treeherder"\napi_key_env = "STMO_TEST_KEY"\n'
    )
    monkeypatch.setenv("THSOURCES_CONFIG", str(config))
    monkeypatch.setenv("STMO_TEST_KEY", emulator.api_key)
    engine = sa.create_engine("thsources://stmo")
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT name FROM repository WHERE name = :n"), {"n": "autoland"}
        ).all()
        source = conn.connection.dbapi_connection.source  # type: ignore[union-attr]
        assert (source.name, source.kind) == ("stmo", "redash")
    assert [tuple(r) for r in rows] == [("autoland",)]
    assert any(r.method == "POST" for r in emulator.requests)
    engine.dispose()


def test_dialect_name_and_paramstyle() -> None:
    engine = sa.create_engine("thsources://local")
    assert engine.dialect.name == "thsources"
    assert engine.dialect.paramstyle == "named"
    assert engine.dialect.dbapi is dbapi
    assert type(engine.dialect).__module__ == "thsources.sqlalchemy_dialect"


def test_the_pool_returns_connections_without_a_rollback_error() -> None:
    engine = sa.create_engine("thsources://local")
    for _ in range(2):
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1 AS x")).scalar() == 1
            conn.commit()
    engine.dispose()


@pytest.mark.parametrize("where", ["local", "redash"])
def test_inspection_lists_tables_and_columns(where: str, redash_url: str) -> None:
    engine = sa.create_engine("thsources://local" if where == "local" else redash_url)
    inspector = sa.inspect(engine)
    tables = inspector.get_table_names()
    assert {"push", "job", "repository"} <= set(tables)
    with engine.connect() as conn:
        source = conn.connection.dbapi_connection.source  # type: ignore[union-attr]
        listing = source.tables().records()
    columns = inspector.get_columns("repository")
    assert [c["name"] for c in columns] == [
        r["column_name"] for r in listing if r["table_name"] == "repository"
    ]
    by_name = {c["name"]: c["type"] for c in columns}
    assert isinstance(by_name["id"], sa.Integer)
    assert isinstance(by_name["name"], sa.String)
    assert inspector.has_table("push") and not inspector.has_table("no_such_table")
    with pytest.raises(sqlalchemy.exc.NoSuchTableError):
        inspector.get_columns("no_such_table")
    engine.dispose()


def test_reflecting_a_table_and_selecting_from_it() -> None:
    engine = sa.create_engine("thsources://local")
    repository = sa.Table("repository", sa.MetaData(), autoload_with=engine)
    with engine.connect() as conn:
        names = conn.execute(
            sa.select(repository.c.name).where(repository.c.name == "autoland")
        ).scalars()
        assert list(names) == ["autoland"]
    engine.dispose()


# -- bad input -----------------------------------------------------------------------------------


def test_unknown_profile_in_the_url() -> None:
    with pytest.raises(
        dbapi.ProgrammingError, match="no profile or source kind named 'stmoo'"
    ) as info:
        sa.create_engine("thsources://stmoo")
    assert isinstance(info.value, errors.ConfigError)
    assert "did you mean" in str(info.value) or "kinds:" in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        f"thsources://redash?url=http://127.0.0.1:1&data_source=1&api_key={SECRET}",
        f"thsources://redash?url=http://127.0.0.1:1&data_source=1&API_KEY={SECRET}",
        f"thsources://:{SECRET}@redash?url=http://127.0.0.1:1&data_source=1",
        f"thsources://{SECRET}@redash?url=http://127.0.0.1:1&data_source=1",
        f"thsources://sql?url=postgresql://reader:{SECRET}@127.0.0.1:1/treeherder",
        "thsources://sql?url=" + quote(f"postgresql://reader:{SECRET}@127.0.0.1:1/treeherder"),
    ],
)
def test_a_key_in_the_url_is_refused_and_never_logged(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(dbapi.ProgrammingError, match="must not carry") as info:
        sa.create_engine(url, echo=True)
    assert isinstance(info.value, errors.ConfigError)
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)
    assert SECRET not in caplog.text


def test_a_bad_option_value_gets_the_sources_message(redash_url: str) -> None:
    # Option values are text, parsed by the source when the first connection opens.
    engine = sa.create_engine(redash_url + "&timeout=soon")
    with pytest.raises(sqlalchemy.exc.ProgrammingError) as info:
        engine.connect()
    assert isinstance(info.value.orig, errors.ConfigError)
    assert "option timeout must be a number of seconds, not 'soon'" in str(info.value)


def test_url_options_reach_the_source(redash_url: str) -> None:
    engine = sa.create_engine(redash_url + "&timeout=7")
    with engine.connect() as conn:
        source = conn.connection.dbapi_connection.source  # type: ignore[union-attr]
        assert source.describe()["url"].startswith("http://127.0.0.1:")
    engine.dispose()


def test_a_write_statement_is_refused() -> None:
    engine = sa.create_engine("thsources://local")
    with engine.connect() as conn, pytest.raises(sqlalchemy.exc.ProgrammingError) as info:
        conn.execute(sa.text("DELETE FROM repository"))
    assert isinstance(info.value.orig, errors.PermissionDenied)
    assert isinstance(info.value.orig, dbapi.ProgrammingError)
    assert "the local source is read-only: DELETE is refused" in str(info.value)
    engine.dispose()


def test_executemany_is_refused() -> None:
    engine = sa.create_engine("thsources://local")
    with engine.connect() as conn, pytest.raises(sqlalchemy.exc.NotSupportedError) as info:
        conn.execute(sa.text("SELECT :x AS x"), [{"x": 1}, {"x": 2}])
    assert isinstance(info.value.orig, errors.UnsupportedQuery)
    assert "executemany is not supported" in str(info.value)
    engine.dispose()


def test_a_failing_query_keeps_the_servers_message(redash_url: str) -> None:
    engine = sa.create_engine(redash_url)
    with engine.connect() as conn, pytest.raises(sqlalchemy.exc.DatabaseError) as info:
        conn.execute(sa.text("SELECT no_such_column FROM repository"))
    assert isinstance(info.value.orig, errors.QueryError)
    assert "no_such_column" in str(info.value.orig)
    engine.dispose()
