"""Runs one benchmark per cache backend: in-process, a private Redis, a private Redis
Cluster of three masters."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from starling.localredis import private_redis, private_redis_cluster

Result = dict[str, Any]
SERVERS: dict[str, Callable[[Path], AbstractContextManager[str]]] = {
    "redis": private_redis,
    "cluster": private_redis_cluster,
}


def per_backend(names: str, bench: Callable[[str, str | None], Result]) -> list[Result]:
    """`names` is a comma list of 'memory', 'redis' and 'cluster'; bench(name, redis_url)
    each (redis_url is None in-process, else a node of the private servers)."""
    results = []
    for name in names.split(","):
        if name == "memory":
            results.append(bench(name, None))
        else:
            with tempfile.TemporaryDirectory() as tmp, SERVERS[name](Path(tmp)) as url:
                results.append(bench(name, url))
    return results
