"""The feature store's state: in-process numpy columns kept current from the event log
(the architecture's "feature state (in-process columns)").

Posts: like, repost and reply counts and their forward-decayed rates over 1 h and 24 h.
Accounts: the declared bot flag, posts and hashtags in the window, engagement received
(for reputation) and given (for a viewer's activity), and the posting rate. Forward decay
(Cormode et al.): an event at t adds exp((t - landmark) / tau), and a read at `now`
multiplies by exp(-(now - landmark) / tau), so no stored value is ever decayed in a pass;
the landmark moves (every value rescaled) before the exponent nears float64's range.

Applying is idempotent: a post is counted once, when its row is created; an engagement
once, remembered by a hash of (account, post, kind) with its time, so that an undo
subtracts exactly what was added. The memory is bounded (the newest `applied_capacity`), enough for
anything the log can re-deliver. One writer (the worker) and many readers (requests)
share a lock; each read is one vectorised lookup for a whole batch.
See docs/subsystems/ranking.md#feature-store.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from itertools import islice

import numpy as np
import numpy.typing as npt

from starling.engagements import EngagementKind, Engagements
from starling.ids import SEQUENCE_BITS
from starling.ranking.columns import Ids, IdTable, Matrix
from starling.window import WINDOW_MS

HOUR_MS = 3_600_000
TAUS_MS = {"1h": HOUR_MS, "24h": 24 * HOUR_MS}
REBASE_AFTER = 300.0  # e-foldings of the shortest tau before the landmark moves

KINDS = {
    EngagementKind.LIKE: "likes",
    EngagementKind.REPOST: "reposts",
    EngagementKind.REPLY: "replies",
}
_DECAYED = tuple(f"{kind}_{tau}" for kind in KINDS.values() for tau in TAUS_MS)
POST_COLUMNS = ("likes", "reposts", "replies", *_DECAYED, "deleted")
ACCOUNT_COLUMNS = (
    "bot",
    "posts",
    "posts_24h",
    "hashtags",
    "likes_received",
    "reposts_received",
    "replies_received",
    "engagements_24h",
)
# What a post read answers, per post (names without the "post_" of the feature table).
POST_READ = (*KINDS.values(), *_DECAYED, "engagements_per_hour")
# What an account read answers, per account.
ACCOUNT_READ = (
    "bot",
    "posts",
    "posts_per_day",
    "likes_per_post",
    "reposts_per_post",
    "replies_per_post",
    "hashtags_per_post",
    "engagements_per_day",
)


@dataclass(frozen=True)
class StateParams:
    window_ms: int = WINDOW_MS  # posts older than this are no candidates: compacted away
    applied_capacity: int = 1_000_000  # engagements remembered against re-delivery


class FeatureState:
    def __init__(self, params: StateParams | None = None, landmark_ms: int = 0) -> None:
        self.params = params or StateParams()
        self.posts = IdTable(POST_COLUMNS)
        self.accounts = IdTable(ACCOUNT_COLUMNS)
        self.landmark_ms = landmark_ms
        # hash((account, post, kind)) -> time; insertion-ordered, bounded.
        self._applied: dict[int, int] = {}
        self._lock = threading.Lock()

    # -- writes (the worker) --

    def set_bots(self, account_ids: Ids, bots: npt.NDArray[np.bool_]) -> None:
        """The bot flag each account declares."""
        with self._lock:
            rows = self.accounts.ensure(account_ids)
            self.accounts.values[rows, self.accounts.column["bot"]] = bots

    def add_posts(self, post_ids: Ids, author_ids: Ids, hashtags: Ids) -> int:
        """Counts new posts (reposts and replies too) for their authors; a post already
        counted is skipped. Returns how many were new."""
        with self._lock:
            new = self.posts.rows(post_ids) < 0
            new &= _first_of_each(post_ids)
            if not new.any():
                return 0
            self.posts.ensure(post_ids[new])
            created = post_ids[new] >> SEQUENCE_BITS
            self._rebase_for(int(created.max()))
            rows = self.accounts.ensure(author_ids[new])
            self._add(self.accounts, rows, "posts", np.ones(len(rows)))
            self._add(self.accounts, rows, "hashtags", hashtags[new].astype(np.float64))
            self._add(self.accounts, rows, "posts_24h", self._weights(created, "24h"))
            return int(new.sum())

    def delete_posts(self, post_ids: Ids, author_ids: Ids, hashtags: Ids) -> None:
        """Uncounts deleted posts (once; posts not in the window are ignored)."""
        with self._lock:
            rows = self.posts.rows(post_ids)
            deleted = self.posts.column["deleted"]
            live = (rows >= 0) & _first_of_each(post_ids)
            live[live] = self.posts.values[rows[live], deleted] == 0
            if not live.any():
                return
            self.posts.values[rows[live], deleted] = 1.0
            created = post_ids[live] >> SEQUENCE_BITS
            authors = self.accounts.ensure(author_ids[live])
            self._add(self.accounts, authors, "posts", -np.ones(len(authors)))
            self._add(self.accounts, authors, "hashtags", -hashtags[live].astype(np.float64))
            self._add(self.accounts, authors, "posts_24h", -self._weights(created, "24h"))

    def add_engagements(self, found: Engagements) -> int:
        """Counts likes, reposts and replies not counted yet; returns how many."""
        with self._lock:
            keys = _keys(found)
            new = np.array([k not in self._applied for k in keys], dtype=np.bool_)
            new &= _first_of_each_key(keys)
            for key, at in zip(
                [k for k, n in zip(keys, new.tolist(), strict=True) if n],
                found.time[new].tolist(),
                strict=True,
            ):
                self._applied[key] = at
            self._forget_oldest()
            if new.any():
                self._rebase_for(int(found.time[new].max()))
                self._count(found.take(new), 1.0)
            return int(new.sum())

    def remove_engagements(self, found: Engagements) -> None:
        """Uncounts undone engagements (an unlike, a deleted repost or reply) that were
        counted, with the weight they were counted with."""
        with self._lock:
            keys = _keys(found)
            times = [self._applied.pop(k, None) for k in keys]
            counted = np.array([t is not None for t in times], dtype=np.bool_)
            if counted.any():
                undone = found.take(counted)
                at = np.array([t for t in times if t is not None], dtype=np.int64)
                self._count(
                    Engagements(undone.account, undone.post, undone.author, undone.kind, at), -1.0
                )

    def compact(self, now_ms: int) -> None:
        """Drops the rows of posts older than the window."""
        with self._lock:
            recent = (self.posts.ids >> SEQUENCE_BITS) >= now_ms - self.params.window_ms
            if not recent.all():  # the worker's idle tick: usually nothing to drop
                self.posts.keep(recent)

    # -- reads (requests), one call for a whole batch --

    def read_posts(self, post_ids: Ids, now_ms: int) -> Matrix:
        """(len(post_ids) x len(POST_READ)): counts, decayed rates per hour, and the
        lifetime engagement rate per hour; zeros for posts not in the state."""
        with self._lock:
            block = self.posts.read(post_ids, POST_COLUMNS)
            landmark = self.landmark_ms
        out = np.zeros((len(post_ids), len(POST_READ)))
        counts = block[:, :3]
        out[:, :3] = counts
        for i, name in enumerate(_DECAYED):
            tau = TAUS_MS[name.rsplit("_", 1)[1]]
            out[:, 3 + i] = block[:, 3 + i] * _decay(now_ms, landmark, tau) * (HOUR_MS / tau)
        age_hours = np.maximum(now_ms - (post_ids >> SEQUENCE_BITS), HOUR_MS) / HOUR_MS
        out[:, -1] = counts.sum(axis=1) / age_hours
        return out

    def read_accounts(self, account_ids: Ids, now_ms: int) -> Matrix:
        """(len(account_ids) x len(ACCOUNT_READ)): reputation and activity; zeros for
        accounts the state has not seen."""
        with self._lock:
            block = self.accounts.read(account_ids, ACCOUNT_COLUMNS)
            landmark = self.landmark_ms
        col = {name: block[:, i] for i, name in enumerate(ACCOUNT_COLUMNS)}
        per_day = _decay(now_ms, landmark, TAUS_MS["24h"])  # a 24 h tau: events per day
        posts = np.maximum(col["posts"], 1.0)
        return np.stack(
            [
                col["bot"],
                col["posts"],
                col["posts_24h"] * per_day,
                col["likes_received"] / posts,
                col["reposts_received"] / posts,
                col["replies_received"] / posts,
                col["hashtags"] / posts,
                col["engagements_24h"] * per_day,
            ],
            axis=1,
        )

    # -- inside the lock --

    def _count(self, found: Engagements, sign: float) -> None:
        posts = self.posts.ensure(found.post)
        received = self.accounts.ensure(found.author)
        actors = self.accounts.ensure(found.account)
        ones = np.full(found.size, sign)
        self._add(self.accounts, actors, "engagements_24h", sign * self._weights(found.time, "24h"))
        for kind, name in KINDS.items():
            of_kind = found.kind == kind
            if not of_kind.any():
                continue
            self._add(self.posts, posts[of_kind], name, ones[of_kind])
            self._add(self.accounts, received[of_kind], f"{name}_received", ones[of_kind])
            for tau in TAUS_MS:
                weights = sign * self._weights(found.time[of_kind], tau)
                self._add(self.posts, posts[of_kind], f"{name}_{tau}", weights)

    def _weights(self, times: Ids, tau: str) -> npt.NDArray[np.float64]:
        return np.exp((times - self.landmark_ms) / TAUS_MS[tau])

    def _rebase_for(self, at_ms: int) -> None:
        """Moves the landmark to `at_ms` once exp((at - landmark) / 1 h) grows large."""
        if self.landmark_ms == 0:
            self.landmark_ms = at_ms
            return
        if (at_ms - self.landmark_ms) / TAUS_MS["1h"] < REBASE_AFTER:
            return
        shift = at_ms - self.landmark_ms
        for table in (self.posts, self.accounts):
            for name in table.columns:
                tau = name.rsplit("_", 1)[-1]
                if tau in TAUS_MS:
                    table.values[:, table.column[name]] *= np.exp(-shift / TAUS_MS[tau])
        self.landmark_ms = at_ms

    def _forget_oldest(self) -> None:
        """Past the capacity, keeps the newest three quarters of it in one pass (deleting
        from the front one at a time makes each next lookup of the front slower)."""
        applied, capacity = self._applied, self.params.applied_capacity
        if len(applied) > capacity:
            kept = capacity * 3 // 4
            self._applied = dict(islice(applied.items(), len(applied) - kept, None))

    @staticmethod
    def _add(table: IdTable, rows: npt.NDArray[np.intp], name: str, values: Matrix) -> None:
        np.add.at(table.values[:, table.column[name]], rows, values)


def _decay(now_ms: int, landmark_ms: int, tau_ms: int) -> float:
    return float(np.exp(-(now_ms - landmark_ms) / tau_ms))


def _keys(found: Engagements) -> list[int]:
    """One int per engagement: the hash of (account, post, kind), 64 bits (collisions
    are negligible) and a third of a tuple's memory."""
    rows = zip(found.account.tolist(), found.post.tolist(), found.kind.tolist(), strict=True)
    return [hash(row) for row in rows]


def _first_of_each(ids: Ids) -> npt.NDArray[np.bool_]:
    """The first occurrence of each id (a batch may hold a re-delivered event twice)."""
    first = np.zeros(len(ids), dtype=np.bool_)
    first[np.unique(ids, return_index=True)[1]] = True
    return first


def _first_of_each_key(keys: list[int]) -> npt.NDArray[np.bool_]:
    seen: set[int] = set()
    first = np.zeros(len(keys), dtype=np.bool_)
    for i, key in enumerate(keys):
        if key not in seen:
            seen.add(key)
            first[i] = True
    return first
