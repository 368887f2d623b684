"""Runs one benchmark per cache backend: in-process, then a private Redis."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starling.localredis import private_redis

Result = dict[str, Any]


def per_backend(names: str, bench: Callable[[str, str | None], Result]) -> list[Result]:
    """`names` is a comma list of 'memory' and 'redis'; bench(name, redis_url) each."""
    results = []
    for name in names.split(","):
        if name == "memory":
            results.append(bench(name, None))
        else:
            with tempfile.TemporaryDirectory() as tmp, private_redis(Path(tmp)) as url:
                results.append(bench(name, url))
    return results
