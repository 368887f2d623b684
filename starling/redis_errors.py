"""The redis-py errors that mean a Redis server cannot be reached (connection lost or
refused, timeout, cluster down), as opposed to a bug such as a script or response error.
The cache's guard turns them into `CacheUnavailable` (docs/subsystems/cache.md), the
Redis Streams log into `LogUnavailable` (docs/subsystems/eventlog.md).
"""

from __future__ import annotations

import redis

UNREACHABLE: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ClusterDownError,
    redis.exceptions.SlotNotCoveredError,
)
