"""The writes of one SQLite transaction (store.base.Transaction): the shared writes, and
events appended to the `events` table of the same file. See docs/subsystems/store.md."""

from __future__ import annotations

import sqlite3

from starling.store.dialect import SQLITE
from starling.store.sql_transaction import SqlTransaction
from starling.store.sqlite_file import SqliteSql


class SqliteTransaction(SqlTransaction):
    """The writes of one BEGIN IMMEDIATE transaction: SQLite already runs one writer at a
    time, so appends are in commit order by construction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        super().__init__(SqliteSql(lambda: conn), SQLITE)

    def _append(self, event_type: str, payload: str, ts: int) -> None:
        self._sql.run(
            "INSERT INTO events (type, payload, ts) VALUES (?, ?, ?)", (event_type, payload, ts)
        )
