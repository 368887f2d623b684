"""Which live campaigns may be shown to one viewer now, judged over all of them at once.

The rules, in order (the first one a campaign fails is counted as its outcome in
`starling_ads_campaigns_judged`, a campaign passing all as `eligible`): in flight, not
the viewer's own, region, interests, budget left for one more impression, and pacing: a
campaign that has spent more than its even-spend line (budget x share of the flight gone
by) waits for the line to catch up.
Spend is read for the campaigns that pass the targeting rules only, in one cache round
trip (spend.py). See docs/subsystems/ads.md.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from starling.ads.catalogue import LiveCampaigns
from starling.ads.metrics import CAMPAIGNS_JUDGED
from starling.ads.spend import Spend
from starling.mixer.candidates import Ids, Mask

ELIGIBLE = "eligible"
RULES = ("in_flight", "not_own", "region", "interests", "budget", "pacing")
_COUNTERS = {outcome: CAMPAIGNS_JUDGED.labels(outcome) for outcome in (*RULES, ELIGIBLE)}


@dataclass(frozen=True)
class Viewer:
    """What targeting matches: the viewer, its region and the hashtags of its recent
    activity."""

    id: int
    region: str = ""
    interests: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Eligible:
    """The campaigns judged eligible (rows of `live`) and what each had spent."""

    live: LiveCampaigns
    rows: Ids
    spent: Ids

    def __len__(self) -> int:
        return len(self.rows)

    def rows_of(self, campaign_ids: Ids) -> Ids:
        """The rows of `live` holding these campaigns (each must be live)."""
        order = np.argsort(self.live.id)
        found: Ids = order[np.searchsorted(self.live.id, campaign_ids, sorter=order)]
        return found


def targeted(live: LiveCampaigns, viewer: Viewer, now: int) -> list[Mask]:
    """Each targeting rule's pass mask over every live campaign, in RULES order."""
    return [
        (live.starts_at <= now) & (now < live.ends_at),
        live.advertiser_id != viewer.id,
        live.in_region(viewer.region),
        live.interested(viewer.interests),
    ]


def eligible(live: LiveCampaigns, viewer: Viewer, spend: Spend, now: int) -> Eligible:
    rules = targeted(live, viewer, now)
    candidates = np.flatnonzero(np.logical_and.reduce(rules))
    spent_by_id = spend.spent(live.id[candidates].tolist()) if len(candidates) else {}
    spent = np.zeros(len(live), dtype=np.int64)
    spent[candidates] = [spent_by_id.get(int(i), 0) for i in live.id[candidates]]
    rules += [spent + live.price <= live.budget, spent <= live.paced(now)]
    _count(rules)
    rows = np.flatnonzero(np.logical_and.reduce(rules))
    return Eligible(live, rows, spent[rows])


def _count(rules: Sequence[Mask]) -> None:
    """Counts each campaign once: under the first rule it fails, or as eligible."""
    still = np.ones(len(rules[0]), dtype=np.bool_)
    for name, passed in zip(RULES, rules, strict=True):
        failed = int(np.count_nonzero(still & ~passed))
        if failed:
            _COUNTERS[name].inc(failed)
        still &= passed
    if still.any():
        _COUNTERS[ELIGIBLE].inc(int(np.count_nonzero(still)))


def matched(values: Collection[str], wanted: Collection[str]) -> list[str]:
    """The targeted values a viewer matched, for explanations."""
    return sorted(set(values) & set(wanted))
