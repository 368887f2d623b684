"""Post history as columns: who posted when, on which topic, and which posts are replies.

Humans post on a community drawn from their interests; bots post in bursts for their
spam campaign. Rows are sorted by time, so post ids grow with the row index. See
docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from starling.world.population import Bools, Population
from starling.world.spec import DAY_MS, WorldSpec
from starling.world.stamps import Ints, snowflakes

HOUR_MS = 3_600_000
BURST_MS = 6 * HOUR_MS  # a spam campaign's posts crowd into one window this long
BURST_SHARE = 0.7  # share of a bot's posts inside its campaign's burst
REPLY_DELAY_MS = 2 * HOUR_MS  # mean distance from a reply back to the post it answers


@dataclass
class History:
    ids: Ints
    author: Ints  # row indices into the population
    created_ms: Ints
    topic: Ints  # community the text is drawn from; the campaign for bot posts
    reply_to: Ints  # row index of the post answered, -1 when not a reply

    @property
    def size(self) -> int:
        return int(self.ids.size)


def build_history(
    rng: np.random.Generator, spec: WorldSpec, pop: Population, now_ms: int
) -> History:
    start = now_ms - int(spec.history_days * DAY_MS)
    rate = pop.post_rate * (spec.posts / pop.post_rate.sum())
    author = np.repeat(np.arange(pop.size), rng.poisson(rate))
    created = _post_times(rng, pop, author, start, now_ms)
    order = np.argsort(created, kind="stable")
    author, created = author[order], created[order]
    bot = pop.bot[author]
    topic = np.where(bot, pop.campaign[author], _topics(rng, pop, author))
    return History(
        ids=snowflakes(created),
        author=author,
        created_ms=created,
        topic=topic,
        reply_to=_reply_targets(rng, spec, created, bot, now_ms - start),
    )


def _post_times(
    rng: np.random.Generator, pop: Population, author: Ints, start: int, now_ms: int
) -> Ints:
    span = now_ms - 1 - start
    times = start + (rng.random(author.size) * span).astype(np.int64)
    campaigns = int(pop.campaign.max()) + 1
    burst_start = start + (rng.random(campaigns) * (span - BURST_MS)).astype(np.int64)
    campaign = pop.campaign[author]
    bursty = (campaign >= 0) & (rng.random(author.size) < BURST_SHARE)
    in_burst = burst_start[campaign[bursty]] + (rng.random(int(bursty.sum())) * BURST_MS)
    times[bursty] = in_burst.astype(np.int64)
    return times


def _topics(rng: np.random.Generator, pop: Population, author: Ints) -> Ints:
    """One community per post, drawn from its author's interests (inverse CDF per row)."""
    cumulative = np.cumsum(pop.interests[author], axis=1)
    draws = rng.random(author.size) * cumulative[:, -1]
    topics: Ints = (cumulative < draws[:, None]).sum(axis=1).astype(np.int64)
    return topics


def _reply_targets(
    rng: np.random.Generator, spec: WorldSpec, created: Ints, bot: Bools, span_ms: int
) -> Ints:
    """A share of human posts answer a recent earlier post (rows are in time order)."""
    rows = np.arange(created.size)
    replies = (rng.random(created.size) < spec.reply_share) & ~bot & (rows > 0)
    posts_per_ms = created.size / max(span_ms, 1)
    back = 1 + rng.exponential(REPLY_DELAY_MS * posts_per_ms, size=created.size)
    target = np.maximum(rows - back.astype(np.int64), 0)
    return np.where(replies, target, -1)
