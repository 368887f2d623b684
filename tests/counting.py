"""Counts calls made through an object, to pin hot paths by calls instead of time."""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis


class Counting:
    """Proxy that forwards every attribute and counts method calls by name."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.calls: Counter[str] = Counter()

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if not callable(value):
            return value

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            return value(*args, **kwargs)

        return counted

    def total(self) -> int:
        return sum(self.calls.values())

    def reset(self) -> None:
        self.calls.clear()


class CountingConnection(redis.Connection):
    """Counts writes to the socket per server port: a script call or a pipeline to one
    server is one write, so one round trip."""

    sends: Counter[int] = Counter()

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        type(self).sends[self.port] += 1
        super().send_packed_command(command, check_health)  # type: ignore[no-untyped-call]
