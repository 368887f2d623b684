"""What a load run saw: requests and errors per action, latency percentiles.

See docs/subsystems/world.md.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import chain

import numpy as np


@dataclass
class LoadReport:
    duration_s: float = 0.0
    requests: Counter[str] = field(default_factory=Counter)  # per action
    failures: Counter[str] = field(default_factory=Counter)  # per action
    errors: Counter[str] = field(default_factory=Counter)  # by HTTP status or error kind
    latencies_ms: defaultdict[str, list[float]] = field(
        default_factory=lambda: defaultdict(list), repr=False
    )

    def record(self, action: str, latency_ms: float, error: str | None) -> None:
        self.requests[action] += 1
        self.latencies_ms[action].append(latency_ms)
        if error is not None:
            self.failures[action] += 1
            self.errors[error] += 1

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    def percentile(self, q: float, action: str | None = None) -> float:
        """Latency percentile in ms, of one action or of all; 0 when nothing was sent."""
        samples = self.latencies_ms[action] if action else list(chain(*self.latencies_ms.values()))
        return float(np.percentile(samples, q)) if samples else 0.0

    def table(self) -> str:
        """Markdown: one row per action and a total, then the errors by status."""
        lines = [
            f"Load: {self.total} requests in {self.duration_s:.1f} s",
            "",
            "| action | requests | errors | p50 ms | p99 ms |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for action in sorted(self.requests):
            lines.append(self._row(action, self.requests[action], self.failures[action], action))
        lines.append(self._row("all", self.total, self.failures.total(), None))
        if self.errors:
            lines += ["", "| error | count |", "| --- | ---: |"]
            lines += [f"| {kind} | {count} |" for kind, count in sorted(self.errors.items())]
        return "\n".join(lines)

    def _row(self, name: str, requests: int, errors: int, action: str | None) -> str:
        p50, p99 = self.percentile(50, action), self.percentile(99, action)
        return f"| {name} | {requests} | {errors} | {p50:.1f} | {p99:.1f} |"
