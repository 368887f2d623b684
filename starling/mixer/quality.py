"""The quality factor of a candidate source (Twitter's product-mixer): a number in
[0.1, 1.0] that scales how many candidates the source is asked for. After each request
it falls by 0.02375 when the source's recent p95 latency is over its target and rises by
0.00125 when it is not, so a slow source is asked for fewer candidates within a few
dozen requests and recovers slowly. One per source per process, thread-safe, published
as a gauge. See docs/subsystems/mixer.md.
"""

from __future__ import annotations

import threading

from prometheus_client import Gauge

from starling.metrics import REGISTRY
from starling.mixer.latency import RecentLatency

DROP = 0.02375
RISE = 0.00125
LOWEST, HIGHEST = 0.1, 1.0

QUALITY_FACTOR = Gauge(
    "starling_mixer_quality_factor",
    "The quality factor of a candidate source: the share of its usual candidates it is asked for",
    ["product", "source"],
    registry=REGISTRY,
)


class QualityFactor:
    def __init__(self, product: str, source: str, target_s: float, latency: RecentLatency) -> None:
        self.target_s = target_s
        self.latency = latency
        self._lock = threading.Lock()
        self._value = HIGHEST
        self._gauge = QUALITY_FACTOR.labels(product, source)
        self._gauge.set(self._value)

    @property
    def value(self) -> float:
        return self._value

    def observe(self, seconds: float) -> None:
        """One request's latency of the source; moves the factor by the recent p95."""
        self.latency.observe(seconds)
        step = -DROP if self.latency.p95() > self.target_s else RISE
        with self._lock:
            self._value = min(HIGHEST, max(LOWEST, self._value + step))
            self._gauge.set(self._value)


def scaled(candidates: int, quality: float) -> int:
    """How many of its usual `candidates` a source at `quality` is asked for (at least 1)."""
    return max(1, round(candidates * quality))
