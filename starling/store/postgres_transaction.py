"""The writes of one PostgreSQL transaction (store.base.Transaction): the shared writes,
and events appended to the `events` table in the same transaction (the outbox), in
commit order. See docs/subsystems/store.md.
"""

from __future__ import annotations

from contextlib import nullcontext

from starling.store.dialect import POSTGRES
from starling.store.postgres_db import EVENTS_LOCK, Connection, PostgresSql
from starling.store.sql_transaction import SqlTransaction

# MAX + 1 is read by a statement that starts after the lock is granted, so its snapshot
# holds the previous holder's commit (locks are released after the commit is visible).
APPEND = (
    'INSERT INTO events ("offset", type, payload, ts)'
    ' VALUES ((SELECT COALESCE(MAX("offset"), 0) + 1 FROM events), ?, ?, ?)'
)


class PostgresTransaction(SqlTransaction):
    """Appends hold a transaction-scoped advisory lock from the first emit to the commit.

    Without it, offsets could commit out of order: A takes offset 5, B takes 6 and
    commits first, a consumer reads 6 and commits its position past 5, and A's event
    is never read. Serialising appends until commit makes offsets commit in order (and
    keeps them dense). Actions emit last, so the lock covers little more than the commit.
    """

    def __init__(self, conn: Connection) -> None:
        super().__init__(PostgresSql(lambda: nullcontext(conn)), POSTGRES)
        self._locked = False

    def _append(self, event_type: str, payload: str, ts: int) -> None:
        if not self._locked:
            self._sql.run("SELECT pg_advisory_xact_lock(?)", (EVENTS_LOCK,))
            self._locked = True
        self._sql.run(APPEND, (event_type, payload, ts))
