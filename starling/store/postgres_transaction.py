"""The writes of one PostgreSQL transaction (store.base.Transaction): the shared writes,
and events appended to the `events` table in the same transaction (the outbox), in
commit order. See docs/subsystems/store.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from psycopg.pq import TransactionStatus

from starling.store.dialect import POSTGRES
from starling.store.postgres_db import EVENTS_LOCK, Connection, PostgresSql, psycopg_statement
from starling.store.sql_transaction import SqlTransaction

LOCK = "SELECT pg_advisory_xact_lock(%s)"
# MAX + 1 is read by a statement that starts after the lock is granted, so its snapshot
# holds the previous holder's commit (locks are released after the commit is visible).
APPEND = psycopg_statement(
    'INSERT INTO events ("offset", type, payload, ts)'
    ' VALUES ((SELECT COALESCE(MAX("offset"), 0) + 1 FROM events), ?, ?, ?)'
)
OPEN = (TransactionStatus.INTRANS, TransactionStatus.INERROR)


class PostgresTransaction(SqlTransaction):
    """Events are appended under a transaction-scoped advisory lock, held until commit.

    Without it, offsets could commit out of order: A takes offset 5, B takes 6 and
    commits first, a consumer reads 6 and commits its position past 5, and A's event
    is never read. Serialising appends until commit makes offsets commit in order (and
    keeps them dense). emit() only buffers: the lock, the appends and the COMMIT go out
    in one pipeline at the end, so the lock is held while the server works, never while
    the server waits for this client.
    """

    def __init__(self, conn: Connection) -> None:
        super().__init__(PostgresSql(lambda: nullcontext(conn)), POSTGRES)
        self._conn = conn
        self._events: list[tuple[str, str, int]] = []

    def _append(self, event_type: str, payload: str, ts: int) -> None:
        self._events.append((event_type, payload, ts))

    def commit(self) -> None:
        with self._conn.pipeline():
            if self._events:
                self._conn.execute(LOCK, (EVENTS_LOCK,))
                self._conn.cursor().executemany(APPEND, self._events)
            self._conn.execute("COMMIT")


@contextmanager
def transaction(conn: Connection) -> Iterator[PostgresTransaction]:
    """BEGIN ... COMMIT on an autocommit connection; ROLLBACK on any exception.

    A connection lost before COMMIT was answered leaves the outcome unknown; it is
    StoreUnavailable all the same (never retried here): the writes are idempotent or, for
    posts, keyed, so the client's retry is what settles it."""
    conn.execute("BEGIN")
    tx = PostgresTransaction(conn)
    try:
        yield tx
        tx.commit()
    except BaseException:
        if conn.info.transaction_status in OPEN:
            conn.execute("ROLLBACK")
        raise
