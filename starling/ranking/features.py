"""The light features of a For You candidate, by name and group: the columns of
`Candidates.features`. Each group is filled by one hydrator with one read for the whole
batch. The first three are the heuristic scorer's and keep their places. Nothing here
imports the rest of Starling: the mixer's candidate batch reads these names.
See docs/subsystems/ranking.md#features.
"""

from __future__ import annotations

# (name, group); the group names the hydrator (and the one read) that fills the column.
TABLE: tuple[tuple[str, str], ...] = (
    ("favourites", "engagement"),
    ("reblogs", "engagement"),
    ("author_followers", "author-followers"),
    ("author_following", "author-followers"),
    ("author_statuses", "author-followers"),
    # The feature store's post columns (starling/ranking/state.py), of the source post.
    ("post_likes", "post-features"),
    ("post_reposts", "post-features"),
    ("post_replies", "post-features"),
    ("post_likes_1h", "post-features"),
    ("post_likes_24h", "post-features"),
    ("post_reposts_1h", "post-features"),
    ("post_reposts_24h", "post-features"),
    ("post_replies_1h", "post-features"),
    ("post_replies_24h", "post-features"),
    ("post_engagements_per_hour", "post-features"),
    # The feature store's account columns: the author's reputation, the viewer's activity.
    ("author_bot", "account-features"),
    ("author_posts", "account-features"),
    ("author_posts_per_day", "account-features"),
    ("author_likes_per_post", "account-features"),
    ("author_reposts_per_post", "account-features"),
    ("author_replies_per_post", "account-features"),
    ("author_hashtags_per_post", "account-features"),
    ("viewer_posts_per_day", "account-features"),
    ("viewer_engagements_per_day", "account-features"),
    # The real graph and SimClusters.
    ("viewer_author_affinity", "affinity"),
    ("simclusters_author_cosine", "simclusters-features"),
    ("simclusters_known_for", "simclusters-features"),
    ("simclusters_post_cosine", "simclusters-features"),
    ("simclusters_engagers_cosine", "simclusters-features"),
    # TwHIN embeddings: the viewer against the author, and against the post's vector.
    ("twhin_author_cosine", "twhin-features"),
    ("twhin_post_cosine", "twhin-features"),
    # The post's words against those of the posts the viewer engaged with lately.
    ("content_similarity", "content-features"),
    # Filled by the source: an interest-based source's cosine between the viewer and the
    # post (SimClusters, TwHIN), its evidence for the social-proof filter; 0 for others.
    ("similarity", "source"),
    # The batch itself, the query and the clock: no read.
    ("in_network", "candidate-features"),
    ("source_index", "candidate-features"),
    ("social_proof", "candidate-features"),
    ("viewer_follows_author", "candidate-features"),
    ("viewer_following", "candidate-features"),
    ("age_hours", "candidate-features"),
    ("recency_6h", "candidate-features"),
    ("is_reply", "candidate-features"),
    ("is_repost", "candidate-features"),
    ("reply_to_viewer", "candidate-features"),
    ("mentions_viewer", "candidate-features"),
    ("hashtags", "candidate-features"),
    ("mentions", "candidate-features"),
    ("has_link", "candidate-features"),
    ("text_length", "candidate-features"),
    ("hour_sin", "candidate-features"),
    ("hour_cos", "candidate-features"),
    ("weekday_sin", "candidate-features"),
    ("weekday_cos", "candidate-features"),
)

NAMES: tuple[str, ...] = tuple(name for name, _ in TABLE)
INDEX: dict[str, int] = {name: i for i, name in enumerate(NAMES)}


def of_group(group: str) -> tuple[str, ...]:
    return tuple(name for name, g in TABLE if g == group)
