"""Real database servers for the ``sql`` source's tests, each test module in its own space.

PostgreSQL tests get a schema of their own (the source's URL sets ``search_path`` to it),
MySQL/MariaDB tests a database of their own; both are dropped afterwards. Without the
server's URL in the environment the tests are skipped with a reason that says how to run them.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest

ENV = {"postgresql": "THSOURCES_TEST_POSTGRES_URL", "mysql": "THSOURCES_TEST_MYSQL_URL"}
EXAMPLE = {
    "postgresql": "postgresql://postgres@127.0.0.1:5432/test",
    "mysql": "mysql://root@127.0.0.1:3306/test",
}
KINDS = tuple(ENV)


def skip_reason(kind: str) -> str:
    return (
        f"{ENV[kind]} is not set; to run the tests on a real {kind} server, export "
        f"{ENV[kind]}={EXAMPLE[kind]} (a user that may create and drop schemas/databases; "
        "`.ci/run` sets it)"
    )


@dataclass
class Server:
    """One server for one test module: ``url`` points the sql source at its own space."""

    kind: str
    url: str
    admin: Any
    space: str

    def execute(self, sql: str) -> list[tuple[Any, ...]]:
        """Run SQL as the admin (autocommit) in the module's own space."""
        if self.kind == "postgresql":
            cur = self.admin.execute(sql)
            return list(cur.fetchall()) if cur.description else []
        with self.admin.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall()) if cur.description else []

    def marked_url(self, marker: str) -> str:
        """The source URL with ``marker`` as PostgreSQL's application_name.

        A server-side cursor shows up in pg_stat_activity as ``FETCH ...``, not as the query,
        so PostgreSQL connections are found by their application name instead.
        """
        if self.kind != "postgresql":
            return self.url
        from sqlalchemy.engine import make_url

        url = make_url(self.url).update_query_dict({"application_name": marker})
        return url.render_as_string(hide_password=False)

    def running(self, marker: str) -> int:
        """How many statements marked ``marker`` run on the server now (not ours)."""
        if self.kind == "postgresql":
            sql = (
                "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                f"AND state = 'active' AND application_name = '{marker}'"
            )
        else:
            sql = (
                "SELECT count(*) FROM information_schema.processlist "
                f"WHERE id <> connection_id() AND info LIKE '%{marker}%'"
            )
        return int(self.execute(sql)[0][0])

    def stop(self, marker: str) -> None:
        """Cleanup after a failed test: end statements with ``marker`` still running."""
        if self.kind == "postgresql":
            self.execute(
                "SELECT pg_cancel_backend(pid) FROM pg_stat_activity "
                f"WHERE pid <> pg_backend_pid() AND application_name = '{marker}'"
            )
        else:
            rows = self.execute(
                "SELECT id FROM information_schema.processlist "
                f"WHERE id <> connection_id() AND info LIKE '%{marker}%'"
            )
            for (pid,) in rows:
                self.execute(f"KILL QUERY {int(pid)}")

    def slow_sql(self, marker: str) -> str:
        """A statement that runs for minutes unless stopped on the server.

        MariaDB ends a ``SLEEP`` by itself once its client disconnects, so there it is a
        scan (MariaDB's sequence tables), which runs on after the client is gone.
        """
        if self.kind == "postgresql":
            return f"SELECT /* {marker} */ pg_sleep(600) AS slept"
        return (
            f"SELECT /* {marker} */ SUM(a.seq * b.seq) AS slept "
            "FROM seq_1_to_1000000 a, seq_1_to_1000000 b"
        )


def wait_until(condition: Callable[[], bool], bound_s: float = 60.0) -> bool:
    """Poll ``condition`` until true or ``bound_s`` passes (a bound, not a timing assert)."""
    end = time.monotonic() + bound_s
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


@contextmanager
def server(kind: str, prefix: str = "thsrc") -> Iterator[Server]:
    """A fresh schema (PostgreSQL) or database (MySQL) on the server named by the env var,
    named ``<prefix>_<random>``."""
    base = os.environ.get(ENV[kind])
    if not base:
        pytest.skip(skip_reason(kind))
    from sqlalchemy.engine import make_url

    space = f"{prefix}_{uuid.uuid4().hex[:10]}"
    parsed = make_url(base)
    if kind == "postgresql":
        import psycopg

        admin = psycopg.connect(base, autocommit=True)
        admin.execute(f"CREATE SCHEMA {space}")
        admin.execute(f"SET search_path TO {space}")
        url = parsed.update_query_dict({"options": f"-csearch_path={space}"})
    else:
        import pymysql

        admin = pymysql.connect(
            host=parsed.host or "localhost",
            port=parsed.port or 3306,
            user=parsed.username or "",
            password=parsed.password or "",
            database=parsed.database,
            autocommit=True,
            charset="utf8mb4",
        )
        with admin.cursor() as cur:
            cur.execute(f"CREATE DATABASE {space} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            cur.execute(f"USE {space}")
        url = parsed.set(database=space)
    srv = Server(kind, url.render_as_string(hide_password=False), admin, space)
    try:
        yield srv
    finally:
        try:
            if kind == "postgresql":
                admin.execute(f"DROP SCHEMA {space} CASCADE")
            else:
                with admin.cursor() as cur:
                    cur.execute(f"DROP DATABASE {space}")
        finally:
            admin.close()
