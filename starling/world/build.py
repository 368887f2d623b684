"""Assembles a world in memory: population, graph, history, likes, texts and the counts.

Every random choice comes from one numpy Generator seeded by the caller, in a fixed
order, so (spec, seed, now_ms) always gives the same world. See docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from starling.world.graph import Follows, build_follows
from starling.world.history import History, build_history
from starling.world.likes import Likes, build_likes
from starling.world.population import Population, build_population
from starling.world.spec import WorldSpec
from starling.world.stamps import Ints
from starling.world.texts import TextPlan, plan_texts
from starling.world.vocab import Vocabulary, build_vocabulary

NO_TIME = -1


@dataclass
class Counts:
    """The denormalised counts, computed from the rows so they match them exactly."""

    followers: Ints
    following: Ints
    statuses: Ints
    last_status_ms: Ints  # NO_TIME for accounts without posts
    last_active_ms: Ints
    favourites: Ints  # per post
    replies: Ints  # per post


@dataclass
class World:
    spec: WorldSpec
    seed: int
    now_ms: int
    vocab: Vocabulary
    population: Population
    follows: Follows
    history: History
    likes: Likes
    texts: TextPlan
    counts: Counts


def build_world(spec: WorldSpec, seed: int, now_ms: int, *, progress: bool = True) -> World:
    rng = np.random.default_rng(seed)
    with tqdm(total=5, desc="world: build", unit="step", disable=not progress) as bar:
        vocab = build_vocabulary(rng, spec.communities, spec.campaigns)
        pop = build_population(rng, spec, now_ms)
        bar.update()
        follows = build_follows(rng, spec, pop, now_ms)
        bar.update()
        history = build_history(rng, spec, pop, now_ms)
        bar.update()
        likes = build_likes(rng, spec, pop, history, now_ms)
        bar.update()
        texts = plan_texts(rng, vocab, pop, history)
        bar.update()
    counts = _counts(pop, follows, history, likes)
    return World(spec, seed, now_ms, vocab, pop, follows, history, likes, texts, counts)


def _counts(pop: Population, follows: Follows, history: History, likes: Likes) -> Counts:
    n, p = pop.size, history.size
    last_status = np.full(n, NO_TIME, dtype=np.int64)
    np.maximum.at(last_status, history.author, history.created_ms)
    last_like = np.full(n, NO_TIME, dtype=np.int64)
    np.maximum.at(last_like, likes.account, likes.created_ms)
    replies = history.reply_to[history.reply_to >= 0]
    return Counts(
        followers=np.bincount(follows.followee, minlength=n),
        following=np.bincount(follows.follower, minlength=n),
        statuses=np.bincount(history.author, minlength=n),
        last_status_ms=last_status,
        last_active_ms=np.maximum.reduce([pop.seen_ms, last_status, last_like]),
        favourites=np.bincount(likes.post, minlength=p),
        replies=np.bincount(replies, minlength=p),
    )
