"""A tiny world and an impressions file labelled by its hidden engagement model, in the
impressions format (starling/ranking/dataset.py): random posts with three features, so
the heavy ranker's tests train in seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from starling.ranking.dataset import TEST, TRAIN, Impressions, save_impressions
from starling.store.base import Store
from starling.world import generate
from starling.world.engagement import EngagementTruth, sample

NOW_MS = 1_760_000_000_000
# Features the For You hydrators fill, so the scorer can serve a model trained on them.
FEATURE_NAMES = ("favourites", "reblogs", "author_followers")


def tiny_world(store: Store, data_dir: Path) -> None:
    generate(store, data_dir, "tiny", 3, progress=False, now_ms=NOW_MS)


def write_impressions(
    store: Store, data_dir: Path, *, viewers: int = 200, per_viewer: int = 40, seed: int = 0
) -> Impressions:
    """Random posts served to random viewers at NOW_MS, what they did drawn from the
    world's engagement truth; a fifth of the viewers are the test split."""
    rng = np.random.default_rng(seed)
    truth = EngagementTruth.load(data_dir)
    posts = store.get_posts(truth.post_ids.tolist())
    shown = np.array([i for i, p in posts.items() if p.repost_of_id is None], dtype=np.int64)
    who = rng.choice(truth.account_ids, viewers, replace=False)
    viewer_id = np.repeat(who, per_viewer)
    post_id = rng.choice(shown, len(viewer_id))
    author_id = np.array([posts[p].author_id for p in post_id.tolist()], dtype=np.int64)
    follows = np.concatenate(
        [np.isin(author_id[i * per_viewer : (i + 1) * per_viewer], store.following(int(v)))
         for i, v in enumerate(who.tolist())]
    )  # fmt: skip
    accounts = store.get_accounts(set(author_id.tolist()))
    created_at = np.array([posts[p].created_at for p in post_id.tolist()], dtype=np.int64)
    labels = sample(
        rng, truth.probabilities(viewer_id, post_id, author_id, follows, NOW_MS - created_at)
    )
    columns = {
        "favourites": [posts[p].favourites_count for p in post_id.tolist()],
        "reblogs": [posts[p].reblogs_count for p in post_id.tolist()],
        "author_followers": [accounts[a].followers_count for a in author_id.tolist()],
    }
    features = np.stack([columns[name] for name in FEATURE_NAMES], axis=1).astype(np.float32)
    impressions = Impressions(
        viewer_id=viewer_id,
        post_id=post_id,
        author_id=author_id,
        served_at_ms=np.full(len(viewer_id), NOW_MS, dtype=np.int64),
        created_at_ms=created_at,
        follows_author=follows,
        labels=labels,
        split=np.where(np.arange(len(viewer_id)) // per_viewer % 5 == 0, TEST, TRAIN).astype(
            np.int8
        ),
        features=features,
        feature_names=FEATURE_NAMES,
    )
    save_impressions(impressions, data_dir)
    return impressions
