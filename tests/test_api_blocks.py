"""Blocks and mutes through the API: the endpoints, their scopes, the relationship fields,
the paged lists, and the timelines and profiles that honour them."""

from __future__ import annotations

import time
from typing import Any

import pytest

from starling.ids import now_ms
from tests.fixtures_api import PASSWORD, Api, User


def act(api: Api, user: User, verb: str, target: User, **form: str) -> dict[str, Any]:
    response = api.client.post(f"/api/v1/accounts/{target.id}/{verb}", data=form, headers=user.auth)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def relationship(api: Api, user: User, target: User) -> dict[str, Any]:
    response = api.client.get(
        "/api/v1/accounts/relationships", params={"id": target.id}, headers=user.auth
    )
    result: dict[str, Any] = response.json()[0]
    return result


def home(api: Api, user: User) -> list[str]:
    response = api.client.get("/api/v1/timelines/home", headers=user.auth)
    return [s["id"] for s in response.json()]


def public(api: Api, user: User | None) -> list[str]:
    headers = user.auth if user is not None else {}
    response = api.client.get("/api/v1/timelines/public", headers=headers)
    return [s["id"] for s in response.json()]


def profile(api: Api, user: User, author: User) -> list[str]:
    response = api.client.get(f"/api/v1/accounts/{author.id}/statuses", headers=user.auth)
    assert response.status_code == 200
    return [s["id"] for s in response.json()]


def reblog(api: Api, user: User, status_id: str) -> str:
    response = api.client.post(f"/api/v1/statuses/{status_id}/reblog", headers=user.auth)
    assert response.status_code == 200, response.text
    reposted: str = response.json()["id"]
    return reposted


def cached(api: Api, user: User) -> list[int]:
    return api.runtime.cache.timelines.range(int(user.id), limit=100) or []


def test_block_ends_follows_both_ways_and_unblock_lifts_it(api: Api) -> None:
    alice, bob = api.register("alice"), api.register("bob")
    api.follow(alice, bob)
    api.follow(bob, alice)
    blocked = act(api, alice, "block", bob)
    assert blocked["id"] == bob.id
    assert (blocked["blocking"], blocked["following"], blocked["followed_by"]) == (
        True,
        False,
        False,
    )
    seen_by_bob = relationship(api, bob, alice)
    assert (seen_by_bob["blocked_by"], seen_by_bob["blocking"]) == (True, False)
    counts = api.client.get(f"/api/v1/accounts/{bob.id}").json()
    assert (counts["followers_count"], counts["following_count"]) == (0, 0)
    assert act(api, alice, "block", bob)["blocking"] is True  # idempotent
    assert act(api, alice, "unblock", bob)["blocking"] is False
    assert relationship(api, bob, alice)["blocked_by"] is False
    assert act(api, alice, "unblock", bob)["blocking"] is False


def test_a_block_either_way_refuses_a_follow(api: Api) -> None:
    alice, bob = api.register("alice"), api.register("bob")
    act(api, alice, "block", bob)
    for follower, followee in ((bob, alice), (alice, bob)):
        path = f"/api/v1/accounts/{followee.id}/follow"
        response = api.client.post(path, headers=follower.auth)
        assert response.status_code == 403
        assert response.json() == {"error": "This action is not allowed"}
    act(api, alice, "unblock", bob)
    api.follow(bob, alice)


def test_oneself_and_missing_accounts(api: Api) -> None:
    alice = api.register("alice")
    for verb in ("block", "mute"):
        myself = act(api, alice, verb, alice)  # nothing happens, as Mastodon
        assert (myself["blocking"], myself["muting"]) == (False, False)
        missing = api.client.post(f"/api/v1/accounts/77/{verb}", headers=alice.auth)
        assert missing.status_code == 404


def test_mute_notifications_and_duration(api: Api) -> None:
    alice, bob = api.register("alice"), api.register("bob")
    muted = act(api, alice, "mute", bob)
    assert (muted["muting"], muted["muting_notifications"]) == (True, True)
    assert relationship(api, bob, alice)["muting"] is False  # a mute is the muter's alone
    again = act(api, alice, "mute", bob, notifications="false", duration="3600")
    assert (again["muting"], again["muting_notifications"]) == (True, False)
    [listed] = api.client.get("/api/v1/mutes", headers=alice.auth).json()
    assert listed["id"] == bob.id and listed["acct"] == "bob"
    expires = time.mktime(time.strptime(listed["mute_expires_at"][:19], "%Y-%m-%dT%H:%M:%S"))
    assert abs(expires - time.timezone - (now_ms() / 1000 + 3600)) < 60
    bad = api.client.post(
        f"/api/v1/accounts/{bob.id}/mute", data={"duration": "-1"}, headers=alice.auth
    )
    assert bad.status_code == 422
    unmuted = act(api, alice, "unmute", bob)
    assert (unmuted["muting"], unmuted["muting_notifications"]) == (False, False)
    assert api.client.get("/api/v1/mutes", headers=alice.auth).json() == []


@pytest.mark.parametrize(("verb", "listing"), [("block", "blocks"), ("mute", "mutes")])
def test_lists_are_newest_first_and_paged_by_link(api: Api, verb: str, listing: str) -> None:
    alice = api.register("alice")
    others = [api.register(f"user{i}") for i in range(3)]
    for other in others:
        act(api, alice, verb, other)
    first = api.client.get(f"/api/v1/{listing}", params={"limit": 2}, headers=alice.auth)
    assert [a["id"] for a in first.json()] == [others[2].id, others[1].id]
    if verb == "mute":
        assert [a["mute_expires_at"] for a in first.json()] == [None, None]
    older = first.links["next"]["url"]
    assert older.startswith("http://127.0.0.1:8080/api/v1/" + listing)
    second = api.client.get(older, headers=alice.auth)
    assert [a["id"] for a in second.json()] == [others[0].id]
    newer = api.client.get(second.links["prev"]["url"], headers=alice.auth)
    assert [a["id"] for a in newer.json()] == [others[2].id, others[1].id]
    assert api.client.get(f"/api/v1/{listing}", headers=others[0].auth).json() == []


@pytest.mark.parametrize(
    ("method", "path", "scope", "other"),
    [
        ("post", "block", "write:blocks", "write:mutes"),
        ("post", "unblock", "write:blocks", "write:mutes"),
        ("post", "mute", "write:mutes", "write:blocks"),
        ("post", "unmute", "write:mutes", "write:blocks"),
        ("get", "/api/v1/blocks", "read:blocks", "read:mutes"),
        ("get", "/api/v1/mutes", "read:mutes", "read:blocks"),
    ],
)
def test_scopes(api: Api, method: str, path: str, scope: str, other: str) -> None:
    api.register("alice")
    bob = api.register("bob")
    url = path if path.startswith("/") else f"/api/v1/accounts/{bob.id}/{path}"

    def status(scopes: str) -> int:
        token = api.token("password", username="alice", password=PASSWORD, scope=scopes)
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        return int(api.client.request(method.upper(), url, headers=headers).status_code)

    assert status(other) == 403
    assert status(scope) == 200
    assert status("follow") == 200  # the legacy scope covers blocks and mutes
    assert api.client.request(method.upper(), url).status_code == 401
    assert api.client.request(method.upper(), url, headers=api.app_auth()).status_code == 422


def test_following_timeline_hides_blocked_and_muted_authors_and_their_reposts(
    api: Api,
) -> None:
    alice, bob, carol, dave, eve = (
        api.register(n) for n in ("alice", "bob", "carol", "dave", "eve")
    )
    api.follow(alice, bob)
    api.follow(alice, carol)
    d1 = api.post(dave, "by dave")["id"]
    r1 = reblog(api, carol, d1)
    b1 = api.post(bob, "by bob")["id"]
    c1 = api.post(carol, "by carol")["id"]
    assert home(api, alice) == [c1, b1, r1]
    act(api, alice, "mute", dave)
    assert home(api, alice) == [c1, b1]  # carol's repost of a muted author
    act(api, alice, "unmute", dave)
    assert home(api, alice) == [c1, b1, r1]
    act(api, alice, "mute", carol, duration="3600")
    assert home(api, alice) == [b1]  # a muted author's posts and reposts
    assert relationship(api, alice, carol)["following"] is True
    act(api, alice, "unmute", carol)
    act(api, alice, "block", bob)
    assert home(api, alice) == [c1, r1]
    e1 = api.post(eve, "by eve")["id"]
    act(api, eve, "block", alice)
    reblog(api, carol, e1)
    assert home(api, alice) == [c1, r1]  # a repost of an author who blocks the viewer


def test_the_viewers_own_reposts_of_a_hidden_author_stay(api: Api) -> None:
    alice, bob = api.register("alice"), api.register("bob")
    repost = reblog(api, alice, api.post(bob, "by bob")["id"])
    act(api, alice, "mute", bob)
    assert home(api, alice) == [repost]  # as Mastodon's feed: one's own are never filtered
    assert profile(api, alice, alice) == [repost]


def test_blocks_and_open_mutes_drop_posts_from_the_cached_timeline(api: Api) -> None:
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    for author in (bob, carol):
        api.follow(alice, author)
        api.follow(author, alice)
    b1, c1, a1 = (int(api.post(u, f"by {u.username}")["id"]) for u in (bob, carol, alice))
    for user in (alice, bob):
        home(api, user)
    assert cached(api, alice) == [a1, c1, b1]
    act(api, alice, "mute", carol, duration="60")
    assert cached(api, alice) == [a1, c1, b1]  # a timed mute: the read filter hides carol
    act(api, alice, "mute", carol)
    assert cached(api, alice) == [a1, b1]
    act(api, alice, "unmute", carol)
    assert cached(api, alice) == [a1, c1, b1]  # merged back: alice still follows carol
    assert a1 in cached(api, bob)
    act(api, alice, "block", bob)
    assert cached(api, alice) == [a1, c1]
    assert a1 not in cached(api, bob)  # the blocked one's timeline loses the blocker's posts


def test_public_timeline_hides_blocked_and_muted_authors(api: Api) -> None:
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    b1 = api.post(bob, "by bob")["id"]
    c1 = api.post(carol, "by carol")["id"]
    act(api, alice, "mute", bob)
    assert public(api, alice) == [c1]
    act(api, carol, "block", alice)
    assert public(api, alice) == []
    assert public(api, carol) == [c1, b1]  # nothing hidden from carol: she blocks alice
    assert public(api, None) == [c1, b1]


def test_an_account_shows_those_it_blocks_nothing(api: Api) -> None:
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    b1 = api.post(bob, "by bob")["id"]
    a1 = api.post(alice, "by alice")["id"]
    act(api, bob, "block", alice)
    assert profile(api, alice, bob) == []
    for path in (f"/api/v1/statuses/{b1}", f"/api/v1/statuses/{b1}/favourite"):
        method = "POST" if path.endswith("favourite") else "GET"
        assert api.client.request(method, path, headers=alice.auth).status_code == 404
    reply = api.client.post(
        "/api/v1/statuses", json={"status": "hi", "in_reply_to_id": b1}, headers=alice.auth
    )
    assert reply.status_code == 404
    assert profile(api, carol, bob) == [b1]
    assert profile(api, bob, alice) == [a1]  # the blocker may still look
    assert api.client.get(f"/api/v1/statuses/{a1}", headers=bob.auth).status_code == 200


def test_a_profile_keeps_its_own_posts_but_not_reposts_of_hidden_authors(api: Api) -> None:
    alice, bob, carol = api.register("alice"), api.register("bob"), api.register("carol")
    b1 = api.post(bob, "by bob")["id"]
    c1 = api.post(carol, "by carol")["id"]
    r1 = reblog(api, carol, b1)
    act(api, alice, "mute", carol)
    act(api, alice, "block", bob)
    assert profile(api, alice, bob) == [b1]  # as Mastodon: the blocker may still look
    assert profile(api, alice, carol) == [c1]  # without carol's repost of blocked bob
    assert profile(api, bob, carol) == [r1, c1]
