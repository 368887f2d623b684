"""The PostgreSQL database: a connection pool, migrations, and the shared SQL run on it
(PostgresSql).

Pooled connections are in autocommit mode, so a read is one round trip; a write
transaction is an explicit BEGIN ... COMMIT (`Connection.transaction`). The schema's
versions are rows of `schema_versions`; each migration runs in its own transaction under
an advisory lock, so processes opening the database together apply it once.
See docs/subsystems/store.md.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from starling.ids import now_ms
from starling.store.base import Conflict
from starling.store.dialect import POSTGRES
from starling.store.schema import Migration, missing, render
from starling.store.sql import Params

Connection = psycopg.Connection[Any]

MIGRATIONS = render(POSTGRES)
# Keys of the advisory locks (one namespace per database): "STARLING" and "STARLOG!".
MIGRATION_LOCK = 0x535441524C494E47
EVENTS_LOCK = 0x535441524C4F4721
CONNECT_TIMEOUT_S = 10.0
POOL_MIN = 1
POOL_MAX = 16
VERSIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_versions"
    " (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)"
)


@functools.lru_cache(maxsize=1024)
def psycopg_statement(statement: str) -> str:
    """The shared queries use qmark placeholders; psycopg takes %s."""
    return statement.replace("?", "%s")


@contextmanager
def unique_is_conflict() -> Iterator[None]:
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(str(exc)) from exc


class PostgresSql:
    """sql.Sql on a connection that `connection()` lends for one statement: the pool's
    (reads in autocommit) or a transaction's."""

    def __init__(self, connection: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._connection = connection

    def rows(self, statement: str, params: Params = ()) -> Iterable[Any]:
        with self._connection() as conn:
            return conn.execute(psycopg_statement(statement), params).fetchall()

    def one(self, statement: str, params: Params = ()) -> Any:
        with self._connection() as conn:
            return conn.execute(psycopg_statement(statement), params).fetchone()

    def run(self, statement: str, params: Params = ()) -> int:
        with self._connection() as conn, unique_is_conflict():
            return conn.execute(psycopg_statement(statement), params).rowcount

    def many(self, statement: str, rows: Iterable[Params]) -> None:
        with self._connection() as conn, unique_is_conflict(), conn.cursor() as cur:
            cur.executemany(psycopg_statement(statement), rows)


def open_pool(url: str, *, min_size: int = POOL_MIN, max_size: int = POOL_MAX) -> ConnectionPool:
    """A pool of autocommit connections to a migrated database; fails if it cannot connect
    within CONNECT_TIMEOUT_S."""
    pool = ConnectionPool(
        url, min_size=min_size, max_size=max_size, kwargs={"autocommit": True}, open=False
    )
    try:
        pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        with pool.connection() as conn:
            migrate(conn)
    except BaseException:
        pool.close()
        raise
    return pool


def schema_version(conn: Connection) -> int:
    row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_versions").fetchone()
    return 0 if row is None else int(row[0])


def migrate(conn: Connection, migrations: Sequence[Migration] = MIGRATIONS) -> None:
    """Applies the migrations the database lacks, each in its own transaction."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(VERSIONS_TABLE)
    for version, statements in missing(schema_version(conn), migrations):
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            # Checked again under the lock: another process may have just migrated.
            if schema_version(conn) < version:
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_versions (version, applied_at) VALUES (%s, %s)",
                    (version, now_ms()),
                )
