"""The follow graph: popularity times interest affinity, with a heavy-tailed out-degree.

Each follower spends most follows inside the communities it cares about (picking
accounts by popularity x their interest in that community) and the rest on globally
popular accounts. Sampling is one vectorised draw per community. See
docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starling.world.population import Population
from starling.world.sampling import split_by_interest, unique_pairs, weighted_draws
from starling.world.spec import WorldSpec
from starling.world.stamps import Ints, uniform_between

DEGREE_SIGMA = 1.0  # lognormal spread of how many accounts each account follows
DEMO_CELEBRITIES = 5
DEMO_ORDINARY = 40
TOP_UP_ROUNDS = 3


@dataclass
class Follows:
    follower: Ints  # row indices into the population
    followee: Ints
    created_ms: Ints
    notify: npt.NDArray[np.bool_]  # notifications on: celebrity posts still push to these

    @property
    def size(self) -> int:
        return int(self.follower.size)


def build_follows(
    rng: np.random.Generator, spec: WorldSpec, pop: Population, now_ms: int
) -> Follows:
    n = pop.size
    degree = _out_degrees(rng, spec, n)
    degree[pop.demo] = 0
    demo_followees = _demo_followees(rng, pop)
    follower = np.full(demo_followees.size, pop.demo)
    followee = demo_followees
    # Popular accounts get drawn twice by the same follower; top up what dedup removed.
    for _ in range(TOP_UP_ROUNDS):
        missing = np.maximum(degree - np.bincount(follower, minlength=n), 0)
        new_follower, new_followee = _draw(rng, spec, pop, missing)
        follower, followee = unique_pairs(
            np.concatenate([follower, new_follower]), np.concatenate([followee, new_followee]), n
        )
    keep = follower != followee
    follower, followee = follower[keep], followee[keep]
    low = np.maximum(pop.created_ms[follower], pop.created_ms[followee])
    created = uniform_between(rng, low, np.maximum(low, pop.seen_ms[follower]))
    notify = rng.random(follower.size) < spec.notify_share
    return Follows(follower=follower, followee=followee, created_ms=created, notify=notify)


def _draw(
    rng: np.random.Generator, spec: WorldSpec, pop: Population, degree: Ints
) -> tuple[Ints, Ints]:
    """`degree[i]` followees for each row i: some global stars, the rest by interest."""
    n = pop.size
    global_slots = rng.binomial(degree, spec.global_follow_share)
    per_community = split_by_interest(rng, degree - global_slots, pop.interests)
    followers = [np.repeat(np.arange(n), global_slots)]
    followees = [weighted_draws(rng, pop.popularity, int(global_slots.sum()))]
    for c in range(spec.communities):
        slots = per_community[:, c]
        followers.append(np.repeat(np.arange(n), slots))
        weights = pop.popularity * pop.interests[:, c]
        followees.append(weighted_draws(rng, weights, int(slots.sum())))
    return np.concatenate(followers), np.concatenate(followees)


def _out_degrees(rng: np.random.Generator, spec: WorldSpec, n: int) -> Ints:
    mu = np.log(spec.mean_follows) - DEGREE_SIGMA**2 / 2
    degree = np.ceil(rng.lognormal(mu, DEGREE_SIGMA, size=n))
    return np.clip(degree, 1, min(n - 1, 50 * spec.mean_follows)).astype(np.int64)


def _demo_followees(rng: np.random.Generator, pop: Population) -> Ints:
    """The top celebrities plus active, human accounts of the demo's home community."""
    stars = np.argsort(-pop.popularity)[:DEMO_CELEBRITIES]
    ordinary = np.flatnonzero(
        (pop.home == pop.home[pop.demo]) & pop.active & ~pop.bot & (pop.post_rate > 0)
    )
    ordinary = np.setdiff1d(ordinary, np.concatenate([stars, [pop.demo]]))
    picked = rng.choice(ordinary, size=min(DEMO_ORDINARY, ordinary.size), replace=False)
    return np.concatenate([stars, picked]).astype(np.int64)
