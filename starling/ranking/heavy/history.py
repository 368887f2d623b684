"""A viewer's engagement history: the last H posts they liked, reposted or replied to
before a moment, picked for many (viewer, moment) rows at once from engagement columns.
Training reads every engagement from the store once; serving reads one viewer's from
the in-process real graph. See docs/subsystems/heavy_ranker.md#inputs.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from starling.engagements import Engagements, IdArray
from starling.model import Post
from starling.ranking.heavy.posts import shown_posts
from starling.realgraph import RealGraph
from starling.store.base import Store

HISTORY = 32  # engagements a viewer's history keeps
NOW = np.iinfo(np.int64).max  # serving reads the whole history its source keeps
TIME_BITS = 42  # ms since the oldest engagement: 139 years fit
KEEP_S = 1.0  # a viewer's history read while serving is shared this long

Positions = npt.NDArray[np.intp]
Valid = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Recent:
    """Per row, the positions of its last engagements in the engagement columns (oldest
    first, the newest last); `valid` is False where a row has fewer than H."""

    positions: Positions  # rows x H, 0 where not valid
    valid: Valid  # rows x H


def recent(engagements: Engagements, viewers: IdArray, before: IdArray, limit: int) -> Recent:
    """The last `limit` engagements of each viewer made strictly before its time."""
    rows = len(viewers)
    if not engagements.size or not rows:
        empty = np.zeros((rows, limit), dtype=np.intp)
        return Recent(empty, empty.astype(np.bool_))
    accounts, account_of = np.unique(engagements.account, return_inverse=True)
    if len(accounts) >= 1 << (63 - TIME_BITS):
        raise ValueError(f"{len(accounts)} engaging accounts are too many for one key")
    oldest = int(engagements.time.min())
    keys = (account_of.astype(np.int64) << TIME_BITS) | (engagements.time - oldest)
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    at = np.searchsorted(accounts, viewers)
    known = accounts[np.minimum(at, len(accounts) - 1)] == viewers
    first = at.astype(np.int64) << TIME_BITS
    since_oldest = np.clip(before - oldest, 0, (1 << TIME_BITS) - 1)
    start = np.searchsorted(keys, first)
    end = np.where(known, np.searchsorted(keys, first | since_oldest), start)
    wanted = end[:, None] - limit + np.arange(limit)
    valid = wanted >= start[:, None]
    positions = np.where(valid, order[np.clip(wanted, 0, len(order) - 1)], 0)
    return Recent(positions, valid)


class HistorySource(Protocol):
    """Where a viewer's recent engagements are read while serving."""

    def engagements_of(self, viewer_id: int) -> Engagements: ...


class RealGraphHistory:
    """The viewer's engagements kept by the in-process real graph (its last 24-48 h)."""

    def __init__(self, graph: RealGraph) -> None:
        self.graph = graph

    def engagements_of(self, viewer_id: int) -> Engagements:
        return self.graph.snapshot().edges_of(np.array([viewer_id], dtype=np.int64))


@dataclass(frozen=True)
class ViewerHistory:
    """One viewer's last engagements while serving, with the posts they show."""

    engagements: Engagements
    recent: Recent  # a batch of one row
    posts: dict[int, Post]  # engaged post id -> the post it shows (a repost's original)

    def post_ids(self) -> list[int]:
        """The engaged posts, each once."""
        return _engaged(self.engagements, self.recent)


def viewer_history(
    source: HistorySource, store: Store, viewer_id: int, limit: int
) -> ViewerHistory:
    """The viewer's last `limit` engagements from the source, and one store read of the
    posts they show."""
    engagements = source.engagements_of(viewer_id)
    picked = recent(engagements, np.array([viewer_id]), np.array([NOW]), limit)
    return ViewerHistory(engagements, picked, shown_posts(store, _engaged(engagements, picked)))


class Histories:
    """Viewers' histories while serving, each read once per (viewer, limit) and kept
    `keep_s`: the steps of one request (the content features, then the heavy ranker)
    share one read of the source and one store read of the posts."""

    def __init__(
        self,
        source: HistorySource,
        store: Store,
        keep_s: float = KEEP_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.source = source
        self.store = store
        self.keep_s = keep_s
        self.clock = clock
        self._kept: dict[tuple[int, int], tuple[float, ViewerHistory]] = {}
        self._lock = threading.Lock()

    def of(self, viewer_id: int, limit: int) -> ViewerHistory:
        now, key = self.clock(), (viewer_id, limit)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.keep_s:
            return kept[1]
        found = viewer_history(self.source, self.store, viewer_id, limit)
        with self._lock:
            self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self.keep_s}
            self._kept[key] = (now, found)
        return found


def _engaged(engagements: Engagements, picked: Recent) -> list[int]:
    ids: list[int] = np.unique(engagements.post[picked.positions[picked.valid]]).tolist()
    return ids
