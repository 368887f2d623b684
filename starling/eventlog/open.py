"""Builds the event log from its URL. See docs/subsystems/eventlog.md.

No URL: the store's own outbox table, read in place on the store's connections.
"""

from __future__ import annotations

from starling.eventlog.base import EventLog
from starling.eventlog.outbox import DEFAULT_CLAIM_AFTER_S, OutboxLog
from starling.store.base import Store
from starling.store.sql_reads import SqlReads


def open_log(
    url: str | None, store: Store, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S
) -> EventLog:
    if url is None and isinstance(store, SqlReads):
        return open_outbox(store, claim_after_s=claim_after_s)
    raise ValueError(f"unsupported event log URL {url!r} for {type(store).__name__}")


def open_outbox(store: SqlReads, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S) -> OutboxLog:
    """The log over the store's own `events` table, woken by its commits in this process."""
    sql, dialect = store.outbox()
    log = OutboxLog(sql, dialect, claim_after_s=claim_after_s)
    store.add_commit_listener(log.notify)
    return log
