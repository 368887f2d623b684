"""The world's hidden engagement model (starling.world.engagement): interest drives
engagement, spam draws reports, posts the world did not make get the average interest."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from starling.store.sqlite import SqliteStore
from starling.world import generate
from starling.world.engagement import (
    ACTIONS,
    SPAM,
    UNKNOWN,
    EngagementTruth,
    relevance,
    sample,
)

NOW_MS = 1_760_000_000_000


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> EngagementTruth:
    data_dir: Path = tmp_path_factory.mktemp("world")
    store = SqliteStore(data_dir / "starling.sqlite3")
    try:
        generate(store, data_dir, "tiny", 3, progress=False, now_ms=NOW_MS)
    finally:
        store.close()
    return EngagementTruth.load(data_dir)


def _one_viewer_against_every_post(truth: EngagementTruth, viewer: int) -> np.ndarray:
    n = len(truth.post_ids)
    return truth.probabilities(
        np.full(n, viewer, np.int64),
        truth.post_ids,
        np.full(n, truth.account_ids[0], np.int64),
        np.zeros(n, np.bool_),
        np.zeros(n, np.int64),
    )


def test_a_viewer_likes_their_favourite_topic_more_than_their_least(
    truth: EngagementTruth,
) -> None:
    viewer_row = 5
    interests = truth.interests[viewer_row]
    p = _one_viewer_against_every_post(truth, int(truth.account_ids[viewer_row]))
    like = p[:, ACTIONS.index("like")]
    best = like[truth.post_topic == int(np.argmax(interests))].mean()
    worst = like[truth.post_topic == int(np.argmin(interests))].mean()
    assert best > 2 * worst


def test_spam_draws_reports_and_few_likes(truth: EngagementTruth) -> None:
    p = _one_viewer_against_every_post(truth, int(truth.account_ids[5]))
    spam = truth.post_topic == SPAM
    assert spam.any() and (~spam).any()
    negative, like = ACTIONS.index("negative"), ACTIONS.index("like")
    assert p[spam, negative].mean() > 5 * p[~spam, negative].mean()
    assert p[spam, like].mean() < p[~spam, like].mean()


def test_following_the_author_and_freshness_raise_every_positive_action(
    truth: EngagementTruth,
) -> None:
    post = truth.post_ids[truth.post_topic >= 0][:1]
    args = (truth.account_ids[:1], post, truth.account_ids[1:2])
    base = truth.probabilities(*args, np.array([False]), np.array([48 * 3_600_000]))
    followed = truth.probabilities(*args, np.array([True]), np.array([48 * 3_600_000]))
    fresh = truth.probabilities(*args, np.array([False]), np.array([0]))
    positive = [ACTIONS.index(a) for a in ("like", "reply", "repost")]
    assert (followed[0, positive] > base[0, positive]).all()
    assert (fresh[0, positive] > base[0, positive]).all()


def test_posts_the_world_did_not_make_have_an_unknown_topic(truth: EngagementTruth) -> None:
    unknown = np.array([int(truth.post_ids.max()) + 1], np.int64)
    assert truth.topics(unknown).tolist() == [UNKNOWN]


def test_sampled_labels_follow_the_probabilities_and_relevance_counts_positives(
    truth: EngagementTruth,
) -> None:
    p = np.tile(np.array([[0.5, 0.0, 1.0, 0.2, 0.0]]), (20_000, 1))
    labels = sample(np.random.default_rng(0), p)
    assert abs(labels[:, 0].mean() - 0.5) < 0.02
    assert labels[:, 1].sum() == 0 and labels[:, 2].all()
    assert np.allclose(relevance(labels), labels[:, 0] + labels[:, 1] + labels[:, 2])
    assert np.allclose(relevance(p), 1.5)
