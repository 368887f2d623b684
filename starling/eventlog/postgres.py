"""The event log kept in the PostgreSQL store's `events` table (the outbox).

Store transactions append to it in the write's own transaction, in commit order
(store/postgres_transaction.py); this class reads, tracks consumer-group offsets and
lets consumers block until something new arrives, as SqliteEventLog does.
See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

from starling.eventlog.sql import PolledLog, events_from_rows
from starling.model import Event
from starling.store.postgres_db import PostgresSql, open_pool

POOL_MAX = 4


class PostgresEventLog(PolledLog):
    """See eventlog.base.EventLog. Wire `notify` to the store's on_commit."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self._pool = open_pool(url, max_size=POOL_MAX)
        self._sql = PostgresSql(self._pool.connection)

    def read(self, after: int, limit: int) -> list[Event]:
        sql = 'SELECT "offset", type, payload, ts FROM events WHERE "offset" > ?'
        return events_from_rows(self._sql.rows(f'{sql} ORDER BY "offset" LIMIT ?', (after, limit)))

    def last_offset(self) -> int:
        return int(self._sql.one('SELECT COALESCE(MAX("offset"), 0) FROM events')[0])

    def committed(self, group: str) -> int:
        row = self._sql.one('SELECT "offset" FROM consumer_offsets WHERE grp = ?', (group,))
        return 0 if row is None else int(row[0])

    def commit(self, group: str, offset: int) -> None:
        # GREATEST: a slow consumer committing late must not move the group back.
        self._sql.run(
            'INSERT INTO consumer_offsets (grp, "offset") VALUES (?, ?) ON CONFLICT (grp)'
            ' DO UPDATE SET "offset" = GREATEST(consumer_offsets."offset", excluded."offset")',
            (group, offset),
        )

    def close(self) -> None:
        self._pool.close()
