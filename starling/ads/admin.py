"""Campaign administration: create, list, pause and resume, for the admin API and
`starling admin ads`. Input is checked whole before anything is written (422 with every
problem named), and one campaign is one row written in one transaction. See
docs/subsystems/ads.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from starling.ads.campaign import ACTIVE, PAUSED, Campaign
from starling.ads.catalogue import Catalogue, Clock
from starling.errors import Invalid, NotFound
from starling.ids import IdGenerator, now_ms
from starling.store.base import Store

REGION_RE = re.compile(r"^[a-z0-9_-]{1,32}$")
HASHTAG_RE = re.compile(r"^\w{1,100}$")
MAX_TARGETS = 50  # regions, and interests, per campaign
MAX_CENTS = 10**12  # keeps millicents far inside 64 bits


@dataclass(frozen=True)
class Draft:
    """A campaign as asked for; times in ms (starts_at None: now)."""

    advertiser_id: int
    post_id: int
    budget_cents: int
    bid_cpm_cents: int
    ends_at: int
    starts_at: int | None = None
    regions: Sequence[str] = ()
    interests: Sequence[str] = ()


@dataclass(frozen=True)
class Report:
    """A campaign with what it has spent (millicents), as the store records it."""

    campaign: Campaign
    spent: int

    @property
    def impressions(self) -> int:
        return self.spent // self.campaign.price


class CampaignAdmin:
    def __init__(
        self,
        store: Store,
        ids: IdGenerator,
        catalogue: Catalogue,
        clock: Clock = now_ms,
    ) -> None:
        self.store = store
        self.ids = ids
        self.catalogue = catalogue
        self.clock = clock

    def create(self, draft: Draft) -> Campaign:
        now = self.clock()
        campaign = self._checked(draft, now)
        with self.store.transaction() as tx:
            tx.insert_campaign(campaign)
        self.catalogue.invalidate()
        return campaign

    def reports(self) -> list[Report]:
        """Every campaign, newest first, with its spend."""
        return self._reports(self.store.campaigns())

    def get(self, campaign_id: int) -> Report:
        found = self.store.get_campaigns([campaign_id]).get(campaign_id)
        if found is None:
            raise NotFound("Record not found")
        return self._reports([found])[0]

    def pause(self, campaign_id: int) -> Campaign:
        return self._set_status(campaign_id, PAUSED, (ACTIVE, PAUSED))

    def resume(self, campaign_id: int) -> Campaign:
        return self._set_status(campaign_id, ACTIVE, (ACTIVE, PAUSED))

    def _set_status(self, campaign_id: int, status: str, allowed: Sequence[str]) -> Campaign:
        found = self.store.get_campaigns([campaign_id]).get(campaign_id)
        if found is None:
            raise NotFound("Record not found")
        if found.state(self.clock()) not in allowed:
            raise Invalid(f"Validation failed: the campaign has {found.state(self.clock())}")
        with self.store.transaction() as tx:
            changed = tx.update_campaign_status(campaign_id, status, allowed)
        if changed is None:  # ended by another request in between
            raise Invalid("Validation failed: the campaign has ended")
        self.catalogue.invalidate()
        return changed

    def _reports(self, campaigns: Sequence[Campaign]) -> list[Report]:
        spent = self.store.campaign_spend([c.id for c in campaigns])
        return [Report(c, spent.get(c.id, 0)) for c in campaigns]

    def _checked(self, draft: Draft, now: int) -> Campaign:
        """The campaign to write, or Invalid naming every problem of the draft."""
        starts_at = now if draft.starts_at is None else draft.starts_at
        regions = [r.strip().lower() for r in draft.regions]
        interests = [i.strip().lower().removeprefix("#") for i in draft.interests]
        problems = [
            *_money_problems(draft),
            *_flight_problems(starts_at, draft.ends_at, now),
            *_list_problems("regions", regions, REGION_RE),
            *_list_problems("interests", interests, HASHTAG_RE),
            *self._post_problems(draft),
        ]
        if problems:
            raise Invalid("Validation failed: " + "; ".join(problems))
        return Campaign(
            id=self.ids.next_id(),
            advertiser_id=draft.advertiser_id,
            post_id=draft.post_id,
            budget_cents=draft.budget_cents,
            bid_cpm_cents=draft.bid_cpm_cents,
            starts_at=starts_at,
            ends_at=draft.ends_at,
            regions=tuple(dict.fromkeys(regions)),
            interests=tuple(dict.fromkeys(interests)),
            created_at=now,
        )

    def _post_problems(self, draft: Draft) -> list[str]:
        if not self.store.get_accounts([draft.advertiser_id]):
            return ["advertiser_id: no such account"]
        post = self.store.get_posts([draft.post_id]).get(draft.post_id)
        if post is None or post.deleted_at is not None:
            return ["post_id: no such live post"]
        if post.author_id != draft.advertiser_id:
            return ["post_id: not a post of the advertiser"]
        if post.repost_of_id is not None or post.visibility != "public":
            return ["post_id: only an original public post can be promoted"]
        return []


def _money_problems(draft: Draft) -> list[str]:
    problems = []
    if not 1 <= draft.budget_cents <= MAX_CENTS:
        problems.append(f"budget_cents: must be between 1 and {MAX_CENTS}")
    if not 1 <= draft.bid_cpm_cents <= MAX_CENTS:
        problems.append(f"bid_cpm_cents: must be between 1 and {MAX_CENTS}")
    elif draft.bid_cpm_cents > draft.budget_cents * 1000:
        problems.append("bid_cpm_cents: the budget does not pay for one impression")
    return problems


def _flight_problems(starts_at: int, ends_at: int, now: int) -> list[str]:
    if ends_at <= starts_at:
        return ["ends_at: must be after starts_at"]
    if ends_at <= now:
        return ["ends_at: must be in the future"]
    return []


def _list_problems(name: str, values: Sequence[str], pattern: re.Pattern[str]) -> list[str]:
    if len(values) > MAX_TARGETS:
        return [f"{name}: at most {MAX_TARGETS}"]
    bad = [v for v in values if not pattern.match(v)]
    return [f"{name}: not valid: {', '.join(map(repr, bad))}"] if bad else []
