"""The For You timeline: candidates per stage, each filter, the out-of-network rules, a
failing source, and paging and explain through the API."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx

from starling.foryou.filters import POSTS_PER_AUTHOR
from starling.foryou.selector import MAX_OUT_OF_NETWORK_RUN
from starling.foryou.sources import OutOfNetworkSource, Proposal
from starling.foryou.timeline import ForYouTimeline
from starling.ids import now_ms
from starling.mixer import Page, Query
from starling.model import Account, Post
from starling.runtime import Runtime
from starling.store.base import IdArray
from starling.window import WINDOW_MS
from tests.fixtures_api import Api

Accounts = Callable[[int], list[Account]]


class Proposals:
    """An out-of-network index that proposes what it is given."""

    def __init__(self, proposals: Sequence[Proposal] = ()) -> None:
        self.proposals = list(proposals)

    def candidates(self, viewer_id: int, following: IdArray, limit: int) -> Sequence[Proposal]:
        return self.proposals[:limit]


class Offline:
    def candidates(self, viewer_id: int, following: IdArray, limit: int) -> Sequence[Proposal]:
        raise RuntimeError("index offline")


class FakeOutOfNetwork(OutOfNetworkSource):
    id = "fake-out-of-network"


def for_you(
    runtime: Runtime, index: object = None, clock: Callable[[], int] = now_ms
) -> ForYouTimeline:
    sources = [] if index is None else [FakeOutOfNetwork(index)]  # type: ignore[arg-type]
    return ForYouTimeline(
        runtime.store,
        runtime.cache,
        runtime.activity,
        runtime.home.ensure_timeline,
        out_of_network=sources,
        clock=clock,
        budget_scale=runtime.settings.foryou_budget_scale,  # roomy: counted, not timed
    )


def posts(runtime: Runtime, author: Account, n: int) -> list[Post]:
    return [runtime.actions.post(author.id, f"{author.username} {i}") for i in range(n)]


def ids(found: Sequence[Post]) -> set[int]:
    return {p.id for p in found}


def test_candidates_per_stage(runtime: Runtime, accounts: Accounts) -> None:
    viewer, friend, stranger, fan = accounts(4)
    runtime.actions.follow(viewer.id, friend.id)
    own = posts(runtime, viewer, 1)
    posts(runtime, friend, 3)
    strangers = posts(runtime, stranger, 4)
    runtime.actions.delete(stranger.id, strangers[3].id)
    vouched = [(p.id, (fan.id,)) for p in (strangers[0], strangers[1], strangers[3])]
    timeline = for_you(runtime, Proposals([*vouched, (strangers[2].id, ())]))

    mixed = timeline.mix(Query(viewer.id, Page(limit=35)))

    assert mixed.trace.counts() == {
        "follow-set": 0,
        "in-network": 4,  # the friend's three and the viewer's own
        "fake-out-of-network": 4,
        "merge": 8,
        "posts": 8,
        "account-features": 8,  # the low-quality filter reads it
        "live": 7,  # the deleted one
        "not-own": 6,
        "recent": 6,
        "social-proof": 5,  # the stranger's post nobody vouched for
        "low-quality": 5,
        "repost-dedup": 5,
        "not-served": 5,
        "not-seen": 5,
        "not-hidden": 5,
        "author-diversity": 5,
        # The other features, for the rows the filters kept.
        "engagement": 5,
        "author-followers": 5,
        "post-features": 5,
        "affinity": 5,
        "simclusters-features": 5,
        "twhin-features": 5,
        "content-features": 5,
        "candidate-features": 5,
        "heuristic-score": 5,  # its rung: no light model is trained yet
        "ranked-page": 5,
    }
    assert own[0].id in mixed.trace.step("not-own").removed_ids


def test_in_network_is_boosted_and_engagement_counts(runtime: Runtime, accounts: Accounts) -> None:
    viewer, friend, stranger, fan = accounts(4)
    runtime.actions.follow(viewer.id, friend.id)
    (quiet,) = posts(runtime, stranger, 1)
    (liked,) = posts(runtime, stranger, 1)
    (followed,) = posts(runtime, friend, 1)
    runtime.actions.like(fan.id, liked.id)
    proof = (fan.id,)
    timeline = for_you(runtime, Proposals([(quiet.id, proof), (liked.id, proof)]))

    page = timeline.read(viewer.id)

    assert [p.id for p in page] == [followed.id, liked.id, quiet.id]


def test_posts_older_than_48_hours_are_left_out(runtime: Runtime, accounts: Accounts) -> None:
    viewer, friend = accounts(2)
    runtime.actions.follow(viewer.id, friend.id)
    (post,) = posts(runtime, friend, 1)
    later = post.created_at + WINDOW_MS

    assert ids(for_you(runtime, clock=lambda: later).read(viewer.id)) == {post.id}
    assert for_you(runtime, clock=lambda: later + 1).read(viewer.id) == []


def test_served_entries_are_not_served_again(runtime: Runtime, accounts: Accounts) -> None:
    viewer, friend = accounts(2)
    runtime.actions.follow(viewer.id, friend.id)
    written = posts(runtime, friend, 3)
    timeline = for_you(runtime)

    first = timeline.read(viewer.id, limit=2)
    second = timeline.read(viewer.id, limit=2)

    assert len(first) == 2 and len(second) == 1
    assert ids(first) | ids(second) == ids(written)
    assert timeline.read(viewer.id) == []
    (other,) = accounts(1)
    runtime.actions.follow(other.id, friend.id)
    assert ids(timeline.read(other.id)) == ids(written)  # served is kept per viewer


def test_a_repost_of_a_served_post_is_not_served(runtime: Runtime, accounts: Accounts) -> None:
    viewer, friend, other = accounts(3)
    runtime.actions.follow(viewer.id, friend.id)
    runtime.actions.follow(viewer.id, other.id)
    (post,) = posts(runtime, friend, 1)
    timeline = for_you(runtime)
    assert ids(timeline.read(viewer.id)) == {post.id}

    runtime.actions.repost(other.id, post.id)

    assert timeline.read(viewer.id) == []


def test_author_diversity_keeps_the_newest_of_each_author(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, prolific = accounts(2)
    runtime.actions.follow(viewer.id, prolific.id)
    written = posts(runtime, prolific, POSTS_PER_AUTHOR + 2)

    page = for_you(runtime).read(viewer.id)

    assert ids(page) == ids(written[-POSTS_PER_AUTHOR:])


def test_at_most_two_out_of_network_in_a_row(runtime: Runtime, accounts: Accounts) -> None:
    viewer, friend, fan, *strangers = accounts(9)
    runtime.actions.follow(viewer.id, friend.id)
    in_network = posts(runtime, friend, 2)
    out = [posts(runtime, s, 1)[0] for s in strangers]
    for post in out:  # engagement puts every out-of-network post above the in-network ones
        for liker in (fan, *strangers):
            if liker.id != post.author_id:
                runtime.actions.like(liker.id, post.id)
    timeline = for_you(runtime, Proposals([(p.id, (fan.id,)) for p in out]))

    page = timeline.read(viewer.id)

    outside = [p.id not in ids(in_network) for p in page]
    assert outside == [True, True, False, True, True, False, True, True]
    assert max(_runs(outside)) == MAX_OUT_OF_NETWORK_RUN


def _runs(flags: list[bool]) -> list[int]:
    runs, run = [0], 0
    for flag in flags:
        run = run + 1 if flag else 0
        runs.append(run)
    return runs


def test_a_failing_out_of_network_source_still_serves_in_network(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, friend = accounts(2)
    runtime.actions.follow(viewer.id, friend.id)
    written = posts(runtime, friend, 2)
    timeline = for_you(runtime, Offline())

    mixed = timeline.mix(Query(viewer.id, Page(limit=35)))

    assert [s.id for s in mixed.trace.dropped_sources()] == ["fake-out-of-network"]
    assert ids(mixed.candidates.records()) == ids(written)


# Through the API


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def test_for_you_pages_and_explains_through_the_api(api: Api) -> None:
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    api.follow(alice, bob)
    api.follow(alice, carol)
    written = {api.post(author, f"post {i}")["id"] for author in (bob, carol) for i in range(3)}
    path = "/api/v1/timelines/for_you"

    first = api.client.get(path, params={"limit": 4}, headers=alice.auth)
    following = api.client.get(str(first.links["next"]["url"]), headers=alice.auth)

    assert set(_ids(first)) | set(_ids(following)) == written
    assert len(_ids(first)) == 4 and not set(_ids(first)) & set(_ids(following))
    assert _ids(api.client.get(path, headers=alice.auth)) == []
    entry = _ids(first)[0]
    explained = api.client.get(f"{path}/explain/{entry}", headers=alice.auth).json()
    assert explained["id"] == entry
    assert explained["source"] == "in-network"
    assert explained["score"] > 0
    assert explained["filters_passed"][0] == "live"
    assert "not-served" in explained["filters_passed"]


def test_explain_answers_only_the_viewers_served_entries(api: Api) -> None:
    alice, bob = api.register("alice"), api.register("bob")
    api.follow(alice, bob)
    api.follow(bob, alice)
    post = api.post(bob, "hello")["id"]
    path = "/api/v1/timelines/for_you"
    assert api.client.get(f"{path}/explain/{post}", headers=alice.auth).status_code == 404

    assert _ids(api.client.get(path, headers=alice.auth)) == [post]

    assert api.client.get(f"{path}/explain/{post}", headers=alice.auth).status_code == 200
    assert api.client.get(f"{path}/explain/{post}", headers=bob.auth).status_code == 404
    assert api.client.get(f"{path}/explain/x", headers=alice.auth).status_code == 422
    assert api.client.get(path).status_code == 401


def test_the_runtime_serves_posts_the_real_graph_brings_with_their_proof(
    runtime: Runtime, accounts: Accounts
) -> None:
    viewer, friend, stranger = accounts(3)
    runtime.actions.follow(viewer.id, friend.id)
    (liked,) = posts(runtime, stranger, 1)
    (unseen,) = posts(runtime, stranger, 1)  # nobody the viewer follows engaged with it
    runtime.actions.like(friend.id, liked.id)  # the real-graph worker records the edge

    page = runtime.for_you.read(viewer.id)

    assert liked.id in ids(page) and unseen.id not in ids(page)
    why = runtime.for_you.explain(viewer.id, liked.id)
    assert why is not None
    assert why["source"] == "real-graph" and why["social_proof"] == [str(friend.id)]
