"""Where the Redis roles' keys live: one server here, the masters of a Redis Cluster in
cluster.py.

Both give the roles a redis-py client with the same commands and pipelines; what differs
is how a script that builds its own keys from hash tags reaches the server holding them
(`eval_by_tag`), and where INFO is read. See docs/subsystems/cache.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import redis
from redis.cluster import RedisCluster

Client = redis.Redis | RedisCluster
Arg = str | int


class Servers(Protocol):
    @property
    def client(self) -> Client:
        """The redis-py client every role shares."""

    def eval_by_tag(self, script: str, tags: Sequence[int], args: Sequence[Arg]) -> list[Any]:
        """Runs a script that names no KEYS once per server, with ARGV = args plus the
        tags held by that server (space-separated, as one argument); returns the replies.

        The script must build every key it touches around one of those tags
        (`...{tag}...`), so that each key lives on the server it runs on."""

    def info(self, section: str) -> list[dict[str, Any]]:
        """INFO section of every server (every master of a cluster)."""

    def close(self) -> None:
        """Closes the client's connections (idempotent)."""


class OneServer:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def eval_by_tag(self, script: str, tags: Sequence[int], args: Sequence[Arg]) -> list[Any]:
        return [self.client.eval(script, 0, *args, joined(tags))]

    def info(self, section: str) -> list[dict[str, Any]]:
        return [self.client.info(section)]

    def close(self) -> None:
        self.client.close()


def joined(tags: Sequence[int]) -> str:
    """Tags as one script argument: encoding thousands of separate arguments costs the
    client more than the server spends on them."""
    return " ".join(map(str, tags))
