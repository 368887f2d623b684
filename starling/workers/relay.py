"""Relay worker: moves committed outbox events into the Redis Streams log, in order.

It reads the outbox as consumer group "relay" and adds each batch to the streams in one
round trip, each entry under the id `<outbox offset>-0`. Exactly once without a two-phase
commit: a relay that dies after adding and before committing re-sends the batch, and
Redis refuses every id it already holds (a stream's ids only grow). Once relayed and older
than the retention window, events leave the outbox and the streams together.
See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import time

from starling.eventlog.base import LogEntry
from starling.eventlog.outbox import OutboxLog
from starling.eventlog.redis_streams import RedisStreamsLog
from starling.ids import now_ms
from starling.workers.base import Worker

# A restarted relay re-sends what it relayed since its position was last written, and
# Redis refuses it: the position need not cost the store a write per batch.
POSITION_EVERY_S = 1.0


class RelayWorker(Worker):
    name = "relay"
    trim_every_s = 60.0

    def __init__(self, outbox: OutboxLog, streams: RedisStreamsLog, retention_s: float) -> None:
        super().__init__(outbox)
        self.outbox = outbox
        self.streams = streams
        self.retention_ms = int(retention_s * 1000)
        self._next_trim = 0.0  # time.monotonic() of the next trim
        outbox.write_positions_every(self.name, POSITION_EVERY_S)

    def apply_entries(self, entries: list[LogEntry]) -> None:
        self.streams.append([(int(entry.position), entry.event) for entry in entries])

    def tick(self) -> None:
        if time.monotonic() >= self._next_trim:
            self.trim()
            self._next_trim = time.monotonic() + self.trim_every_s

    def trim(self) -> int:
        """Drops relayed events older than the retention window from the streams, then
        from the outbox; returns how many left the outbox."""
        cutoff = now_ms() - self.retention_ms
        keep_from = self.outbox.retained_from(self.outbox.committed(self.name), cutoff)
        self.streams.trim(keep_from)
        return self.outbox.trim(keep_from - 1, cutoff)
