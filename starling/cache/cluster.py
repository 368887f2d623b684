"""The Redis roles on a Redis Cluster: keyless scripts run once per master, over the hash
tags whose slots that master serves. See docs/subsystems/cache.md.
"""

from __future__ import annotations

from binascii import crc_hqx
from collections.abc import Sequence
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.crc import REDIS_CLUSTER_HASH_SLOTS

from starling.cache.servers import Arg, joined

# A script runs only on keys of its own node; this is the error when it was sent to a
# node that no longer serves a slot (the cluster was resharded).
NON_LOCAL_KEY = "non local key"


def tag_slot(tag: int) -> int:
    """The hash slot of every key whose hash tag is `{tag}`."""
    return crc_hqx(b"%d" % tag, 0) % REDIS_CLUSTER_HASH_SLOTS


class ClusterServers:
    def __init__(self, client: RedisCluster) -> None:
        self.client = client

    def eval_by_tag(self, script: str, tags: Sequence[int], args: Sequence[Arg]) -> list[Any]:
        # One pipeline: it writes to every node before reading any reply, so the nodes
        # run their scripts at the same time.
        pipe = self.client.pipeline(transaction=False)  # type: ignore[no-untyped-call]
        for name, held in self.by_node(tags).items():
            node = self.client.get_node(node_name=name)  # type: ignore[no-untyped-call]
            pipe.execute_command("EVAL", script, 0, *args, joined(held), target_nodes=node)
        try:
            replies: list[Any] = pipe.execute()
        except redis.ResponseError as exc:
            if NON_LOCAL_KEY in str(exc):
                self.client.nodes_manager.initialize()  # the next attempt routes afresh
            raise
        return replies

    def by_node(self, tags: Sequence[int]) -> dict[str, list[int]]:
        """The tags grouped by the name of the master serving their slot, as the client
        last saw the slot map (redis-py refreshes it on MOVED replies)."""
        slots = self.client.nodes_manager.slots_cache  # slot -> [master, replicas...]
        groups: dict[str, list[int]] = {}
        for tag in tags:  # keyed by name: a str caches its hash, a ClusterNode computes it
            groups.setdefault(slots[tag_slot(tag)][0].name, []).append(tag)
        return groups

    def info(self, section: str) -> list[dict[str, Any]]:
        per_node = self.client.info(section, target_nodes=RedisCluster.PRIMARIES)
        return list(per_node.values())

    def close(self) -> None:
        self.client.close()
        # Closing leaves the nodes' pooled sockets open until garbage collection.
        self.client.disconnect_connection_pools()  # type: ignore[no-untyped-call]
