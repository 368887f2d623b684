"""Runs the outbox log's SQL on the store's SQLite file (see eventlog/outbox.py).

A log statement that finds the file locked retries every half millisecond itself instead
of leaving it to SQLite's busy handler, which backs off to 100 ms between tries: against
a store kept busy by the writes being logged, it kept losing the race for the single
writer, and a one-row commit of the relay waited seconds (bench/relay_lag.py).
See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from starling.eventlog.outbox import DEFAULT_CLAIM_AFTER_S, OutboxLog
from starling.store.schema import BUSY_TIMEOUT_MS, ThreadConnections

LOCKED_RETRY_S = 0.0005
T = TypeVar("T")


class SqliteRunner:
    greatest = "MAX"

    def __init__(self, path: Path) -> None:
        self._conns = ThreadConnections(path)
        self._configured = threading.local()

    def query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        return self._retrying(lambda conn: conn.execute(sql, tuple(params)).fetchall())

    def execute(self, sql: str, params: Sequence[Any]) -> int:
        return self._retrying(lambda conn: conn.execute(sql, tuple(params)).rowcount)

    def close(self) -> None:
        self._conns.close()

    def _retrying(self, run: Callable[[sqlite3.Connection], T]) -> T:
        """Runs one statement (its own transaction), retrying while the file is locked."""
        conn = self._connection()
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                return run(conn)
            except sqlite3.OperationalError as exc:
                if not _locked(exc) or time.monotonic() > deadline:
                    raise
            time.sleep(LOCKED_RETRY_S)

    def _connection(self) -> sqlite3.Connection:
        conn = self._conns.get()
        if getattr(self._configured, "conn", None) is not conn:
            conn.execute("PRAGMA busy_timeout = 0")  # a locked file answers at once
            self._configured.conn = conn
        return conn


def _locked(exc: sqlite3.OperationalError) -> bool:
    return (exc.sqlite_errorcode & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def open_sqlite_log(path: Path, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S) -> OutboxLog:
    return OutboxLog(SqliteRunner(path), claim_after_s=claim_after_s)
