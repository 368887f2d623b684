"""A promotion campaign: one advertiser's own post, shown to the viewers its targeting
picks, for a bid per thousand impressions, within a total budget spread evenly over its
flight. Money is integer cents; spend is counted in millicents, so one impression costs
exactly the bid (cost per thousand, in cents). See docs/subsystems/ads.md.
"""

from __future__ import annotations

from dataclasses import dataclass

ACTIVE = "active"
PAUSED = "paused"
ENDED = "ended"
STATUSES = (ACTIVE, PAUSED, ENDED)
MILLICENTS_PER_CENT = 1000


@dataclass(frozen=True, slots=True)
class Campaign:
    """`regions` are `Account.region` values and `interests` hashtags (lower case,
    without '#'); an empty tuple targets everyone. Times are ms since the epoch."""

    id: int
    advertiser_id: int
    post_id: int
    budget_cents: int
    bid_cpm_cents: int
    starts_at: int
    ends_at: int
    status: str = ACTIVE
    regions: tuple[str, ...] = ()
    interests: tuple[str, ...] = ()
    created_at: int = 0

    @property
    def price(self) -> int:
        """One impression, in millicents: a thousand of them cost the bid in cents."""
        return self.bid_cpm_cents

    @property
    def budget(self) -> int:
        """The whole budget, in millicents."""
        return self.budget_cents * MILLICENTS_PER_CENT

    def state(self, now: int) -> str:
        """The status as reported: a campaign past its end has ended, whatever is stored."""
        return ENDED if now >= self.ends_at else self.status
