"""Likes, biased by interest: people like posts on the topics they care about.

Per community, likers are drawn from active humans by their interest in it, and posts of
that topic by their author's popularity. See docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starling.world.history import HOUR_MS, History
from starling.world.population import Population
from starling.world.sampling import unique_pairs, weighted_draws
from starling.world.spec import WorldSpec
from starling.world.stamps import Ints

LIKE_DELAY_MS = 3 * HOUR_MS  # mean time from a post to a like of it


@dataclass
class Likes:
    account: Ints  # row indices into the population
    post: Ints  # row indices into the history
    created_ms: Ints

    @property
    def size(self) -> int:
        return int(self.account.size)


def build_likes(
    rng: np.random.Generator, spec: WorldSpec, pop: Population, history: History, now_ms: int
) -> Likes:
    human_post = ~pop.bot[history.author]
    likers = pop.active & ~pop.bot
    per_topic = np.bincount(history.topic[human_post], minlength=spec.communities)
    wanted = rng.multinomial(spec.likes, per_topic / per_topic.sum())
    accounts, posts = [], []
    for c in range(spec.communities):
        candidates = np.flatnonzero(human_post & (history.topic == c))
        if candidates.size == 0 or wanted[c] == 0:
            continue
        post_weight = np.sqrt(pop.popularity[history.author[candidates]])
        posts.append(candidates[weighted_draws(rng, post_weight, int(wanted[c]))])
        accounts.append(weighted_draws(rng, pop.interests[:, c] * likers, int(wanted[c])))
    account, post = unique_pairs(np.concatenate(accounts), np.concatenate(posts), history.size)
    delay = rng.exponential(LIKE_DELAY_MS, size=account.size).astype(np.int64)
    created = history.created_ms[post] + delay
    # No liking one's own posts, and likes due after now have not happened yet.
    keep = (history.author[post] != account) & (created < now_ms)
    return Likes(account=account[keep], post=post[keep], created_ms=created[keep])
