"""Post records kept in process for ranking: the last posts read, by id, in front of the
store. A post's record changes only when the post is deleted (no post is edited; counts
are served from the counters), so a kept record can only be behind on a deletion; a page
is re-read from the store before it is served, which is where a deletion must be seen
(`fresh`). See docs/subsystems/foryou.md."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from starling.mixer.kept import Kept
from starling.model import Post

KEPT_POSTS = 262_144  # ~190 MB at ~720 B a record; 200 viewers' candidates need ~175,000


class PostReader(Protocol):
    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        """Includes tombstoned posts (deleted_at set); callers filter."""


class KeptRecords:
    """The newest `capacity` records read (mixer.kept.Kept); 0 keeps none."""

    def __init__(self, store: PostReader, capacity: int = KEPT_POSTS) -> None:
        self.store = store
        self._kept: Kept[Post] = Kept(capacity)
        self.hits = 0
        self.misses = 0
        self.fresh = _FreshRecords(self)

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        wanted = list(ids)
        found: dict[int, Post] = {}
        missing: list[int] = []
        for post_id, post in zip(wanted, self._kept.many(wanted), strict=True):
            if post is None:
                missing.append(post_id)
            else:
                found[post_id] = post
        self.hits += len(found)
        self.misses += len(missing)
        if missing:
            read = self.store.get_posts(missing)
            self.keep(read.values())
            found |= read
        return found

    def keep(self, posts: Iterable[Post]) -> None:
        self._kept.put((post.id, post) for post in posts)

    def __len__(self) -> int:
        return len(self._kept)


class _FreshRecords:
    """Reads from the store and replaces what was kept for those posts, so a deletion
    seen here is not ranked again."""

    def __init__(self, records: KeptRecords) -> None:
        self._records = records

    def get_posts(self, ids: Iterable[int]) -> dict[int, Post]:
        read = self._records.store.get_posts(ids)
        self._records.keep(read.values())
        return read
