"""The guard around the cache roles: the Redis errors that mean "the cache cannot be
reached" (connection lost or refused, timeout, cluster down) become `CacheUnavailable`;
every other error passes as it is (a script or response error is a bug, not an outage).

A refused connection or a cluster-down answer fails at once. A timeout costs a whole
socket timeout per call, so after one the guard fails calls at once for `HOLD_S`, then
lets one call through to probe (a circuit breaker): a stalled server costs one slow call
per `HOLD_S`, not one per request. The runtime applies the guard where it opens the
cache; the in-process roles never raise these errors, so it changes nothing for them.
See docs/subsystems/cache.md.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import redis

from starling.cache.backends import CacheBackends
from starling.cache.errors import CacheUnavailable
from starling.redis_errors import UNREACHABLE

HOLD_S = 1.0


class Breaker:
    """Holds calls off for `hold_s` after a timeout; one call then probes the server."""

    def __init__(self, hold_s: float = HOLD_S) -> None:
        self.hold_s = hold_s
        self._lock = threading.Lock()
        self._held_until = 0.0  # 0.0: calls go through

    def admit(self) -> None:
        if not self._held_until:
            return
        with self._lock:
            now = time.monotonic()
            if now < self._held_until:
                raise CacheUnavailable("holding off after a timeout")
            # This call probes; the others keep failing at once until it is answered.
            self._held_until = now + self.hold_s

    def failed(self, exc: Exception) -> None:
        if isinstance(exc, redis.exceptions.TimeoutError):
            self._held_until = time.monotonic() + self.hold_s

    def answered(self) -> None:
        if self._held_until:
            self._held_until = 0.0


class _Guarded:
    """Forwards every attribute of a role; its methods go through the breaker."""

    def __init__(self, role: object, breaker: Breaker) -> None:
        self._role = role
        self._breaker = breaker

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._role, name)
        if not callable(value):
            return value
        guarded = _guard(value, self._breaker)
        setattr(self, name, guarded)  # later calls skip __getattr__
        return guarded


def _guard(method: Callable[..., Any], breaker: Breaker) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        breaker.admit()
        try:
            result = method(*args, **kwargs)
        except UNREACHABLE as exc:
            breaker.failed(exc)
            raise CacheUnavailable(f"{method.__qualname__}: {exc}") from exc
        breaker.answered()
        return result

    return call


def guard_cache(cache: CacheBackends, breaker: Breaker | None = None) -> CacheBackends:
    """The same roles behind one breaker: they share one server."""
    shared = breaker or Breaker()
    roles: dict[str, Any] = {
        field.name: _Guarded(getattr(cache, field.name), shared)
        for field in dataclasses.fields(cache)
    }
    return CacheBackends(**roles)
