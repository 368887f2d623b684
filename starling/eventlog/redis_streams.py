"""The event log on Redis Streams (Redis 7): N partition streams, fed from the store's
outbox by the relay (workers/relay.py), read by consumer groups.

Key layout (after the key prefix): `events:{p}` for partition p in 0..N-1. The braces
make p the hash tag, so on a Redis Cluster the partitions spread over slots, and every
command and script here touches one stream. An event goes to partition
`partition_key % N`; its entry id is `<outbox offset>-0` and its fields are the event
type and JSON payload. Positions are entry ids.

A group reads a partition through one consumer at a time: a consumer takes new entries
of a partition only while no other consumer of the group holds uncommitted ones there
(the TAKE script checks and reads atomically), so a group applies each partition in
order while its consumers share the partitions. A Redis out of reach raises
`LogUnavailable`, which workers wait out. See docs/subsystems/eventlog.md.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec, TypeVar, cast

import redis
from redis.typing import EncodableT, FieldT

from starling import events
from starling.eventlog import redis_streams_lua as lua
from starling.eventlog.base import LogEntry, LogUnavailable, Position
from starling.eventlog.outbox import DEFAULT_CLAIM_AFTER_S
from starling.eventlog.wakeup import Wakeup
from starling.events import Event
from starling.redis_errors import UNREACHABLE

DEFAULT_PARTITIONS = 8
# How idle a released consumer's entries look: far past any claim timeout.
RELEASED_IDLE_MS = 10 * 365 * 24 * 3600 * 1000
# Taken first when a consumer may take from several partitions.
_RANK = {"own": 0, "claim": 1, "new": 2}

P = ParamSpec("P")
R = TypeVar("R")


def _reachable(method: Callable[P, R]) -> Callable[P, R]:
    """The method, raising LogUnavailable where redis-py says the server is out of reach."""

    @functools.wraps(method)
    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except UNREACHABLE as exc:
            raise LogUnavailable(f"Redis Streams: {exc}") from exc

    return call


class RedisStreamsLog:
    """See eventlog.base.EventLog. `client` must decode responses (decode_responses=True)."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        partitions: int = DEFAULT_PARTITIONS,
        key_prefix: str = "",
        claim_after_s: float = DEFAULT_CLAIM_AFTER_S,
    ) -> None:
        self.partitions = partitions
        self._client = client
        self._keys = stream_keys(key_prefix, partitions)
        self._claim_after_ms = int(claim_after_s * 1000)
        self._survey = client.register_script(lua.SURVEY)
        self._take = client.register_script(lua.TAKE)
        self._lag = client.register_script(lua.LAG)
        self._release = client.register_script(lua.RELEASE)
        self._groups: set[str] = set()  # created on every partition
        self._turn = itertools.count()  # which partition new entries are taken from first
        self._wakeup = Wakeup()

    # Reading as a consumer group

    @_reachable
    def read(self, group: str, consumer: str, limit: int) -> list[LogEntry]:
        self._ensure_group(group)
        plan = self._plan(self._states(group, consumer), limit)
        pipe = self._client.pipeline(transaction=False)
        for partition, count in plan:
            args: list[EncodableT] = [group, consumer, count, self._claim_after_ms]
            self._take(keys=[self._keys[partition]], args=args, client=pipe)
        taken = pipe.execute() if plan else []
        return [
            LogEntry(_event(_fields(raw[1])), partition, raw[0])
            for (partition, _), entries in zip(plan, taken, strict=True)
            for raw in entries
        ]

    @_reachable
    def commit(self, group: str, consumer: str, entries: Sequence[LogEntry]) -> None:
        ids: dict[int, list[str]] = {}
        for entry in entries:
            ids.setdefault(entry.partition, []).append(entry.position)
        pipe = self._client.pipeline(transaction=False)
        for partition, positions in ids.items():
            pipe.xack(self._keys[partition], group, *positions)
        pipe.execute()

    @_reachable
    def lag(self, group: str) -> int:
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys:
            self._lag(keys=[key], args=[group], client=pipe)
        return sum(int(n) for n in pipe.execute())

    @_reachable
    def wait(self, group: str, consumer: str, timeout_s: float) -> bool:
        self._ensure_group(group)
        return self._wakeup.wait_for(lambda: self._may_take(group, consumer), timeout_s)

    @_reachable
    def release(self, group: str, consumer: str) -> None:
        if group not in self._groups:
            return  # this consumer never read through this log
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys:
            self._release(keys=[key], args=[group, consumer, RELEASED_IDLE_MS], client=pipe)
        pipe.execute()

    @_reachable
    def holders(self, group: str) -> dict[str, int]:
        """Entries each consumer of the group holds uncommitted, over every partition."""
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys:
            pipe.xpending(key, group)
        held: dict[str, int] = {}
        for summary in pipe.execute(raise_on_error=False):
            if isinstance(summary, Exception):
                if "NOGROUP" not in str(summary):
                    raise summary
                continue  # the group does not exist (yet) on this partition
            for holder in summary["consumers"]:
                held[holder["name"]] = held.get(holder["name"], 0) + int(holder["pending"])
        return held

    @_reachable
    def replay(self, partition: int, after: Position | None, limit: int) -> list[LogEntry]:
        low = "-" if after is None else f"({after}"
        entries = cast(
            list[tuple[str, dict[str, str]]],
            self._client.xrange(self._keys[partition], low, "+", count=limit),
        )
        return [LogEntry(_event(fields), partition, id) for id, fields in entries]

    # Writing, for the relay

    @_reachable
    def append(self, entries: Sequence[tuple[int, Event]]) -> None:
        """Adds (outbox offset, event) pairs, oldest first, in one round trip. An offset
        already relayed is refused by Redis (ids only grow in a stream), so a relay that
        re-sends after a crash adds nothing twice."""
        pipe = self._client.pipeline(transaction=False)
        for offset, event in entries:
            fields: dict[FieldT, EncodableT] = {"type": event.TYPE, "payload": _payload(event)}
            pipe.xadd(self._keys[event.partition_key % self.partitions], fields, id=f"{offset}-0")
        results = pipe.execute(raise_on_error=False) if entries else []
        for result in results:
            if isinstance(result, Exception) and not _already_added(result):
                raise result
        self._wakeup.notify()

    @_reachable
    def trim(self, keep_from: int) -> None:
        """Drops the entries of outbox offsets below keep_from from every partition."""
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys:
            pipe.xtrim(key, minid=f"{keep_from}-0", approximate=False)
        pipe.execute()

    def close(self) -> None:
        self._client.close()

    def _ensure_group(self, group: str) -> None:
        """Creates the group on every partition, reading from the oldest entry kept."""
        if group in self._groups:
            return
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys:
            pipe.xgroup_create(key, group, id="0", mkstream=True)
        for result in pipe.execute(raise_on_error=False):
            if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                raise result
        self._groups.add(group)

    def _states(self, group: str, consumer: str) -> list[tuple[str, int]]:
        pipe = self._client.pipeline(transaction=False)
        for key in self._keys:
            self._survey(keys=[key], args=[group, consumer, self._claim_after_ms], client=pipe)
        return [(state, int(count)) for state, count in pipe.execute()]

    def _plan(self, states: list[tuple[str, int]], limit: int) -> list[tuple[int, int]]:
        """(partition, count) to take, at most limit in all: own entries first, then
        claims, then new entries from the partitions in turn (none is favoured)."""
        first = next(self._turn) % self.partitions
        candidates = sorted(
            (p for p, (state, count) in enumerate(states) if state in _RANK and count > 0),
            key=lambda p: (_RANK[states[p][0]], (p - first) % self.partitions),
        )
        plan: list[tuple[int, int]] = []
        remaining = limit
        for partition in candidates:
            count = min(states[partition][1], remaining)
            if count == 0:
                break
            plan.append((partition, count))
            remaining -= count
        return plan

    def _may_take(self, group: str, consumer: str) -> bool:
        return any(state in _RANK and count > 0 for state, count in self._states(group, consumer))


def stream_keys(key_prefix: str, partitions: int) -> list[str]:
    """The partition streams' keys, by partition."""
    return [f"{key_prefix}events:{{{p}}}" for p in range(partitions)]


def _payload(event: Event) -> str:
    return json.dumps(events.to_payload(event), separators=(",", ":"))


def _event(fields: Mapping[str, str]) -> Event:
    return events.decode(fields["type"], json.loads(fields["payload"]))


def _fields(flat: list[Any]) -> dict[str, str]:
    """A script's entry fields, [name, value, name, value, ...], as a dict."""
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _already_added(error: Exception) -> bool:
    return isinstance(error, redis.ResponseError) and "equal or smaller" in str(error)
