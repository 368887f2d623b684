"""The low-quality filter: leaves out candidates whose author looks like a spammer by the
feature store's reputation columns: a declared bot whose posts draw (almost) no likes, or
an account that posts at a bot's rate with hashtags on every post and draws no
engagement. Reads the batch's features only (hydrated before the filters).
See docs/subsystems/ranking.md#low-quality-filter.
"""

from __future__ import annotations

from dataclasses import dataclass

from starling.mixer.candidates import Candidates, Mask
from starling.mixer.components import Filter
from starling.mixer.query import Query


@dataclass(frozen=True)
class QualityThresholds:
    bot_likes_per_post: float = 1.0  # a declared bot whose posts draw fewer likes
    spam_posts_per_day: float = 5.0  # an account posting at least this often...
    spam_engagement_per_post: float = 0.5  # ...whose posts draw less engagement...
    spam_hashtags_per_post: float = 1.8  # ...with at least this many hashtags per post


class LowQuality(Filter[Query]):
    id = "low-quality"

    def __init__(self, thresholds: QualityThresholds | None = None) -> None:
        self.thresholds = thresholds or QualityThresholds()

    def keep(self, query: Query, candidates: Candidates) -> Mask:
        t, f = self.thresholds, candidates.feature
        likes = f("author_likes_per_post")
        engagement = likes + f("author_reposts_per_post") + f("author_replies_per_post")
        declared_spam = (f("author_bot") > 0) & (likes < t.bot_likes_per_post)
        spam_like = (
            (f("author_posts_per_day") >= t.spam_posts_per_day)
            & (engagement < t.spam_engagement_per_post)
            & (f("author_hashtags_per_post") >= t.spam_hashtags_per_post)
        )
        keep: Mask = ~(declared_spam | spam_like)
        return keep
