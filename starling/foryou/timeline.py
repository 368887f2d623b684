"""The For You timeline, declared as a pipeline on the mixer's runner: the in-network
source and the out-of-network sources it is given, run side by side and fail-open;
posts, engagement counts and the light features hydrated in batches (starling/ranking/);
filtered cheapest first; ranked by the heaviest rung of its ranking ladder that fits the
latency budget (heavy ranker behind the light ranker's 500 cut, light ranker, heuristic);
a ranked page with at most two out-of-network entries in a row. Each page served is
recorded per viewer with why each entry is there, so the next page leaves it out and
explain can answer.

A request is served from the viewer's ranked list when a fresh one is cached (kept by
the precompute worker, or left by the previous page); otherwise the pipeline runs, its
first page is returned, and the rest of its list is cached for the next pages off the
request's path. When the pipeline fails, or has spent its whole budget before ranking,
the viewer's last list is served stale. See docs/subsystems/foryou.md.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from starling.activity import ActivityMarks
from starling.cache.backends import CacheBackends
from starling.cache.errors import CacheUnavailable, degraded
from starling.foryou import ranked_list
from starling.foryou.budgets import DEFAULT_SCALE, budgets, rung_budget
from starling.foryou.filters import (
    AuthorDiversity,
    Clock,
    NotOwn,
    NotSeen,
    NotServed,
    Recent,
    SocialProof,
)
from starling.foryou.hydrators import AuthorFollowers, EngagementCounts
from starling.foryou.precompute import FRESH_MS, RecentReaders
from starling.foryou.ranked_list import RankedList
from starling.foryou.selector import RankedPage
from starling.foryou.sources import IN_NETWORK_CANDIDATES
from starling.ids import now_ms
from starling.mixer import Filter, Mixed, Page, Pipeline, Query, Runner, Source
from starling.mixer.candidates import FEATURES, Candidates
from starling.mixer.filters import Live, NotHidden, RepostDedup
from starling.mixer.follows import FollowSet
from starling.mixer.in_network import EnsureTimeline, InNetworkSource
from starling.mixer.ladder import CHRONOLOGICAL, Rung
from starling.mixer.latency import Clock as Timer
from starling.mixer.posts import PostRecords
from starling.mixer.records import KeptRecords
from starling.model import Post
from starling.ranking.stages import RankingInputs, RankingStages
from starling.store.base import Store

if TYPE_CHECKING:  # the ads step reuses For You's filters: no import cycle at run time
    from starling.ads.placement import PromotedSlots

log = logging.getLogger(__name__)

PAGE_SIZE = 35
SERVED_TTL_S = 48 * 3600  # as long as an entry can pass the age filter
SEEN_TTL_S = SERVED_TTL_S
RANKED_TTL_S = 3600  # a list is fresh for FRESH_MS, then kept this long as the stale fallback
STALE = "stale"
HEAVY = "heavy"
TRAINED = (HEAVY, "light")  # tiers whose scores the light model explains


@dataclass(frozen=True)
class Served:
    """One page: its rows (promoted ones carry their `campaign_id`), the ranking tier
    that served it (heavy, light, heuristic, chronological or stale) and the list it came
    from, for the pages after it."""

    page: Candidates
    ranking: str
    listed: RankedList | None

    @property
    def posts(self) -> list[Post]:
        return self.page.records()


class ForYouTimeline:
    def __init__(
        self,
        store: Store,
        cache: CacheBackends,
        activity: ActivityMarks,
        ensure_timeline: EnsureTimeline,
        out_of_network: Sequence[Source[Query]] = (),
        clock: Clock = now_ms,
        budget_scale: float = DEFAULT_SCALE,
        timer: Timer = time.perf_counter,
        ads: PromotedSlots | None = None,
        ranking: RankingInputs | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.clock = clock
        self.budget_scale = budget_scale
        self.ads = ads  # the mixer pipeline's ads step, on every page served
        self.ranking = RankingStages(ranking or RankingInputs(), clock, store)
        self.records = KeptRecords(store)  # the pipeline's; pages re-read theirs
        in_network = InNetworkSource(
            store, cache, activity, ensure_timeline, candidates=IN_NETWORK_CANDIDATES
        )
        sources = [in_network, *out_of_network]
        self.pipeline = self._pipeline(sources, serving=True)
        self.runner = Runner(self.pipeline, clock=timer)
        # Candidate-only: what the ranked page is chosen from, without the served and seen
        # records, ranking, selection or budgets (the impressions ranking models learn from).
        self.candidate_runner = Runner(self._pipeline(sources, serving=False), clock=timer)
        self.readers = RecentReaders(clock)
        self._page_filters: list[Filter[Query]] = [NotServed(cache.served), NotSeen(cache.seen)]
        # A kept list's page may have been ranked before its authors were hidden; the
        # pipeline's own page only on kept records, which may miss a deletion.
        self._page_checks: list[Filter[Query]] = [Live(), NotHidden(store)]
        self._first_page_checks: list[Filter[Query]] = [Live()]
        self._keeper = ThreadPoolExecutor(1, thread_name_prefix="for_you-keeper")
        self._kept: Future[None] | None = None

    def _pipeline(self, sources: Sequence[Source[Query]], *, serving: bool) -> Pipeline[Query]:
        """For You, declared. Filters run cheapest first, except that author diversity
        runs last: it keeps the newest entries of each author among the survivors."""
        store = self.store
        served: list[Filter[Query]] = [NotServed(self.cache.served), NotSeen(self.cache.seen)]
        return Pipeline(
            product="for_you" if serving else "for_you_candidates",
            query_hydrators=[FollowSet(store)],
            sources=sources,
            hydrators=[
                PostRecords(self.records),
                *self.ranking.hydrators,
            ],
            filters=[
                Live(),
                NotOwn(),
                Recent(self.clock),
                SocialProof(),
                self.ranking.low_quality,
                RepostDedup(),
                *(served if serving else []),
                NotHidden(store),
                AuthorDiversity(),
            ],
            post_filter_hydrators=[
                EngagementCounts(self.cache.counters),
                AuthorFollowers(store, self.clock),
                *self.ranking.post_filter_hydrators,
            ],
            ranking=self._ranking() if serving else [],
            selectors=[RankedPage()] if serving else [],
            budgets=budgets(self.budget_scale) if serving else None,
        )

    def _ranking(self) -> list[Rung[Query]]:
        """The ladder, heaviest first; past its last rung the runner ranks newest first.
        Heavy is the light ranker, then its 500 cut handing the best to the heavy ranker;
        light is the light ranker alone. A rung whose model is not trained yet is passed
        over (ready)."""
        scale, r = self.budget_scale, self.ranking
        return [
            Rung(HEAVY, r.heavy, rung_budget(HEAVY, scale), ready=r.heavy_ready),
            Rung("light", [r.light], rung_budget("light", scale), ready=r.light_ready),
            Rung("heuristic", [r.heuristic], rung_budget("heuristic", scale)),
        ]

    def read(
        self,
        viewer_id: int,
        *,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> list[Post]:
        """The next ranked page: the best entries not served to the viewer yet (newer
        than since_id or min_id when given); recorded as served."""
        return self.serve(viewer_id, since_id=since_id, min_id=min_id, limit=limit).posts

    def serve(
        self,
        viewer_id: int,
        *,
        since_id: int | None = None,
        min_id: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> Served:
        """As `read`, with the tier that ranked the page and the list it came from."""
        self.readers.read(viewer_id)
        query = Query(viewer_id, Page(since_id=since_id, min_id=min_id, limit=limit))
        newer = query.page.lower is not None  # a cached list knows nothing newer
        listed = None if newer else self._listed(viewer_id)
        if listed is not None and self.clock() - listed.ranked_at < FRESH_MS:
            served = self.next_page(viewer_id, listed, limit)
            if served.posts:
                return served
        try:
            mixed = self.mix(query)
        except Exception:
            if listed is None:
                raise
            log.exception("For You serves a stale list: the pipeline failed")
            return self.next_page(viewer_id, listed, limit, stale=True)
        if mixed.trace.late and listed is not None:
            return self.next_page(viewer_id, listed, limit, stale=True)
        ranking = mixed.trace.ranking or CHRONOLOGICAL
        kept = None
        if not newer and ranking != CHRONOLOGICAL:  # a degraded list is not worth keeping
            kept = RankedList(ranking, mixed.scored, self.clock())
            self._keep_later(viewer_id, kept)
        page = self._reread(query, mixed.candidates, self._first_page_checks)
        page = self._with_ads(query, page, mixed)
        self._record_served(viewer_id, page, ranking)
        return Served(page, ranking, kept)

    def next_page(
        self, viewer_id: int, listed: RankedList, limit: int = PAGE_SIZE, *, stale: bool = False
    ) -> Served:
        """The next page of a ranked list: its best entries neither served nor seen, whose
        posts are still live and not hidden (two cache reads and two store reads)."""
        query = Query(viewer_id, Page(limit=limit))
        rest = listed.candidates
        for check in self._page_filters:
            if len(rest):
                rest = rest.take(check.keep(query, rest))
        page = rest.take(RankedPage().select(query, rest)) if len(rest) else rest
        page = self._with_ads(query, self._reread(query, page, self._page_checks))
        ranking = STALE if stale else listed.tier
        self._record_served(viewer_id, page, ranking, listed.tier)
        return Served(page, ranking, listed)

    def pages(self, viewer_id: int, limit: int) -> Iterator[Served]:
        """Pages of PAGE_SIZE until `limit` entries: the first as `serve` answers it, the
        next from the same ranked list (for the streaming endpoint)."""
        served = self.serve(viewer_id, limit=min(limit, PAGE_SIZE))
        left = limit - len(served.posts)
        yield served
        while left > 0 and served.posts and served.listed is not None:
            stale = served.ranking == STALE
            served = self.next_page(viewer_id, served.listed, min(left, PAGE_SIZE), stale=stale)
            left -= len(served.posts)
            yield served

    def mix(self, query: Query) -> Mixed[Query]:
        """One run of the organic pipeline: the page's candidates and the trace of every
        step (no ads: they are placed, and charged, only on pages served)."""
        return self.runner.run(query)

    def candidates(self, query: Query) -> Mixed[Query]:
        """Every candidate the page would be ranked from, hydrated and filtered as for
        serving, nothing recorded (the impressions ranking models learn from)."""
        return self.candidate_runner.run(query)

    def precompute(self, viewer_id: int) -> None:
        """Ranks the viewer's list and caches it (the precompute worker's step)."""
        mixed = self.mix(Query(viewer_id, Page(limit=PAGE_SIZE)))
        ranking = mixed.trace.ranking or CHRONOLOGICAL
        if ranking != CHRONOLOGICAL:
            self._keep(viewer_id, RankedList(ranking, mixed.scored, self.clock()))

    def forget(self, viewer_ids: Collection[int]) -> None:
        """Drops the viewers' lists (what they follow or hide changed)."""
        self.readers.forget(viewer_ids)
        self.cache.ranked.drop(list(viewer_ids))

    def report_seen(self, viewer_id: int, entry_ids: Sequence[int]) -> None:
        """Entries the viewer's client showed on screen: never served to it again."""
        self.cache.seen.record(viewer_id, dict.fromkeys(entry_ids, ""), SEEN_TTL_S)

    def explain(self, viewer_id: int, entry_id: int) -> dict[str, Any] | None:
        """Why an entry served to the viewer is there; None for one not served to them."""
        try:
            found = self.cache.served.explanation(viewer_id, entry_id)
        except CacheUnavailable as exc:
            degraded("for_you_explain", exc)
            return None
        return None if found is None else dict(json.loads(found))

    def settle(self) -> None:
        """Waits until the lists being cached off the request path are written."""
        kept = self._kept
        if kept is not None:
            kept.result()

    def close(self) -> None:
        self._keeper.shutdown(wait=True)
        self.runner.close()
        self.candidate_runner.close()
        if self.ads is not None:
            self.ads.close()

    def _reread(
        self, query: Query, page: Candidates, checks: Sequence[Filter[Query]]
    ) -> Candidates:
        """The page with its records read afresh from the store (one call, and the
        kept records replaced), less the rows a check drops."""
        if len(page):
            page = PostRecords(self.records.fresh).hydrate(query, page)
        for check in checks:
            if len(page):
                page = page.take(check.keep(query, page))
        return page

    def _with_ads(
        self, query: Query, organic: Candidates, mixed: Mixed[Query] | None = None
    ) -> Candidates:
        """The page with promoted entries in their slots (each charged and recorded by
        the ads step), whether it came from the pipeline or from a kept list."""
        if self.ads is None:
            return organic
        return self.ads.place(query, organic, None if mixed is None else mixed.trace)

    def _listed(self, viewer_id: int) -> RankedList | None:
        try:
            found = self.cache.ranked.get(viewer_id)
        except CacheUnavailable as exc:
            degraded("for_you_ranked", exc)  # no precompute: the pipeline runs
            return None
        return None if found is None else ranked_list.decode(*found)

    def _keep_later(self, viewer_id: int, listed: RankedList) -> None:
        self._kept = self._keeper.submit(self._keep, viewer_id, listed)

    def _keep(self, viewer_id: int, listed: RankedList) -> None:
        stored = ranked_list.encode(listed.tier, listed.candidates)
        try:
            self.cache.ranked.put(viewer_id, stored, listed.ranked_at, RANKED_TTL_S)
        except CacheUnavailable as exc:
            degraded("for_you_ranked", exc)
            return
        self.readers.ranked(viewer_id, listed.ranked_at)

    def _record_served(
        self, viewer_id: int, page: Candidates, ranking: str, tier: str | None = None
    ) -> None:
        explanations = self._explanations(viewer_id, page, ranking, tier or ranking)
        try:
            self.cache.served.record(viewer_id, explanations, SERVED_TTL_S)
        except CacheUnavailable as exc:
            degraded("for_you_served", exc)

    def _explanations(
        self, viewer_id: int, page: Candidates, ranking: str, tier: str
    ) -> dict[int, str]:
        """Entry id -> why it was served: its source, score and the scorer that gave it,
        the ranking tier, the light model, its score and top features (when a trained
        ranker ranked it), the heavy ranker's probabilities (when it did), features,
        social proof and the filters it passed (every filter: a served entry survived
        them all). Promoted rows are the ads step's to explain."""
        pipeline = self.pipeline
        passed = [f.id for f in pipeline.filters]
        sources = [s.id for s in pipeline.sources]
        scorer = self.runner.scorer_of(tier)
        served_at = self.clock()
        light = self.ranking.light.explain(page) if tier in TRAINED else None
        heavy = None
        if tier == HEAVY and len(page):
            heavy = self.ranking.explain_heavy(Query(viewer_id, Page()), page)
        return {
            int(page.post_id[row]): json.dumps(
                {
                    "source": sources[int(page.pipeline[row])],
                    "score": float(page.score[row]),
                    "scorer": scorer,
                    "ranking": ranking,
                    **(light[row] if light is not None else {}),
                    **(heavy[row] if heavy is not None else {}),
                    "features": dict(zip(FEATURES, page.features[row].tolist(), strict=True)),
                    "social_proof": [str(a) for a in page.social_proof[row]],
                    "filters_passed": passed,
                    "served_at": served_at,
                }
            )
            for row in np.flatnonzero(page.campaign_id == 0).tolist()
        }
