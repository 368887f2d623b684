"""The budgets cache role (cache.base.Budgets), in process and on Redis: a total per key,
charged only while it stays within its limit, so concurrent charges can never take a
budget past it, and never charged before it was seeded (from the store's spend), so a
total lost with a restart is not counted again from zero. See docs/subsystems/cache.md
and docs/subsystems/ads.md.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from starling.cache.servers import Servers

# KEYS: the budget's key. ARGV: amount, limit. Returns 1 when charged, 0 when refused,
# -1 when the key holds no total (not seeded, or lost).
_CHARGE_LUA = """
local current = redis.call('GET', KEYS[1])
if not current then return -1 end
local total = tonumber(current) + tonumber(ARGV[1])
if total > tonumber(ARGV[2]) then return 0 end
redis.call('SET', KEYS[1], total)
return 1
"""
_OUTCOMES = {1: True, 0: False, -1: None}


class MemoryBudgets:
    """One dict behind one lock: a charge is a read and a write of one entry."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._spent: dict[int, int] = {}

    def charge(self, charges: Sequence[tuple[int, int, int]]) -> list[bool | None]:
        done: list[bool | None] = []
        with self._lock:
            for key, amount, limit in charges:
                current = self._spent.get(int(key))
                if current is None:
                    done.append(None)
                    continue
                if current + amount <= limit:
                    self._spent[int(key)] = current + amount
                done.append(current + amount <= limit)
        return done

    def seed(self, totals: Mapping[int, int]) -> None:
        with self._lock:
            for key, total in totals.items():
                self._spent.setdefault(int(key), int(total))

    def spent(self, keys: Sequence[int]) -> dict[int, int]:
        with self._lock:
            return {int(k): self._spent[int(k)] for k in keys if int(k) in self._spent}

    def close(self) -> None:
        """Nothing to release."""


class RedisBudgets:
    """A string per budget; a charge is one script call on that key (one slot on a
    cluster, which refuses scripts in a pipeline): a page makes one per ad it places."""

    def __init__(self, servers: Servers, prefix: str) -> None:
        self._servers = servers
        self._client = servers.client
        self._prefix = prefix
        self._charge = self._client.register_script(_CHARGE_LUA)

    def charge(self, charges: Sequence[tuple[int, int, int]]) -> list[bool | None]:
        return [
            _OUTCOMES[int(self._charge(keys=[self._key(key)], args=[int(amount), int(limit)]))]
            for key, amount, limit in charges
        ]

    def seed(self, totals: Mapping[int, int]) -> None:
        """One SET NX per key, pipelined: one round trip (per node on a cluster)."""
        if not totals:
            return
        pipe = self._client.pipeline(transaction=False)
        for key, total in totals.items():
            pipe.set(self._key(key), int(total), nx=True)
        pipe.execute()

    def spent(self, keys: Sequence[int]) -> dict[int, int]:
        wanted = [int(k) for k in keys]
        if not wanted:
            return {}
        pipe = self._client.pipeline(transaction=False)
        for key in wanted:
            pipe.get(self._key(key))
        found = zip(wanted, pipe.execute(), strict=True)
        return {key: int(total) for key, total in found if total is not None}

    def close(self) -> None:
        """Closes the shared client (idempotent)."""
        self._servers.close()

    def _key(self, key: int) -> str:
        return f"{self._prefix}budget:{int(key)}"
