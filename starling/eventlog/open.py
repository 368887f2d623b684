"""Builds the event log from its URL. See docs/subsystems/eventlog.md.

No URL: the store's own outbox table, read in place.
"""

from __future__ import annotations

from starling.eventlog.base import EventLog
from starling.eventlog.outbox import DEFAULT_CLAIM_AFTER_S
from starling.eventlog.sqlite import open_sqlite_log
from starling.store.base import Store
from starling.store.sqlite import SqliteStore


def open_log(
    url: str | None, store: Store, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S
) -> EventLog:
    if url is None and isinstance(store, SqliteStore):
        log = open_sqlite_log(store.path, claim_after_s=claim_after_s)
        store.add_commit_listener(log.notify)
        return log
    raise ValueError(f"unsupported event log URL {url!r} for {type(store).__name__}")
