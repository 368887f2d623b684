"""The in-network candidate source (seed: `get_in_network_candidates`): the viewer's
pushed timeline, the latest 20 posts of each followed celebrity, and the latest posts of
accounts followed in the last five minutes (read-your-writes), newest first. While the
cache is unavailable the candidates come from the store, as a rebuild reads them, and
nothing is written to the cache. See docs/subsystems/mixer.md and home.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from starling.activity import ActivityMarks
from starling.cache.backends import CacheBackends
from starling.cache.errors import CacheUnavailable, degraded
from starling.ids import now_ms
from starling.mixer.candidates import Candidates
from starling.mixer.components import Source
from starling.mixer.quality import scaled
from starling.mixer.query import Page, Query
from starling.store.base import IdArray, Store

CELEBRITY_POSTS = 20
RECENT_FOLLOW_MS = 5 * 60 * 1000
RECENT_FOLLOW_POSTS = 20
REBUILD_POSTS_PER_AUTHOR = 40
TIMEOUT_S = 2.0  # a guard: a read normally takes milliseconds, a rebuild tens of them

EnsureTimeline = Callable[[int, IdArray], None]


class InNetworkSource(Source[Query]):
    id = "in-network"
    timeout_s = TIMEOUT_S

    def __init__(
        self,
        store: Store,
        cache: CacheBackends,
        activity: ActivityMarks,
        ensure_timeline: EnsureTimeline,
        candidates: int | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.activity = activity
        self.ensure_timeline = ensure_timeline
        self.candidates = candidates  # how many to fetch; None: enough for the page

    def fetch(self, query: Query) -> Candidates:
        return self.fetch_scaled(query, 1.0)

    def fetch_scaled(self, query: Query, quality: float) -> Candidates:
        # Over-fetch: some entries are filtered out (deleted, unfollowed, duplicate source).
        # With min_id the page sits just above it, so every newer entry is a candidate;
        # otherwise the pushed entries' over-fetch bounds the whole merge: only the newest
        # `fetch` candidates can make the page, however many celebrities and follows add.
        bounded = query.page.min_id is None
        fetch = 2 * query.page.limit + 20 if bounded else self.cache.timelines.capacity
        fetch = scaled(self.candidates, quality) if self.candidates else fetch
        try:
            ids = self._cached(query.viewer_id, query.following, query.page, fetch)
        except CacheUnavailable as exc:
            degraded("home_read", exc)
            ids = self._stored(query.viewer_id, query.following, query.page, fetch)
        return Candidates.of(ids[:fetch] if bounded else ids)

    def _cached(self, viewer_id: int, following: IdArray, page: Page, fetch: int) -> list[int]:
        ids: set[int] = set(self._pushed(viewer_id, following, page, fetch))
        celebrities = self.cache.celebrities.celebrities_among(following)
        if len(celebrities):
            latest = self.cache.celebrities.latest(celebrities, CELEBRITY_POSTS, page.max_id)
            ids.update(int(i) for i in latest)
        recent = self.store.follows_since(viewer_id, now_ms() - RECENT_FOLLOW_MS)
        if recent:
            posts = self.store.latest_posts_by_authors(recent, RECENT_FOLLOW_POSTS, page.max_id)
            ids.update(p.id for p in posts)
        return _newest_above(ids, page.lower)

    def _pushed(self, viewer_id: int, following: IdArray, page: Page, fetch: int) -> list[int]:
        """The viewer's pushed entries. A recently active viewer's timeline is read at once
        (one cache round trip); a missing one, or an inactive viewer's, is rebuilt first."""
        timelines = self.cache.timelines
        if self.activity.recently_touched(viewer_id):
            pushed = timelines.range(viewer_id, max_id=page.max_id, min_id=page.lower, limit=fetch)
            if pushed is not None:
                return pushed
        self.ensure_timeline(viewer_id, following)
        pushed = timelines.range(viewer_id, max_id=page.max_id, min_id=page.lower, limit=fetch)
        return pushed or []

    def _stored(self, viewer_id: int, following: IdArray, page: Page, fetch: int) -> list[int]:
        """Without the cache: the newest posts of every followed account and the viewer,
        read from the store as a rebuild reads them (celebrities and recent follows
        included), below max_id; the filters and repost dedup that follow are the same."""
        per_author = min(fetch, REBUILD_POSTS_PER_AUTHOR)
        posts = self.store.latest_posts_by_authors(
            timeline_authors(viewer_id, following), per_author, page.max_id
        )
        return _newest_above({p.id for p in posts}, page.lower)


def timeline_authors(viewer_id: int, following: IdArray) -> Sequence[int]:
    """Whose posts a timeline holds: every followed account and the viewer."""
    return [*following.tolist(), viewer_id]


def _newest_above(ids: set[int], lower: int | None) -> list[int]:
    return sorted((i for i in ids if lower is None or i > lower), reverse=True)
