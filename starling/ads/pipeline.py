"""The ads candidate pipeline of the For You timeline, declared on the mixer's runner:
a gate (any live campaign at all), the viewer's targeting and the campaigns eligible for
it as query features, their promoted posts as the one source, post records, the shared
filters (live, not served before, no hidden author), the bid as the score, and the best
bids for the page's slots. See docs/subsystems/ads.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from starling.ads.catalogue import NO_CAMPAIGNS, Catalogue, Clock
from starling.ads.eligibility import Eligible, Viewer, eligible
from starling.ads.spend import Spend
from starling.cache.backends import CacheBackends
from starling.cache.errors import CacheUnavailable, degraded
from starling.foryou.filters import NotServed
from starling.mixer import (
    Candidates,
    Gate,
    Pipeline,
    Query,
    QueryHydrator,
    Scorer,
    Selector,
    Source,
)
from starling.mixer.candidates import Rows, Scores
from starling.mixer.filters import Live, NotHidden
from starling.mixer.posts import PostRecords
from starling.store.base import Store

PRODUCT = "for_you_ads"
INTEREST_POSTS = 50  # latest own posts and likes whose hashtags are the viewer's interests
NONE_ELIGIBLE = Eligible(NO_CAMPAIGNS, np.empty(0, np.intp), np.empty(0, np.int64))


@dataclass(frozen=True)
class AdsQuery(Query):
    """The For You query plus the targeting features and the eligible campaigns."""

    viewer: Viewer = field(default_factory=lambda: Viewer(0))
    eligible: Eligible = NONE_ELIGIBLE


class AnyLiveCampaign(Gate[AdsQuery]):
    """No live campaign at all: the pipeline costs nothing more (no store read)."""

    id = "any-live-campaign"

    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def allows(self, query: AdsQuery) -> bool:
        return len(self.catalogue.live()) > 0


class ViewerTargeting(QueryHydrator[AdsQuery]):
    """The viewer's region (one account read) and the hashtags of its latest posts and
    likes (one query); each only when some live campaign targets by it."""

    id = "viewer-targeting"

    def __init__(self, store: Store, catalogue: Catalogue) -> None:
        self.store = store
        self.catalogue = catalogue

    def hydrate(self, query: AdsQuery) -> AdsQuery:
        live, viewer_id = self.catalogue.live(), query.viewer_id
        region = ""
        if live.targets_regions:
            found = self.store.get_accounts([viewer_id]).get(viewer_id)
            region = "" if found is None else found.region
        interests: set[str] = set()
        if live.targets_interests:
            interests = self.store.recent_hashtags(viewer_id, INTEREST_POSTS)
        return replace(query, viewer=Viewer(viewer_id, region, frozenset(interests)))


class EligibleCampaigns(QueryHydrator[AdsQuery]):
    """The live campaigns this viewer may be shown now (eligibility.py): one read of
    their spend. Without the cache no spend can be read or charged: no ads."""

    id = "eligible-campaigns"

    def __init__(self, catalogue: Catalogue, spend: Spend, clock: Clock) -> None:
        self.catalogue = catalogue
        self.spend = spend
        self.clock = clock

    def hydrate(self, query: AdsQuery) -> AdsQuery:
        try:
            found = eligible(self.catalogue.live(), query.viewer, self.spend, self.clock())
        except CacheUnavailable as exc:
            degraded("ads_spend", exc)
            return query
        return replace(query, eligible=found)


class PromotedPosts(Source[AdsQuery]):
    """One row per eligible campaign: its post, stamped with the campaign."""

    id = "promoted-posts"

    def fetch(self, query: AdsQuery) -> Candidates:
        live, rows = query.eligible.live, query.eligible.rows
        return Candidates.of(live.post_id[rows]).with_columns(campaign_id=live.id[rows])


class Bid(Scorer[AdsQuery]):
    """The bid (cost per thousand impressions) of each row's campaign."""

    id = "bid"

    def score(self, query: AdsQuery, candidates: Candidates) -> Scores:
        eligible = query.eligible
        prices = eligible.live.price[eligible.rows_of(candidates.campaign_id)]
        return prices.astype(np.float64)


class BestBids(Selector[AdsQuery]):
    """The best bids first, one per post and one per advertiser, at most `slots`."""

    id = "best-bids"

    def __init__(self, slots: int) -> None:
        self.slots = slots

    def select(self, query: AdsQuery, candidates: Candidates) -> Rows:
        order = np.argsort(-candidates.score, kind="stable")
        _, first_post = np.unique(candidates.post_id[order], return_index=True)
        _, first_author = np.unique(candidates.author_id[order], return_index=True)
        kept = np.intersect1d(first_post, first_author)  # positions in `order`, ascending
        chosen: Rows = order[kept[: self.slots]]
        return chosen


def ads_pipeline(
    store: Store,
    cache: CacheBackends,
    catalogue: Catalogue,
    spend: Spend,
    slots: int,
    clock: Clock,
) -> Pipeline[AdsQuery]:
    return Pipeline(
        product=PRODUCT,
        gates=[AnyLiveCampaign(catalogue)],
        query_hydrators=[
            ViewerTargeting(store, catalogue),
            EligibleCampaigns(catalogue, spend, clock),
        ],
        sources=[PromotedPosts()],
        hydrators=[PostRecords(store)],
        filters=[Live(), NotServed(cache.served), NotHidden(store)],
        scorers=[Bid()],
        selectors=[BestBids(slots)],
    )
