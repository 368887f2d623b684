"""A component's recent latency: the observations of the last `window_s` seconds, for
its 95th percentile. The quality factor of a source and the cost estimate of a ranking
rung read it; old observations are forgotten, so a component skipped for being slow is
tried again once its window is empty. Thread-safe. See docs/subsystems/mixer.md.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

Clock = Callable[[], float]  # seconds, monotonic

WINDOW_S = 10.0
KEPT = 1000  # observations held at most, however many arrive in a window


class RecentLatency:
    def __init__(self, window_s: float = WINDOW_S, clock: Clock = time.monotonic) -> None:
        self.window_s = window_s
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: deque[tuple[float, float]] = deque(maxlen=KEPT)  # (when, seconds)

    def observe(self, seconds: float) -> None:
        with self._lock:
            self._seen.append((self.clock(), seconds))

    def p95(self) -> float:
        """The 95th percentile of the window's latencies; 0.0 when it holds none."""
        with self._lock:
            since = self.clock() - self.window_s
            while self._seen and self._seen[0][0] < since:
                self._seen.popleft()
            if not self._seen:
                return 0.0
            latencies = [seconds for _, seconds in self._seen]
        return float(np.percentile(latencies, 95))
