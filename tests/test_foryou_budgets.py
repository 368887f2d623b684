"""For You under its latency budgets: pages from the cached ranked list, the stale
fallback, precompute for active viewers, the seen filter and the streaming variant.
Driven by fake clocks and deliberately slow or failing components; counted, not timed."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest

from starling.cache.errors import CacheUnavailable
from starling.events import FollowCreated
from starling.foryou.precompute import ACTIVE_MS, FRESH_MS, REFRESH_MS, PrecomputeWorker
from starling.foryou.sources import OutOfNetworkSource, Proposal
from starling.foryou.timeline import ForYouTimeline
from starling.ids import now_ms
from starling.mixer import Page, Query
from starling.model import Account, Post
from starling.runtime import Runtime
from starling.store.base import IdArray, StoreUnavailable
from tests.counting import Counting
from tests.fixtures_api import ApiFactory

Accounts = Callable[[int], list[Account]]


class Clock:
    """Milliseconds that move only when told."""

    def __init__(self) -> None:
        self.now = now_ms()

    def __call__(self) -> int:
        return self.now


class Timer:
    """The runner's seconds, moved by slow components."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Proposals:
    """An out-of-network index that proposes what it is given, counting its calls; while
    `slow_s` is set each call takes that long on the runner's timer."""

    def __init__(self, timer: Timer, proposals: Sequence[Proposal] = ()) -> None:
        self.timer = timer
        self.proposals = list(proposals)
        self.calls = 0
        self.slow_s = 0.0

    def candidates(self, viewer_id: int, following: IdArray, limit: int) -> Sequence[Proposal]:
        self.calls += 1
        self.timer.now += self.slow_s
        return self.proposals[:limit]


class FakeOutOfNetwork(OutOfNetworkSource):
    id = "fake-out-of-network"


class FlakyStore(Counting):
    """The store, counted; its follow-set read fails while `down`."""

    down = False

    def following(self, *args: Any) -> Any:
        if self.down:
            raise StoreUnavailable("store unreachable")
        return self._target.following(*args)


class NoRankedLists:
    def put(self, *args: Any) -> None:
        raise CacheUnavailable("down")

    def get(self, viewer_id: int) -> None:
        raise CacheUnavailable("down")

    def drop(self, viewer_ids: Any) -> None:
        raise CacheUnavailable("down")

    def close(self) -> None: ...


@dataclasses.dataclass
class World:
    timeline: ForYouTimeline
    index: Proposals
    store: FlakyStore
    clock: Clock
    timer: Timer
    viewer: Account
    written: list[Post]


# The budgets these tests are written against (on the fake timer): 50 ms in all.
SCALE = 50 / 1500


def world(runtime: Runtime, accounts: Accounts, posts: int = 8, **cache: Any) -> World:
    viewer, *friends = accounts(1 + posts // 2)  # two posts each: within author diversity
    for friend in friends:
        runtime.actions.follow(viewer.id, friend.id)
    written = [runtime.actions.post(friends[i // 2].id, f"post {i}") for i in range(posts)]
    clock, timer, store = Clock(), Timer(), FlakyStore(runtime.store)
    index = Proposals(timer)
    timeline = ForYouTimeline(
        store,
        dataclasses.replace(runtime.cache, **cache),
        runtime.activity,
        runtime.home.ensure_timeline,
        out_of_network=[FakeOutOfNetwork(index)],
        clock=clock,
        timer=timer,
        budget_scale=SCALE,
    )
    return World(timeline, index, store, clock, timer, viewer, written)


def ids(found: Sequence[Post]) -> list[int]:
    return [p.id for p in found]


def test_the_next_page_comes_from_the_kept_list_without_a_pipeline_run(
    runtime: Runtime, accounts: Accounts
) -> None:
    w = world(runtime, accounts)
    first = w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()
    w.store.reset()

    second = w.timeline.serve(w.viewer.id, limit=3)

    assert (first.ranking, second.ranking) == ("heuristic", "heuristic")
    assert w.index.calls == 1
    assert w.store.calls == {"get_posts": 1, "hidden_authors": 1}
    assert len(second.posts) == 3 and not set(ids(first.posts)) & set(ids(second.posts))
    third = w.timeline.serve(w.viewer.id, limit=3)
    assert set(ids(first.posts + second.posts + third.posts)) == set(ids(w.written))


def test_a_list_past_three_minutes_is_ranked_again(runtime: Runtime, accounts: Accounts) -> None:
    w = world(runtime, accounts)
    w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()
    w.clock.now += FRESH_MS

    w.timeline.serve(w.viewer.id, limit=3)

    assert w.index.calls == 2


def test_newer_than_a_cursor_runs_the_pipeline(runtime: Runtime, accounts: Accounts) -> None:
    w = world(runtime, accounts)
    w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()

    w.timeline.serve(w.viewer.id, since_id=w.written[-3].id, limit=3)

    assert w.index.calls == 2


def test_a_failing_pipeline_serves_the_stale_list(runtime: Runtime, accounts: Accounts) -> None:
    w = world(runtime, accounts)
    first = w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()
    w.clock.now += FRESH_MS  # stale: the pipeline must run, and fails
    w.store.down = True

    stale = w.timeline.serve(w.viewer.id, limit=3)

    assert stale.ranking == "stale"
    assert len(stale.posts) == 3 and not set(ids(first.posts)) & set(ids(stale.posts))
    explained = w.timeline.explain(w.viewer.id, stale.posts[0].id)
    assert explained is not None
    assert (explained["ranking"], explained["scorer"]) == ("stale", "heuristic-score")


def test_a_failing_pipeline_with_no_list_fails(runtime: Runtime, accounts: Accounts) -> None:
    w = world(runtime, accounts)
    w.store.down = True

    with pytest.raises(StoreUnavailable):
        w.timeline.serve(w.viewer.id)


def test_a_request_that_spent_its_budget_before_ranking_serves_the_stale_list(
    runtime: Runtime, accounts: Accounts
) -> None:
    w = world(runtime, accounts)
    w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()
    w.clock.now += FRESH_MS
    w.index.slow_s = 0.2  # past the whole 40 ms of the pipeline's budgets

    late = w.timeline.serve(w.viewer.id, limit=3)

    assert late.ranking == "stale"
    assert w.index.calls == 2


def test_a_slow_out_of_network_source_is_asked_for_fewer(
    runtime: Runtime, accounts: Accounts
) -> None:
    w = world(runtime, accounts)
    w.index.slow_s = 0.01  # over its 6.7 ms target, well inside its timeout
    asked: list[int] = []
    original = w.index.candidates

    def counted(viewer_id: int, following: IdArray, limit: int) -> Sequence[Proposal]:
        asked.append(limit)
        return original(viewer_id, following, limit)

    w.index.candidates = counted  # type: ignore[method-assign]
    for _ in range(3):
        w.timeline.mix(Query(w.viewer.id, Page(limit=3)))

    assert asked == [750, 732, 714]  # 750 x 1.0, x 0.97625, x 0.9525


def test_without_the_cache_there_is_no_precompute(runtime: Runtime, accounts: Accounts) -> None:
    w = world(runtime, accounts, ranked=NoRankedLists())

    first = w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()
    second = w.timeline.serve(w.viewer.id, limit=3)

    assert w.index.calls == 2
    assert first.ranking == second.ranking == "heuristic"
    assert not set(ids(first.posts)) & set(ids(second.posts))


def test_the_precompute_worker_keeps_active_viewers_lists_fresh(
    runtime: Runtime, accounts: Accounts
) -> None:
    w = world(runtime, accounts)
    worker = PrecomputeWorker(runtime.log, lambda: w.timeline)
    w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()
    worker.tick()
    assert w.index.calls == 1  # the list is young

    w.clock.now += REFRESH_MS
    worker.tick()
    assert w.index.calls == 2  # refreshed before it stops being fresh
    w.clock.now += FRESH_MS - 1  # fresh only because the worker ranked it again
    w.timeline.serve(w.viewer.id, limit=3)
    assert w.index.calls == 2

    w.clock.now += ACTIVE_MS
    worker.tick()
    assert w.index.calls == 2  # no longer active: left alone


def test_a_follow_drops_the_precomputed_list(runtime: Runtime, accounts: Accounts) -> None:
    w = world(runtime, accounts)
    worker = PrecomputeWorker(runtime.log, lambda: w.timeline)
    w.timeline.serve(w.viewer.id, limit=3)
    w.timeline.settle()

    worker.apply([FollowCreated(follower_id=w.viewer.id, followee_id=1, created_at=w.clock())])

    assert w.index.calls == 2  # ranked again at once, with what it follows now
    assert runtime.cache.ranked.get(w.viewer.id) is not None


def test_entries_reported_seen_are_not_served(runtime: Runtime, accounts: Accounts) -> None:
    w = world(runtime, accounts, posts=4)
    w.timeline.report_seen(w.viewer.id, [w.written[0].id, w.written[1].id])

    served = w.timeline.serve(w.viewer.id)

    assert set(ids(served.posts)) == {w.written[2].id, w.written[3].id}


# Through the API


PATH = "/api/v1/timelines/for_you"
ROOMY = 100.0  # budgets a loaded test machine cannot overrun: the tier is the heuristic's


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def test_the_page_names_its_ranking_and_seen_reports_are_filtered(
    api_factory: ApiFactory,
) -> None:
    api = api_factory(foryou_budget_scale=ROOMY)
    alice, bob = api.register("alice"), api.register("bob")
    api.follow(alice, bob)
    written = [api.post(bob, f"post {i}")["id"] for i in range(3)]

    reported = api.client.post(f"{PATH}/seen", data={"ids[]": written[:2]}, headers=alice.auth)
    page = api.client.get(PATH, headers=alice.auth)

    assert reported.status_code == 200, reported.text
    assert _ids(page) == [written[2]]
    assert page.headers["X-Starling-Ranking"] == "heuristic"
    assert (
        api.client.post(f"{PATH}/seen", data={"ids[]": "x"}, headers=alice.auth).status_code == 422
    )
    assert api.client.post(f"{PATH}/seen", data={"ids[]": written[0]}).status_code == 401


def test_the_stream_answers_one_status_per_line_in_ranked_order(api_factory: ApiFactory) -> None:
    api = api_factory(foryou_budget_scale=ROOMY)
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    api.follow(alice, bob)
    api.follow(alice, carol)
    written = {api.post(author, f"post {i}")["id"] for author in (bob, carol) for i in range(3)}

    with api.client.stream("GET", f"{PATH}/stream", params={"limit": 4}, headers=alice.auth) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) for line in r.iter_lines() if line]

    assert lines[0] == {"ranking": "heuristic"}
    statuses = lines[1:]
    assert len(statuses) == 4 and {s["id"] for s in statuses} <= written
    rest = _ids(api.client.get(PATH, headers=alice.auth))
    assert set(rest) == written - {s["id"] for s in statuses}
