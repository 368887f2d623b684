"""The world's hidden engagement model: how likely a viewer is to like, reply to, repost,
click or report a post shown to them, from what the system is never told (interests,
popularity, which posts are spam).

Ranking models never see it: they learn from impressions it labels (simulated served
posts and what the viewer did), and evaluations compare them with the oracle that ranks
by these probabilities. See docs/subsystems/world.md#engagement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from starling.world.truth import load_truth

Ids = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

ACTIONS = ("like", "reply", "repost", "click", "negative")
POSITIVE = ("like", "reply", "repost")  # what a ranking's relevance counts
SPAM = -1  # the topic of a bot's campaign post
UNKNOWN = -2  # the topic of a post the world did not generate (made through the API)
FRESH_HOURS = 24.0

# Logit weights per action: intercept, topic affinity, follows author, author popularity
# (standardised log), freshness, spam. Affinity dominates, as in the likes the world
# generates; following helps replies most; spam draws reports.
_WEIGHTS = np.array(
    [
        [-4.5, 6.0, 0.8, 0.35, 1.0, -3.0],  # like
        [-7.0, 5.0, 1.5, 0.0, 0.5, -3.0],  # reply
        [-6.5, 5.5, 0.5, 0.5, 0.8, -3.0],  # repost
        [-3.0, 4.0, 0.5, 0.3, 0.5, 0.0],  # click
        [-5.5, -3.0, -0.5, 0.0, 0.0, 5.0],  # negative feedback
    ]
)


@dataclass(frozen=True)
class EngagementTruth:
    account_ids: Ids  # ascending
    interests: npt.NDArray[np.float32]  # accounts x communities, rows sum to 1
    popularity_z: Floats  # standardised log popularity, per account
    post_ids: Ids  # ascending
    post_topic: Ids  # community, or SPAM

    @classmethod
    def load(cls, data_dir: Path) -> EngagementTruth:
        truth = load_truth(data_dir)
        order = np.argsort(truth["account_ids"])
        log_popularity = np.log(truth["popularity"][order])
        spread = float(log_popularity.std()) or 1.0
        return cls(
            account_ids=truth["account_ids"][order],
            interests=truth["interests"][order],
            popularity_z=(log_popularity - log_popularity.mean()) / spread,
            post_ids=truth["post_ids"],
            post_topic=truth["post_topic"],
        )

    def probabilities(
        self,
        viewer_ids: Ids,
        post_ids: Ids,
        author_ids: Ids,
        follows_author: Bools,
        age_ms: Ids,
    ) -> Floats:
        """P(action) for each (viewer, post) row, one column per name in `ACTIONS`."""
        viewers = _rows(self.account_ids, viewer_ids)
        authors = _rows(self.account_ids, author_ids)
        topic = self.topics(post_ids)
        known = topic >= 0
        affinity = np.full(len(post_ids), 1.0 / self.interests.shape[1])
        affinity[topic == SPAM] = 0.0
        found = known & (viewers >= 0)
        affinity[found] = self.interests[viewers[found], topic[found]]
        popularity = np.where(authors >= 0, self.popularity_z[np.maximum(authors, 0)], 0.0)
        fresh = np.exp(-np.maximum(age_ms, 0) / (FRESH_HOURS * 3_600_000))
        inputs = np.stack(
            [
                np.ones(len(post_ids)),
                affinity,
                follows_author.astype(np.float64),
                popularity,
                fresh,
                (topic == SPAM).astype(np.float64),
            ],
            axis=1,
        )
        probabilities: Floats = 1.0 / (1.0 + np.exp(-(inputs @ _WEIGHTS.T)))
        return probabilities

    def topics(self, post_ids: Ids) -> Ids:
        """Each post's community, SPAM, or UNKNOWN for a post the world did not make."""
        rows = _rows(self.post_ids, post_ids)
        found: Ids = np.where(rows >= 0, self.post_topic[np.maximum(rows, 0)], UNKNOWN)
        return found


def sample(rng: np.random.Generator, probabilities: Floats) -> npt.NDArray[np.int8]:
    """What each viewer did: one 0/1 column per action, drawn independently."""
    return (rng.random(probabilities.shape) < probabilities).astype(np.int8)


def relevance(labels: npt.NDArray[np.int8] | Floats) -> Floats:
    """A row's graded relevance for NDCG: how many positive actions it drew (or, given
    probabilities, how many it is expected to draw)."""
    columns = [ACTIONS.index(a) for a in POSITIVE]
    gain: Floats = labels[:, columns].sum(axis=1).astype(np.float64)
    return gain


def _rows(sorted_ids: Ids, ids: Ids) -> Ids:
    """Row of each id in `sorted_ids`, -1 where absent."""
    if not len(sorted_ids):
        return np.full(len(ids), -1, dtype=np.int64)
    at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
    found: Ids = np.where(sorted_ids[at] == ids, at, -1)
    return found
