"""Accounts as columns: creation time, hidden interests, popularity, bots and activity.

Row order is creation order, so account ids grow with the row index. See
docs/subsystems/world.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from starling.world.names import usernames
from starling.world.spec import DAY_MS, WorldSpec
from starling.world.stamps import Ints, snowflakes, uniform_between

Floats = npt.NDArray[np.float64]
Bools = npt.NDArray[np.bool_]

REGIONS: tuple[str, ...] = ("us", "gb", "de", "fr", "br", "jp", "in", "ng", "mx", "au")
ACCOUNT_AGE_DAYS = 730
HOME_WEIGHT = 0.6  # share of an account's interest that goes to its home community
DEMO_USERNAME = "demo"
BOT_RATE_FACTOR = 12.0  # bots post this many times more than a typical person


@dataclass
class Population:
    ids: Ints
    created_ms: Ints
    usernames: list[str]
    home: Ints
    interests: npt.NDArray[np.float32]  # rows sum to 1 over communities
    popularity: Floats  # relative chance of being followed
    bot: Bools  # ground truth
    bot_flag: Bools  # what the account admits to (Account.bot)
    campaign: Ints  # spam campaign of a bot, -1 for others
    region: Ints
    active: Bools  # active within the last spec.active_days
    seen_ms: Ints  # a last visit, before posts and likes push it later
    post_rate: Floats  # relative posting rate; 0 for inactive accounts
    demo: int  # row of the demo account

    @property
    def size(self) -> int:
        return int(self.ids.size)


def build_population(rng: np.random.Generator, spec: WorldSpec, now_ms: int) -> Population:
    n, c = spec.accounts, spec.communities
    history_start = now_ms - int(spec.history_days * DAY_MS)
    # Everyone exists before the post history starts, so every post follows its author.
    created = np.sort(
        uniform_between(
            rng,
            np.full(n, now_ms - ACCOUNT_AGE_DAYS * DAY_MS),
            np.full(n, history_start - DAY_MS),
        )
    )
    home = rng.choice(c, size=n, p=rng.dirichlet(np.full(c, 3.0)))
    rank = rng.permutation(n)
    demo = int(np.flatnonzero(rank == n // 2)[0])
    bot, bot_flag, campaign = _bots(rng, spec, rank, demo)
    active = (rng.random(n) < spec.active_share) | bot
    active[demo] = True
    return Population(
        ids=snowflakes(created),
        created_ms=created,
        usernames=_names(rng, n, demo),
        home=home,
        interests=_interests(rng, home, c),
        popularity=np.power(rank + 1.0, -spec.popularity_exponent),
        bot=bot,
        bot_flag=bot_flag,
        campaign=campaign,
        region=_regions(rng, home, campaign),
        active=active,
        seen_ms=_seen(rng, spec, active, created, now_ms, demo),
        post_rate=_post_rates(rng, active, bot),
        demo=demo,
    )


def _names(rng: np.random.Generator, n: int, demo: int) -> list[str]:
    names = usernames(rng, n)
    names[demo] = DEMO_USERNAME
    return names


def _interests(rng: np.random.Generator, home: Ints, communities: int) -> npt.NDArray[np.float32]:
    spread = rng.dirichlet(np.full(communities, 0.3), size=home.size)
    interests = (1 - HOME_WEIGHT) * spread
    interests[np.arange(home.size), home] += HOME_WEIGHT
    return interests.astype(np.float32)


def _bots(
    rng: np.random.Generator, spec: WorldSpec, rank: Ints, demo: int
) -> tuple[Bools, Bools, Ints]:
    """Bots come from the unpopular nine tenths, each working for one spam campaign.

    Half of them set the bot flag on their account; the other half hide.
    """
    n = rank.size
    candidates = np.flatnonzero(rank >= n // 10)
    candidates = candidates[candidates != demo]
    count = max(spec.campaigns, round(n * spec.bot_share))
    chosen = rng.choice(candidates, size=count, replace=False)
    bot = np.zeros(n, dtype=bool)
    bot[chosen] = True
    flagged = np.zeros(n, dtype=bool)
    flagged[chosen[: count // 2]] = True
    campaign = np.full(n, -1, dtype=np.int64)
    campaign[chosen] = np.arange(count) % spec.campaigns
    return bot, flagged, campaign


def _regions(rng: np.random.Generator, home: Ints, campaign: Ints) -> Ints:
    """Half of a community lives in its main region; each campaign runs from one region."""
    regions = len(REGIONS)
    local = rng.random(home.size) < 0.5
    region = np.where(local, home % regions, rng.integers(regions, size=home.size))
    campaign_region = rng.integers(regions, size=int(campaign.max()) + 1)
    return np.where(campaign >= 0, campaign_region[campaign], region)


def _seen(
    rng: np.random.Generator,
    spec: WorldSpec,
    active: Bools,
    created: Ints,
    now_ms: int,
    demo: int,
) -> Ints:
    recent = now_ms - int(spec.active_days * DAY_MS)
    low = np.where(active, recent, created)
    high = np.where(active, now_ms, np.maximum(recent - 1, created))
    seen = uniform_between(rng, low, high)
    seen[demo] = now_ms
    return seen


def _post_rates(rng: np.random.Generator, active: Bools, bot: Bools) -> Floats:
    """Heavy-tailed posting rates; bots post many times more than people."""
    rate = rng.lognormal(0.0, 1.2, size=active.size)
    rate[bot] *= BOT_RATE_FACTOR
    return np.where(active, rate, 0.0)
