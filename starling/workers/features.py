"""Feature store worker: keeps the in-process feature state (starling/ranking/state.py)
current from the log.

Accounts bring their declared bot flag; posts, reposts and replies count for their
authors; likes, reposts and open replies count for the post engaged with, its author and
the engaging account; unlikes, deleted posts, reposts and replies are uncounted. Applying
twice changes nothing (the state counts each post and each engagement once). On start the
state is rebuilt from the store's posts and engagements of the window, so nothing is lost
with the process; the log's events since the worker's committed offset then replay over
it idempotently. See docs/subsystems/ranking.md#feature-store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import numpy as np

from starling.engagements import EngagementKind, Engagements
from starling.eventlog.base import EventLog
from starling.events import (
    AccountCreated,
    Event,
    LikeCreated,
    LikeDeleted,
    PostCreated,
    PostDeleted,
)
from starling.ids import id_at, now_ms
from starling.model import Post
from starling.ranking.columns import Ids
from starling.ranking.state import FeatureState
from starling.store.base import Store
from starling.workers.base import EventWorker
from starling.workers.realgraph import engagement_of

REBUILD_CHUNK = 50_000
ACCOUNT_CHUNK = 10_000


class FeatureWorker(EventWorker):
    name = "features"

    def __init__(
        self,
        log: EventLog,
        store: Store,
        state: FeatureState,
        clock: Callable[[], int] = now_ms,
    ) -> None:
        super().__init__(log)
        self.store = store
        self.state = state
        self.clock = clock

    def rebuild(self) -> int:
        """Loads the window's posts and engagements from the store; returns how many
        posts the state took."""
        since = self.clock() - self.state.params.window_ms
        added, authors = 0, set[int]()
        for chunk in self.store.iter_posts(id_at(since), REBUILD_CHUNK):
            live = [p for p in chunk if p.deleted_at is None]
            added += self._add_posts(live)
            authors.update(p.author_id for p in live)
        self._load_bots(sorted(authors))
        found = Engagements.concat(self.store.iter_engagements(since, REBUILD_CHUNK))
        self.state.add_engagements(found.take(np.argsort(found.time, kind="stable")))
        return added

    def apply(self, events: list[Event]) -> None:
        # Runs of one event type in log order, each applied as one batch.
        start = 0
        for end in range(1, len(events) + 1):
            if end == len(events) or type(events[end]) is not type(events[start]):
                self._apply_run(events[start:end])
                start = end

    def tick(self) -> None:
        self.state.compact(self.clock())

    def _apply_run(self, run: Sequence[Event]) -> None:
        first = run[0]
        if isinstance(first, AccountCreated):
            accounts = [e for e in run if isinstance(e, AccountCreated)]
            self.state.set_bots(_ids(a.id for a in accounts), np.array([a.bot for a in accounts]))
        elif isinstance(first, PostCreated | PostDeleted):
            posts = [e for e in run if isinstance(e, PostCreated | PostDeleted)]
            ids, authors = _ids(p.id for p in posts), _ids(p.author_id for p in posts)
            tags = _ids(len(p.hashtags) for p in posts)
            edges = Engagements.of_rows([e for p in posts if (e := engagement_of(p))])
            if isinstance(first, PostCreated):
                self.state.set_bots(authors, np.array([p.author_bot for p in posts]))
                self.state.add_posts(ids, authors, tags)
                self.state.add_engagements(edges)
            else:
                self.state.delete_posts(ids, authors, tags)
                self.state.remove_engagements(edges)
        elif isinstance(first, LikeCreated | LikeDeleted):
            likes = Engagements.of_rows(
                [
                    (e.actor_id, e.post_id, e.post_author_id, EngagementKind.LIKE, e.created_at)
                    for e in run
                    if isinstance(e, LikeCreated | LikeDeleted)
                ]
            )
            if isinstance(first, LikeCreated):
                self.state.add_engagements(likes)
            else:
                self.state.remove_engagements(likes)

    def _add_posts(self, posts: Sequence[Post]) -> int:
        return self.state.add_posts(
            _ids(p.id for p in posts),
            _ids(p.author_id for p in posts),
            _ids(len(p.hashtags) for p in posts),
        )

    def _load_bots(self, account_ids: list[int]) -> None:
        for i in range(0, len(account_ids), ACCOUNT_CHUNK):
            accounts = self.store.get_accounts(account_ids[i : i + ACCOUNT_CHUNK])
            ids = _ids(accounts)
            self.state.set_bots(ids, np.array([accounts[a].bot for a in accounts], dtype=np.bool_))


def _ids(values: Iterable[int]) -> Ids:
    return np.fromiter(values, dtype=np.int64)
