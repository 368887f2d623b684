"""PostgreSQL for tests: a server per session, a fresh database per test.

The server is STARLING_TEST_POSTGRES_URL when set (a URL whose user may create
databases), else a private one started for the session (localpostgres.py). Without
either the PostgreSQL tests skip, except in CI where they fail. Tests that stop their
server share another private one (`own_postgres`), so the others never see it go down.

Store tests share one migrated database whose rows are all deleted before each test: that
takes about a millisecond, where creating a database per test takes 20 to 300 ms (more
on a busy machine). Migration tests get a new, empty database of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from starling.localpostgres import (
    DATABASE,
    LocalPostgres,
    PostgresUnavailable,
    start_private_postgres,
)
from starling.store.postgres_db import migrate

# FILE_COPY copies the template's files instead of writing them through the WAL:
# several times faster on a server without fsync (PostgreSQL 15 and later).
FILE_COPY_SINCE = 150000
EMPTIED_TABLES = (
    "SELECT tablename FROM pg_tables"
    " WHERE schemaname = current_schema() AND tablename <> 'schema_versions'"
)


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A URL on the test server; tests create their own databases there."""
    configured = os.environ.get("STARLING_TEST_POSTGRES_URL")
    if configured:
        yield configured
        return
    try:
        server = start_private_postgres()
    except PostgresUnavailable as exc:
        _no_postgres(f"{exc}; set STARLING_TEST_POSTGRES_URL or install it")
    try:
        yield server.admin_url
    finally:
        server.remove()


@pytest.fixture(scope="session")
def stoppable_postgres() -> Iterator[LocalPostgres]:
    """A private server for the tests that stop it; durable (fsync on), so what it
    acknowledged survives being stopped as by a crash."""
    try:
        server = start_private_postgres(durable=True)
    except PostgresUnavailable as exc:
        _no_postgres(f"{exc}; install it")
    try:
        yield server
    finally:
        server.remove()


@pytest.fixture
def own_postgres(stoppable_postgres: LocalPostgres) -> LocalPostgres:
    """The stoppable server, running, its database `starling` new and empty: the test may
    stop it and start it again (starting a server per test would take a second)."""
    if not stoppable_postgres.is_running():
        stoppable_postgres.start()  # an earlier test left it stopped
    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(DATABASE))
    with psycopg.connect(stoppable_postgres.admin_url, autocommit=True) as conn:
        conn.execute(drop)
    stoppable_postgres.create_database(DATABASE)
    return stoppable_postgres


def _no_postgres(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"no PostgreSQL for tests: {reason}")
    pytest.skip(f"no PostgreSQL for tests: {reason}")


@contextmanager
def new_database(server_url: str, template: str) -> Iterator[str]:
    """A database copied from `template`, dropped at the end; yields its URL."""
    name = f"test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        create = "CREATE DATABASE {} TEMPLATE {}"
        if conn.info.server_version >= FILE_COPY_SINCE:
            create += " STRATEGY FILE_COPY"
        conn.execute(sql.SQL(create).format(sql.Identifier(name), sql.Identifier(template)))
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def postgres_database(postgres_server_url: str) -> Iterator[str]:
    """The URL of a migrated database the tests share, one at a time."""
    with new_database(postgres_server_url, "template0") as url:
        with psycopg.connect(url, autocommit=True) as conn:
            migrate(conn)
        yield url


@pytest.fixture
def postgres_url(postgres_database: str) -> str:
    """The URL of a database with the current schema and no rows."""
    with psycopg.connect(postgres_database, autocommit=True) as conn:
        tables = [sql.Identifier(table) for (table,) in conn.execute(EMPTIED_TABLES).fetchall()]
        # One statement: foreign keys are checked at its end, so the order does not matter.
        deletes = sql.SQL(", ").join(
            sql.SQL("d{} AS (DELETE FROM {})").format(sql.Literal(i), table)
            for i, table in enumerate(tables)
        )
        conn.execute(sql.SQL("WITH {} SELECT 1").format(deletes))
    return postgres_database


@pytest.fixture
def empty_postgres_url(postgres_server_url: str) -> Iterator[str]:
    """The URL of a new database without even the schema (migration tests)."""
    with new_database(postgres_server_url, "template0") as url:
        yield url
