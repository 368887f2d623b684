"""Builds the event log from its URL. See docs/subsystems/eventlog.md.

No URL: the store's own outbox table, read in place on the store's connections.
`redis://...` (or `rediss://`): Redis Streams, fed from the outbox by the relay worker.
"""

from __future__ import annotations

import redis

from starling.eventlog.base import EventLog
from starling.eventlog.outbox import DEFAULT_CLAIM_AFTER_S, OutboxLog
from starling.eventlog.redis_streams import DEFAULT_PARTITIONS, RedisStreamsLog
from starling.store.base import Store
from starling.store.sql_reads import SqlReads


def open_log(
    url: str | None,
    store: Store,
    *,
    claim_after_s: float = DEFAULT_CLAIM_AFTER_S,
    partitions: int = DEFAULT_PARTITIONS,
    key_prefix: str = "",
) -> EventLog:
    if url is None:
        return open_outbox(store, claim_after_s=claim_after_s)
    if url.startswith(("redis://", "rediss://")):
        client = redis.Redis.from_url(url, decode_responses=True)
        return RedisStreamsLog(
            client, partitions=partitions, key_prefix=key_prefix, claim_after_s=claim_after_s
        )
    raise ValueError(f"unsupported event log URL {url!r}: use redis://... or leave it unset")


def open_outbox(store: Store, *, claim_after_s: float = DEFAULT_CLAIM_AFTER_S) -> OutboxLog:
    """The log over the store's own `events` table, woken by its commits in this process."""
    if not isinstance(store, SqlReads):
        raise ValueError(f"no outbox log for {type(store).__name__}")
    sql, dialect = store.outbox()
    log = OutboxLog(sql, dialect, claim_after_s=claim_after_s)
    store.add_commit_listener(log.notify)
    return log
