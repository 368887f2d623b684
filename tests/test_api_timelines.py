"""Home and public timelines, account statuses, and Mastodon paging with Link headers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fixtures_api import Api, User


def _ids(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [s["id"] for s in response.json()]


def _links(response: httpx.Response) -> dict[str, dict[str, list[str]]]:
    """rel -> query parameters of that link."""
    found = re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers.get("link", ""))
    return {rel: parse_qs(urlsplit(url).query) for url, rel in found}


def _posts(api: Api, user: User, count: int) -> list[str]:
    """Ids of `count` new posts, newest first."""
    return [api.post(user, f"post {i}")["id"] for i in range(count)][::-1]


def test_home_shows_followed_accounts_and_own_posts(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    carol = api.register("carol")
    api.follow(alice, bob)
    from_bob = api.post(bob, "from bob")["id"]
    api.post(carol, "from carol")
    own = api.post(alice, "from alice")["id"]
    assert _ids(api.client.get("/api/v1/timelines/home", headers=alice.auth)) == [own, from_bob]
    api.client.post(f"/api/v1/accounts/{bob.id}/unfollow", headers=alice.auth)
    assert _ids(api.client.get("/api/v1/timelines/home", headers=alice.auth)) == [own]


def test_home_shows_reposts_by_followed_accounts(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    carol = api.register("carol")
    api.follow(alice, bob)
    original = api.post(carol, "worth sharing")["id"]
    reblog = api.client.post(f"/api/v1/statuses/{original}/reblog", headers=bob.auth).json()
    home = api.client.get("/api/v1/timelines/home", headers=alice.auth).json()
    assert [(s["id"], s["reblog"]["id"]) for s in home] == [(reblog["id"], original)]


def test_home_needs_a_user(api: Api) -> None:
    assert api.client.get("/api/v1/timelines/home").status_code == 401
    assert api.client.get("/api/v1/timelines/home", headers=api.app_auth()).status_code == 422


def test_account_statuses_paging_and_link_headers(api: Api) -> None:
    alice = api.register("alice")
    ids = _posts(api, alice, 7)
    path = f"/api/v1/accounts/{alice.id}/statuses"
    first = api.client.get(path, params={"limit": 3})
    assert _ids(first) == ids[:3]
    links = _links(first)
    assert links["next"] == {"limit": ["3"], "max_id": [ids[2]]}
    assert links["prev"] == {"limit": ["3"], "min_id": [ids[0]]}
    second = api.client.get(path, params={"limit": 3, "max_id": ids[2]})
    assert _ids(second) == ids[3:6]
    assert _ids(api.client.get(path, params={"limit": 3, "min_id": ids[6]})) == ids[3:6]
    assert _ids(api.client.get(path, params={"limit": 3, "since_id": ids[6]})) == ids[:3]
    assert _ids(api.client.get(path, params={"max_id": ids[1], "since_id": ids[4]})) == ids[2:4]
    empty = api.client.get(path, params={"min_id": ids[0]})
    assert _ids(empty) == []
    assert "link" not in empty.headers


def test_limit_is_clamped_and_validated(api: Api) -> None:
    alice = api.register("alice")
    ids = _posts(api, alice, 42)
    path = f"/api/v1/accounts/{alice.id}/statuses"
    assert len(_ids(api.client.get(path))) == 20
    assert _ids(api.client.get(path, params={"limit": 100})) == ids[:40]
    assert len(_ids(api.client.get(path, params={"limit": 0}))) == 1
    assert api.client.get(path, params={"limit": "many"}).status_code == 422
    assert api.client.get(path, params={"max_id": "yesterday"}).status_code == 422
    huge = api.client.get(path, params={"max_id": "9" * 30, "limit": 1})
    assert _ids(huge) == ids[:1]


def test_home_paging(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    api.follow(alice, bob)
    ids = _posts(api, bob, 5)
    first = api.client.get("/api/v1/timelines/home", params={"limit": 2}, headers=alice.auth)
    assert _ids(first) == ids[:2]
    older = _links(first)["next"]["max_id"][0]
    second = api.client.get(
        "/api/v1/timelines/home", params={"limit": 2, "max_id": older}, headers=alice.auth
    )
    assert _ids(second) == ids[2:4]
    newer = api.client.get(
        "/api/v1/timelines/home", params={"min_id": ids[3], "limit": 2}, headers=alice.auth
    )
    assert _ids(newer) == ids[1:3]


def test_account_statuses_filters(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    theirs = api.post(bob, "bob's #tagged post")["id"]
    reply = api.post(alice, "a reply", in_reply_to_id=theirs)["id"]
    tagged = api.post(alice, "mine #Tagged")["id"]
    reblog = api.client.post(f"/api/v1/statuses/{theirs}/reblog", headers=alice.auth).json()["id"]
    path = f"/api/v1/accounts/{alice.id}/statuses"
    assert _ids(api.client.get(path)) == [reblog, tagged, reply]
    assert _ids(api.client.get(path, params={"exclude_reblogs": "true"})) == [tagged, reply]
    assert _ids(api.client.get(path, params={"exclude_replies": "1"})) == [reblog, tagged]
    assert _ids(api.client.get(path, params={"tagged": "tagged"})) == [tagged]
    assert _ids(api.client.get(path, params={"pinned": "true"})) == []
    assert api.client.get("/api/v1/accounts/1/statuses").status_code == 404


def test_public_timeline(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    public = api.post(alice, "hello world")["id"]
    api.post(alice, "quiet", visibility="unlisted")
    api.post(alice, "friends", visibility="private")
    api.client.post(f"/api/v1/statuses/{public}/reblog", headers=bob.auth)
    response = api.client.get("/api/v1/timelines/public")
    assert _ids(response) == [public]
    assert _links(response)["next"]["max_id"] == [public]
    with_viewer: list[dict[str, Any]] = api.client.get(
        "/api/v1/timelines/public", headers=bob.auth
    ).json()
    assert with_viewer[0]["reblogged"] is True
    assert _ids(api.client.get("/api/v1/timelines/public", params={"remote": "true"})) == []


def test_link_headers_and_entities_name_the_same_public_origin(api: Api) -> None:
    """Whatever host the client asked (the test client says `testserver`)."""
    alice = api.register("alice")
    _posts(api, alice, 2)
    page = api.client.get(f"/api/v1/accounts/{alice.id}/statuses", params={"limit": 1})
    origin = api.runtime.settings.public_url
    links = re.findall(r"<([^>]+)>", page.headers["link"])
    assert [link.startswith(f"{origin}/api/v1/accounts/") for link in links] == [True, True]
    assert page.json()[0]["account"]["url"] == f"{origin}/@alice"
    assert page.json()[0]["uri"].startswith(origin)
