"""The For You timeline, declared as a pipeline on the mixer's runner: the in-network
source and the out-of-network sources it is given, run side by side and fail-open;
posts, engagement counts and the light features hydrated in batches (starling/ranking/);
filtered cheapest first; scored by the light ranker (the heuristic scorer until a model
is trained); a ranked page with at most two out-of-network entries in
a row. Each page served is recorded per viewer with why each entry is there,
so the next page leaves it out and explain can answer. See docs/subsystems/foryou.md.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from starling.activity import ActivityMarks
from starling.cache.backends import CacheBackends
from starling.cache.errors import CacheUnavailable, degraded
from starling.foryou.filters import AuthorDiversity, Clock, NotOwn, NotServed, Recent, SocialProof
from starling.foryou.hydrators import AuthorFollowers, EngagementCounts
from starling.foryou.selector import RankedPage
from starling.foryou.sources import IN_NETWORK_CANDIDATES
from starling.ids import now_ms
from starling.mixer import Mixed, Page, Pipeline, Query, Runner, Source
from starling.mixer.candidates import FEATURES, Candidates
from starling.mixer.filters import Live, NotHidden, RepostDedup
from starling.mixer.follows import FollowSet
from starling.mixer.in_network import EnsureTimeline, InNetworkSource
from starling.mixer.posts import PostRecords
from starling.model import Post
from starling.ranking.light import LightRanker
from starling.ranking.stages import RankingInputs, RankingStages
from starling.store.base import Store

PAGE_SIZE = 35
SERVED_TTL_S = 48 * 3600  # as long as an entry can pass the age filter


class ForYouTimeline:
    def __init__(
        self,
        store: Store,
        cache: CacheBackends,
        activity: ActivityMarks,
        ensure_timeline: EnsureTimeline,
        out_of_network: Sequence[Source[Query]] = (),
        clock: Clock = now_ms,
        ranking: RankingInputs | None = None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.clock = clock
        self.ranking = RankingStages(ranking or RankingInputs(), clock)
        in_network = InNetworkSource(
            store, cache, activity, ensure_timeline, candidates=IN_NETWORK_CANDIDATES
        )
        sources = [in_network, *out_of_network]
        self.pipeline = self._pipeline(sources, serving=True)
        self.runner = Runner(self.pipeline)
        # Candidate-only: what the ranked page is chosen from, without the served record,
        # scoring or selection (the impressions that ranking models learn from).
        self.candidate_runner = Runner(self._pipeline(sources, serving=False))

    def _pipeline(self, sources: Sequence[Source[Query]], *, serving: bool) -> Pipeline[Query]:
        """For You, declared. Filters run cheapest first, except that author diversity
        runs last: it keeps the newest entries of each author among the survivors."""
        store = self.store
        return Pipeline(
            product="for_you" if serving else "for_you_candidates",
            query_hydrators=[FollowSet(store)],
            sources=sources,
            hydrators=[
                PostRecords(store),
                EngagementCounts(self.cache.counters),
                AuthorFollowers(store),
                *self.ranking.hydrators,
            ],
            filters=[
                Live(),
                NotOwn(),
                Recent(self.clock),
                SocialProof(),
                self.ranking.low_quality,
                RepostDedup(),
                *([NotServed(self.cache.served)] if serving else []),
                NotHidden(store),
                AuthorDiversity(),
            ],
            scorers=[self.ranking.scorer] if serving else [],
            selectors=[RankedPage()] if serving else [],
        )

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
        mixed = self.mix(Query(viewer_id, Page(since_id=since_id, min_id=min_id, limit=limit)))
        self._record_served(mixed)
        return mixed.candidates.records()

    def mix(self, query: Query) -> Mixed[Query]:
        """One run of the pipeline: the page's candidates and the trace of every step."""
        return self.runner.run(query)

    def candidates(self, query: Query) -> Mixed[Query]:
        """Every candidate the page would be ranked from, hydrated and filtered as for
        serving, nothing recorded."""
        return self.candidate_runner.run(query)

    def close(self) -> None:
        self.runner.close()
        self.candidate_runner.close()

    def explain(self, viewer_id: int, entry_id: int) -> dict[str, Any] | None:
        """Why an entry served to the viewer is there; None for one not served to them."""
        try:
            found = self.cache.served.explanation(viewer_id, entry_id)
        except CacheUnavailable as exc:
            degraded("for_you_explain", exc)
            return None
        return None if found is None else dict(json.loads(found))

    def _record_served(self, mixed: Mixed[Query]) -> None:
        explanations = _explanations(
            self.pipeline, self.ranking.scorer, mixed.candidates, self.clock()
        )
        try:
            self.cache.served.record(mixed.query.viewer_id, explanations, SERVED_TTL_S)
        except CacheUnavailable as exc:
            degraded("for_you_served", exc)


def _explanations(
    pipeline: Pipeline[Query], scorer: LightRanker, page: Candidates, served_at: int
) -> dict[int, str]:
    """Entry id -> why it was served: its source, score, the model and its top features,
    features, social proof and the filters it passed (every filter: a served entry
    survived them all)."""
    passed = [f.id for f in pipeline.filters]
    sources = [s.id for s in pipeline.sources]
    light = scorer.explain(page)
    return {
        int(page.post_id[row]): json.dumps(
            {
                "source": sources[int(page.pipeline[row])],
                "score": float(page.score[row]),
                "scorer": pipeline.scorers[-1].id,
                **light[row],
                "features": dict(zip(FEATURES, page.features[row].tolist(), strict=True)),
                "social_proof": [str(a) for a in page.social_proof[row]],
                "filters_passed": passed,
                "served_at": served_at,
            }
        )
        for row in range(len(page))
    }
