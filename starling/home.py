"""The Following (home) timeline: pushed entries merged with pulled ones at read time
(seed: Deep Dive 2 read-time merge, Race Condition 2), declared as a pipeline on the
mixer's runner (docs/subsystems/mixer.md).

One read: the follow set; the in-network source (the viewer's pushed timeline, the
latest 20 posts of each followed celebrity, the latest posts of accounts followed in the
last five minutes, or the store while the cache is unavailable); every candidate
hydrated in one store call; filtered (deleted, not followed, repost of a deleted
original, by or reposting an author the viewer blocked or muted or who blocks the viewer)
and deduplicated by source post with the best reposter kept; newest first,
paged. A missing or stale timeline is rebuilt from the store, once per viewer however
many requests race (single-flight). See docs/subsystems/home.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable

from starling import metrics
from starling.activity import ActivityMarks
from starling.cache.backends import CacheBackends
from starling.config import Settings
from starling.ids import id_at, now_ms
from starling.mixer import Mixed, Page, Pipeline, Query, Runner
from starling.mixer.chronological import Chronological
from starling.mixer.filters import Live, LiveOriginals, NotHidden, RepostDedup, Visible
from starling.mixer.follows import FollowSet
from starling.mixer.in_network import REBUILD_POSTS_PER_AUTHOR, InNetworkSource, timeline_authors
from starling.mixer.posts import PostRecords
from starling.mixer.reposters import BestReposter
from starling.model import Post
from starling.store.base import IdArray, Store
from starling.visibility import reaches_followers

REBUILD_CATCH_UP_SLACK_MS = 5_000
LOCK_STRIPES = 64


class HomeTimeline:
    def __init__(
        self, store: Store, cache: CacheBackends, activity: ActivityMarks, settings: Settings
    ) -> None:
        self.store = store
        self.cache = cache
        self.activity = activity
        self.settings = settings
        self._locks = [threading.Lock() for _ in range(LOCK_STRIPES)]
        self.rebuilds = 0
        self.runner = Runner(self._pipeline())

    def _pipeline(self) -> Pipeline[Query]:
        """The Following timeline, declared: chronological, in-network only."""
        store = self.store
        return Pipeline(
            product="following",
            query_hydrators=[FollowSet(store)],
            sources=[InNetworkSource(store, self.cache, self.activity, self.ensure_timeline)],
            hydrators=[PostRecords(store)],
            filters=[Live(), Visible(), RepostDedup(), LiveOriginals(), NotHidden(store)],
            post_filter_hydrators=[BestReposter(store)],
            selectors=[Chronological()],
        )

    def read(
        self,
        viewer_id: int,
        *,
        max_id: int | None = None,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = 20,
    ) -> list[Post]:
        started = time.perf_counter()
        mixed = self.mix(Query(viewer_id, Page(max_id, since_id, min_id, limit)))
        metrics.TIMELINE_READ_SECONDS.observe(time.perf_counter() - started)
        return mixed.candidates.records()

    def mix(self, query: Query) -> Mixed[Query]:
        """One run of the pipeline: the page's candidates and the trace of every step."""
        return self.runner.run(query)

    def ensure_timeline(self, viewer_id: int, following: IdArray) -> None:
        """Rebuild when missing, or when the viewer was inactive (pushes skipped them)."""
        fresh = self.activity.recently_touched(viewer_id)
        if fresh and self.cache.timelines.exists(viewer_id):
            return
        with self._locks[viewer_id % LOCK_STRIPES]:
            if not fresh and self._was_inactive(viewer_id):
                self.cache.timelines.delete([viewer_id])
            if not self.cache.timelines.exists(viewer_id):
                self._rebuild(viewer_id, following)
            self.activity.touch(viewer_id)

    def _was_inactive(self, viewer_id: int) -> bool:
        account = self.store.get_accounts([viewer_id]).get(viewer_id)
        cutoff = self.settings.active_since()
        return account is None or account.last_active_at < cutoff

    def _rebuild(self, viewer_id: int, following: IdArray) -> None:
        # Fan-out skips a timeline that does not exist yet, so a post fanned out between
        # the read below and the replace would be lost: catch up on posts newer than the
        # read (with slack for ids taken before their commit) once the timeline exists.
        caught_up_from = id_at(now_ms() - REBUILD_CATCH_UP_SLACK_MS)
        authors = timeline_authors(viewer_id, following)
        posts = self.store.latest_posts_by_authors(authors, REBUILD_POSTS_PER_AUTHOR)
        self.cache.timelines.replace(viewer_id, _entries(posts, self.cache.timelines.capacity))
        newer = self.store.post_ids_by_authors(authors, caught_up_from)
        if len(newer):
            late = self.store.get_posts(newer.tolist()).values()
            live = [p for p in late if p.deleted_at is None]
            self.cache.timelines.merge(viewer_id, _entries(live, len(live)))
        self.rebuilds += 1


def _entries(posts: Iterable[Post], limit: int) -> list[tuple[int, int]]:
    """(entry, source) pairs of a timeline, newest first: no direct posts, one per source."""
    entries: list[tuple[int, int]] = []
    seen_sources: set[int] = set()
    for post in sorted(posts, key=lambda p: p.id, reverse=True):
        if not reaches_followers(post.visibility) or post.source_id in seen_sources:
            continue
        seen_sources.add(post.source_id)
        entries.append((post.id, post.source_id))
        if len(entries) == limit:
            break
    return entries
