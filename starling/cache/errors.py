"""What a lost cache looks like to its callers: `CacheUnavailable`, raised by the guard
(guarded.py) when the cache cannot be reached, and `degraded`, with which a caller that
carries on without it leaves a trace (a throttled warning and a metric).
See docs/subsystems/cache.md.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from starling import metrics

log = logging.getLogger(__name__)

LOG_EVERY_S = 10.0  # an outage degrades every request: one warning per operation this often


class CacheUnavailable(Exception):
    """The cache cannot be reached (connection lost, timeout, cluster down). Derived state
    only lives there, so callers that can answer from the store of record do."""


_logged_at: dict[str, float] = {}
_log_lock = threading.Lock()


def degraded(operation: str, exc: CacheUnavailable) -> None:
    """Records that `operation` carried on without the cache."""
    metrics.CACHE_DEGRADED.labels(operation).inc()
    now = time.monotonic()
    with _log_lock:
        if now - _logged_at.get(operation, -LOG_EVERY_S) < LOG_EVERY_S:
            return
        _logged_at[operation] = now
    log.warning("cache unavailable, %s carried on without it: %s", operation, exc)


@contextmanager
def best_effort(operation: str) -> Iterator[None]:
    """Runs cache work that may be skipped while the cache is down, such as the upkeep
    after a commit: the write stands, and workers or reads repair the derived state."""
    try:
        yield
    except CacheUnavailable as exc:
        degraded(operation, exc)
