"""The mixer pipeline's ads step of the For You timeline: after organic ranking, the ads
candidate pipeline's picks take fixed slots of the page (by default positions 3, 15 and
27 of 35), each charged once against its campaign's budget (the page's spend recorded
in the store, spend.py) and recorded as served with why it was targeted. Organic rows
of a promoted post make way for it. See docs/subsystems/ads.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence

import numpy as np

from starling.ads.campaign import MILLICENTS_PER_CENT, Campaign
from starling.ads.catalogue import Catalogue, Clock
from starling.ads.eligibility import RULES, matched
from starling.ads.metrics import (
    CHARGES_REFUSED,
    FAILURES,
    IMPRESSIONS,
    SPEND_CENTS,
    SPEND_UNRECORDED,
)
from starling.ads.pipeline import AdsQuery, ads_pipeline
from starling.ads.spend import Spend
from starling.cache.backends import CacheBackends
from starling.cache.errors import CacheUnavailable, degraded
from starling.ids import now_ms
from starling.mixer import Candidates, Mixed, Query, Runner, Step
from starling.mixer.candidates import Ids
from starling.mixer.trace import Trace
from starling.store.base import Store, StoreUnavailable

DEFAULT_SLOTS = (3, 15, 27)  # 1-based positions of a page
SERVED_TTL_S = 48 * 3600  # as the organic entries' record
STEP_ID = "promoted-slots"
log = logging.getLogger(__name__)


def slots_setting(raw: str) -> tuple[int, ...]:
    """'3,15,27' as positions, ascending; refuses anything but positive integers."""
    slots = sorted({int(part) for part in raw.split(",") if part.strip()})
    if any(slot < 1 for slot in slots):
        raise ValueError(f"ad slots are positions from 1: {raw!r}")
    return tuple(slots)


def positions(slots: Sequence[int], organic: int, ads: int, limit: int) -> list[int]:
    """The 0-based positions the first `ads` ads take, slot by slot: a slot is taken when
    it is within the limit and the page reaches it, i.e. organic entries fill every
    position before it that no ad took (an ad may end a page, never make one alone)."""
    taken: list[int] = []
    for slot in slots:
        if len(taken) == ads or slot > limit or slot - 1 - len(taken) > organic:
            break
        taken.append(slot - 1)
    return taken if organic else []


class PromotedSlots:
    def __init__(
        self,
        store: Store,
        cache: CacheBackends,
        catalogue: Catalogue,
        slots: Sequence[int] = DEFAULT_SLOTS,
        clock: Clock = now_ms,
    ) -> None:
        self.cache = cache
        self.catalogue = catalogue
        self.slots = tuple(sorted(slots))
        self.clock = clock
        self.spend = Spend(store, cache.budgets)
        self.pipeline = ads_pipeline(store, cache, catalogue, self.spend, len(self.slots), clock)
        self.runner = Runner(self.pipeline)

    def place(self, query: Query, organic: Candidates, trace: Trace | None = None) -> Candidates:
        """The organic page with promoted entries in its slots, each charged and recorded
        as served (so this is the serving path), as a step of `trace` when given. The page
        keeps its limit: ads take the places of the lowest organic entries, which stay
        unserved for the next page."""
        started = time.perf_counter()
        ads = self._ads(query)
        if ads is None:
            return organic
        page = _without(organic, ads.candidates.source_id)
        taken = positions(self.slots, len(page), len(ads.candidates), query.page.limit)
        placed = self._charge(ads, ads.candidates.take(np.arange(len(taken))))
        mixed = _placed(page, placed, taken[: len(placed)], query.page.limit)
        if trace is not None:
            seconds = time.perf_counter() - started
            trace.steps.append(Step("mixer", STEP_ID, seconds, len(page), len(mixed)))
        return mixed

    def close(self) -> None:
        self.runner.close()

    def _ads(self, query: Query) -> Mixed[AdsQuery] | None:
        """The ads pipeline's picks; None when it failed: ads never cost the organic page."""
        try:
            return self.runner.run(AdsQuery(query.viewer_id, query.page, query.following))
        except Exception:
            FAILURES.inc()
            log.exception("ads pipeline failed; page served without ads")
            return None

    def _charge(self, ads: Mixed[AdsQuery], chosen: Candidates) -> Candidates:
        """Charges one impression of each chosen ad and records the spend in the store;
        those refused (their budget ran out since eligibility was read) are left out, and
        all are when the spend could not be charged or recorded."""
        if not len(chosen):
            return chosen
        campaigns = _campaigns(ads.query, chosen.campaign_id)
        try:
            done = self.spend.charge(campaigns)
        except CacheUnavailable as exc:
            degraded("ads_spend", exc)
            return _none_of(chosen)
        except StoreUnavailable:
            SPEND_UNRECORDED.inc()
            log.warning("ads spend not recorded (store unavailable); page served without ads")
            return _none_of(chosen)
        charged = np.array(done, dtype=np.bool_)
        spent = sum(c.price for c, ok in zip(campaigns, done, strict=True) if ok)
        IMPRESSIONS.inc(int(charged.sum()))
        SPEND_CENTS.inc(spent / MILLICENTS_PER_CENT)
        CHARGES_REFUSED.inc(int((~charged).sum()))
        placed = chosen.take(charged)
        self._record_served(ads.query, placed)
        return placed

    def _record_served(self, query: AdsQuery, placed: Candidates) -> None:
        if not len(placed):
            return
        served_at = self.clock()
        campaigns = _campaigns(query, placed.campaign_id)
        explanations = {
            int(post_id): json.dumps(self._explanation(query, campaign, served_at))
            for post_id, campaign in zip(placed.post_id.tolist(), campaigns, strict=True)
        }
        try:
            self.cache.served.record(query.viewer_id, explanations, SERVED_TTL_S)
        except CacheUnavailable as exc:
            degraded("for_you_served", exc)

    def _explanation(
        self, query: AdsQuery, campaign: Campaign, served_at: int
    ) -> dict[str, object]:
        """Why a promoted entry was served: its campaign, what of its targeting the viewer
        matched, and every rule and filter it passed."""
        viewer = query.viewer
        return {
            "source": STEP_ID,
            "promoted": promoted_marker(campaign.id, campaign.advertiser_id),
            "bid_cpm_cents": campaign.bid_cpm_cents,
            "targeting": {
                "everyone": not campaign.regions and not campaign.interests,
                "regions": list(campaign.regions),
                "interests": list(campaign.interests),
                "matched_region": viewer.region if campaign.regions else None,
                "matched_interests": matched(viewer.interests, campaign.interests),
            },
            "rules_passed": list(RULES),
            "filters_passed": [f.id for f in self.pipeline.filters],
            "served_at": served_at,
        }


def promoted_marker(campaign_id: int, advertiser_id: int) -> dict[str, str]:
    """The `promoted` field of a promoted status entity and of its explanation."""
    return {"campaign_id": str(campaign_id), "advertiser_id": str(advertiser_id)}


def _campaigns(query: AdsQuery, campaign_ids: Ids) -> list[Campaign]:
    return query.eligible.live.take(query.eligible.rows_of(campaign_ids))


def _none_of(chosen: Candidates) -> Candidates:
    return chosen.take(np.zeros(len(chosen), dtype=np.bool_))


def _without(page: Candidates, promoted_sources: Ids) -> Candidates:
    """The organic rows but those showing a promoted post (its original or a repost)."""
    if not len(promoted_sources):
        return page
    return page.take(~np.isin(page.source_id, promoted_sources))


def _placed(page: Candidates, ads: Candidates, taken: Sequence[int], limit: int) -> Candidates:
    """The organic rows in order with the ads at their positions, at most `limit` rows."""
    if not len(ads):
        return page
    size = min(limit, len(page) + len(ads))
    order = np.full(size, -1, dtype=np.intp)
    order[list(taken)] = len(page) + np.arange(len(ads))
    free = order < 0
    order[free] = np.arange(int(free.sum()))
    return Candidates.concat([page, ads]).take(order)
