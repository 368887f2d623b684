"""The PostgreSQL database: a connection pool, migrations, and the shared SQL run on it
(PostgresSql).

Pooled connections are in autocommit mode, so a read is one round trip; a write
transaction is an explicit BEGIN ... COMMIT (`Connection.transaction`). The schema's
versions are rows of `schema_versions`; each migration runs in its own transaction under
an advisory lock, so processes opening the database together apply it once.

A lost server is the store's `StoreUnavailable`, never a psycopg error: every statement
and every loan of a connection (`borrowed`) runs under `translated_errors`. A loan waits
at most `POOL_TIMEOUT_S` for a connection, skips those whose server hung up while they
sat in the pool, and the pool tries a lost server again about every `RECONNECT_S`.
See docs/subsystems/store.md.
"""

from __future__ import annotations

import functools
import select
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

from starling.ids import now_ms
from starling.store.base import Conflict, StoreUnavailable
from starling.store.dialect import POSTGRES
from starling.store.schema import Migration, missing, render
from starling.store.sql import Params

Connection = psycopg.Connection[Any]

MIGRATIONS = render(POSTGRES)
# Keys of the advisory locks (one namespace per database): "STARLING" and "STARLOG!".
MIGRATION_LOCK = 0x535441524C494E47
EVENTS_LOCK = 0x535441524C4F4721
CONNECT_TIMEOUT_S = 10.0
# How long a statement waits for a connection: past it the pool is exhausted or its server
# is gone, and the request is better answered 503 at once than left hanging.
POOL_TIMEOUT_S = 2.0
# psycopg_pool backs reconnection attempts off exponentially (1 s, 2 s, 4 s, ...): after an
# outage of a minute the pool would find the server back only a minute later. Giving up
# after a second and starting again keeps a lost server tried about once a second.
RECONNECT_S = 1.0
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
def translated_errors() -> Iterator[None]:
    """psycopg's errors as the store's: a unique violation is `Conflict`; an operational
    error (server unreachable, shut down or crashed, connection lost, no pooled connection
    in time, a deadlock victim) is `StoreUnavailable`. Errors in the SQL itself pass as
    they are: they are bugs, not outages."""
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        raise Conflict(str(exc)) from exc
    except psycopg.OperationalError as exc:  # PoolTimeout is one
        raise StoreUnavailable(f"PostgreSQL: {exc}") from exc


class PostgresSql:
    """sql.Sql on a connection that `connection()` lends for one statement: the pool's
    (reads in autocommit) or a transaction's."""

    def __init__(self, connection: Callable[[], AbstractContextManager[Connection]]) -> None:
        self._connection = connection

    def rows(self, statement: str, params: Params = ()) -> Iterable[Any]:
        with translated_errors(), self._connection() as conn:
            return conn.execute(psycopg_statement(statement), params).fetchall()

    def one(self, statement: str, params: Params = ()) -> Any:
        with translated_errors(), self._connection() as conn:
            return conn.execute(psycopg_statement(statement), params).fetchone()

    def run(self, statement: str, params: Params = ()) -> int:
        with translated_errors(), self._connection() as conn:
            return conn.execute(psycopg_statement(statement), params).rowcount

    def many(self, statement: str, rows: Iterable[Params]) -> None:
        with translated_errors(), self._connection() as conn, conn.cursor() as cur:
            cur.executemany(psycopg_statement(statement), rows)


def open_pool(url: str, *, min_size: int = POOL_MIN, max_size: int = POOL_MAX) -> ConnectionPool:
    """A pool of autocommit connections to a migrated database; fails if it cannot connect
    within CONNECT_TIMEOUT_S."""
    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"autocommit": True},
        open=False,
        timeout=POOL_TIMEOUT_S,
        reconnect_timeout=RECONNECT_S,
        reconnect_failed=_reconnect_again,
    )
    try:
        with translated_errors():
            pool.open(wait=True, timeout=CONNECT_TIMEOUT_S)
        with borrowed(pool) as conn:
            migrate(conn)
    except BaseException:
        pool.close()
        raise
    return pool


def _reconnect_again(pool: ConnectionPool) -> None:
    """Called when the pool gives up reconnecting (after RECONNECT_S): check() lets the
    pool grow again, which starts a new attempt at once."""
    pool.check()


@contextmanager
def borrowed(pool: ConnectionPool) -> Iterator[Connection]:
    """A pooled connection for the with-block, whose server has not hung up on it."""
    with translated_errors():
        conn = _live_connection(pool)
        try:
            yield conn
        finally:
            pool.putconn(conn)


def _live_connection(pool: ConnectionPool) -> Connection:
    """Connections that sat in the pool while their server restarted are discarded here,
    so no statement fails on one once the server is back."""
    while True:
        conn: Connection = pool.getconn()
        if not hung_up(conn):
            return conn
        pool.putconn(conn)  # broken: the pool drops it and connects anew


def hung_up(conn: Connection) -> bool:
    """Whether the server has closed this idle connection (it crashed, restarted or shut
    down since). An idle connection's socket has nothing to read unless its server hung up
    or sent a notice, so a poll clears it without a round trip; only a readable one costs
    a round trip to tell which."""
    if conn.closed:
        return True
    poll = select.poll()
    poll.register(conn.fileno(), select.POLLIN)
    if not poll.poll(0):
        return False
    try:
        ConnectionPool.check_connection(conn)
    except psycopg.Error:
        return True
    return False


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
