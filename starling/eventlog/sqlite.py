"""Runs the outbox log's SQL on the store's SQLite file (see eventlog/outbox.py).

See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starling.eventlog.outbox import DEFAULT_CLAIM_AFTER_S, OutboxLog
from starling.store.schema import ThreadConnections


class SqliteRunner:
    greatest = "MAX"

    def __init__(self, path: Path) -> None:
        self._conns = ThreadConnections(path)

    def query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._conns.get().execute(sql, tuple(params)).fetchall()

    def execute(self, sql: str, params: Sequence[Any]) -> int:
        return self._conns.get().execute(sql, tuple(params)).rowcount

    def close(self) -> None:
        self._conns.close()


def open_sqlite_log(path: Path, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S) -> OutboxLog:
    return OutboxLog(SqliteRunner(path), claim_after_s=claim_after_s)
