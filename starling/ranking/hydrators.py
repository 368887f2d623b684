"""For You's light-feature hydrators: each fills one group of columns of
`Candidates.features` (starling/ranking/features.py) with one read for the whole batch:
the feature store's post and account columns, the real graph's affinity, SimClusters
and TwHIN cosines, and what the batch, the query and the clock already tell.
See docs/subsystems/ranking.md#features.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from starling.foryou.filters import Clock
from starling.foryou.sources import in_network
from starling.mixer.candidates import Candidates, Matrix, among
from starling.mixer.components import Hydrator
from starling.mixer.query import Query
from starling.model import Post
from starling.ranking.content import ContentReader
from starling.ranking.features import of_group
from starling.ranking.heavy.posts import shown_in
from starling.ranking.simclusters import SimClustersReader
from starling.ranking.state import ACCOUNT_READ, FeatureState
from starling.ranking.twhin import TwhinReader
from starling.realgraph import RealGraph, affinity

HOUR_MS = 3_600_000
RECENCY_HALF_LIFE_H = 6.0
LINK_MARKERS = ("http://", "https://")
# The columns of an account read that become author_* and viewer_* features.
AUTHOR_COLUMNS = [ACCOUNT_READ.index(c) for c in ACCOUNT_READ if c != "engagements_per_day"]
VIEWER_COLUMNS = [ACCOUNT_READ.index(c) for c in ("posts_per_day", "engagements_per_day")]


class PostFeatures(Hydrator[Query]):
    """Engagement counts and velocity of each row's source post: one state read."""

    id = "post-features"
    names = of_group(id)

    def __init__(self, state: FeatureState, clock: Clock) -> None:
        self.state, self.clock = state, clock

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        block = self.state.read_posts(candidates.source_id, self.clock())
        return candidates.with_features(self.names, block)


class AccountFeatures(Hydrator[Query]):
    """The authors' reputation and the viewer's activity: one state read of the authors
    and the viewer together."""

    id = "account-features"
    names = of_group(id)

    def __init__(self, state: FeatureState, clock: Clock) -> None:
        self.state, self.clock = state, clock

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        asked = np.append(candidates.author_id, np.int64(query.viewer_id))
        block = self.state.read_accounts(asked, self.clock())
        authors, viewer = block[:-1, AUTHOR_COLUMNS], block[-1, VIEWER_COLUMNS]
        return candidates.with_features(
            self.names, np.hstack([authors, np.tile(viewer, (len(candidates), 1))])
        )


class Affinity(Hydrator[Query]):
    """How much the viewer engaged with each author lately: one real-graph read."""

    id = "affinity"
    names = of_group(id)

    def __init__(self, graph: RealGraph) -> None:
        self.graph = graph

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        found = affinity(self.graph, query.viewer_id, candidates.author_id)
        return candidates.with_features(self.names, found[:, None])


class SimClustersFeatures(Hydrator[Query]):
    """Cosines between the viewer's InterestedIn and each author's, the viewer's
    interest in each author's KnownFor cluster, and the cosine with each post's vector:
    one read of the communities and one of the post vectors."""

    id = "simclusters-features"
    names = of_group(id)

    def __init__(self, reader: SimClustersReader) -> None:
        self.reader = reader

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        block = self.reader.features(query.viewer_id, candidates.author_id, candidates.source_id)
        return candidates.with_features(self.names, block)


class TwhinFeatures(Hydrator[Query]):
    """Cosines between the viewer's TwHIN embedding and each author's, and each post's
    (its author's and engagers' embeddings): one read of the embeddings and one of the
    real graph."""

    id = "twhin-features"
    names = of_group(id)

    def __init__(self, reader: TwhinReader) -> None:
        self.reader = reader

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        block = self.reader.features(query.viewer_id, candidates.author_id, candidates.source_id)
        return candidates.with_features(self.names, block)


class ContentFeatures(Hydrator[Query]):
    """The cosine of each shown post's words with the viewer's recent engagements':
    one read of the viewer's history and one store read of its posts."""

    id = "content-features"
    names = of_group(id)

    def __init__(self, reader: ContentReader) -> None:
        self.reader = reader

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        found = self.reader.similarity(query.viewer_id, shown_in(candidates))
        return candidates.with_features(self.names, found[:, None])


class CandidateFeatures(Hydrator[Query]):
    """What the batch, the query and the clock tell without a read: source and social
    proof, recency, content type, the viewer's follows, the time of day and week."""

    id = "candidate-features"
    names = of_group(id)

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def hydrate(self, query: Query, candidates: Candidates) -> Candidates:
        now, viewer, n = self.clock(), query.viewer_id, len(candidates)
        age_h = np.maximum(now - candidates.created_at, 0) / HOUR_MS
        content = _content(candidates.posts.tolist(), viewer)
        served = datetime.fromtimestamp(now / 1000, tz=UTC)
        hour = 2 * np.pi * (served.hour + served.minute / 60) / 24
        day = 2 * np.pi * served.weekday() / 7
        clock_columns = np.tile([np.sin(hour), np.cos(hour), np.sin(day), np.cos(day)], (n, 1))
        columns = [
            in_network(candidates).astype(np.float64),
            candidates.pipeline.astype(np.float64),
            np.array([len(p) for p in candidates.social_proof.tolist()], dtype=np.float64),
            among(candidates.author_id, query.following).astype(np.float64),
            np.full(n, float(len(query.following))),
            age_h,
            0.5 ** (age_h / RECENCY_HALF_LIFE_H),
        ]
        block = np.hstack([np.stack(columns, axis=1), content, clock_columns])
        return candidates.with_features(self.names, block)


def _content(posts: list[Post | None], viewer: int) -> Matrix:
    """is_reply, is_repost, reply_to_viewer, mentions_viewer, hashtags, mentions,
    has_link, text_length of each record (zeros for a row without one)."""
    rows = [
        _NO_CONTENT
        if p is None
        else (
            p.reply_to_id is not None,
            p.repost_of_id is not None,
            p.reply_to_account_id == viewer,
            viewer in p.mentions,
            len(p.hashtags),
            len(p.mentions),
            any(marker in p.text for marker in LINK_MARKERS),
            len(p.text),
        )
        for p in posts
    ]
    return np.array(rows, dtype=np.float64).reshape(len(posts), len(_NO_CONTENT))


_NO_CONTENT = (False, False, False, False, 0, 0, False, 0)
