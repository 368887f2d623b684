"""Posting, reading, deleting, favouriting and reblogging statuses through the API."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx

from starling.api.statuses import Renderer
from starling.text import MAX_POST_CHARS
from tests.fixtures_api import Api, User


def _together(count: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    """Runs `call` from `count` threads released at the same moment."""
    barrier = threading.Barrier(count)

    def run() -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(run) for _ in range(count)]
        return [f.result() for f in futures]


def _statuses_of(api: Api, user: User) -> list[dict[str, Any]]:
    response = api.client.get(f"/api/v1/accounts/{user.id}/statuses")
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


def test_post_renders_every_field_clients_read(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    status = api.post(alice, "hi @bob, see #Starling", spoiler_text="cw", sensitive=True)
    assert isinstance(status["id"], str)
    assert status["created_at"].endswith("Z") and "." in status["created_at"]
    assert status["account"]["id"] == alice.id
    assert status["account"]["statuses_count"] == 1
    assert status["content"].startswith("<p>") and "#<span>Starling</span>" in status["content"]
    assert status["mentions"] == [
        {"id": bob.id, "username": "bob", "acct": "bob", "url": "http://127.0.0.1:8080/@bob"}
    ]
    assert status["tags"] == [{"name": "starling", "url": "http://127.0.0.1:8080/tags/starling"}]
    assert status["spoiler_text"] == "cw" and status["sensitive"] is True
    assert status["visibility"] == "public"
    for name in ("emojis", "media_attachments", "filtered"):
        assert status[name] == []
    for name in ("reblog", "in_reply_to_id", "in_reply_to_account_id", "edited_at", "poll"):
        assert status[name] is None
    for name in ("favourited", "reblogged", "muted", "bookmarked", "pinned"):
        assert status[name] is False
    assert (status["favourites_count"], status["reblogs_count"], status["replies_count"]) == (
        0,
        0,
        0,
    )
    assert api.client.get(f"/api/v1/statuses/{status['id']}").json() == status


def test_reply_carries_its_parent(api: Api) -> None:
    alice = api.register("alice")
    parent = api.post(alice, "first")
    reply = api.post(alice, "second", in_reply_to_id=parent["id"])
    assert reply["in_reply_to_id"] == parent["id"]
    assert reply["in_reply_to_account_id"] == alice.id
    missing = api.client.post(
        "/api/v1/statuses", data={"status": "x", "in_reply_to_id": "123"}, headers=alice.auth
    )
    assert missing.status_code == 404


def test_form_encoded_post_with_boolean_strings(api: Api) -> None:
    alice = api.register("alice")
    response = api.client.post(
        "/api/v1/statuses",
        data={"status": "form", "sensitive": "true", "visibility": "unlisted"},
        headers=alice.auth,
    )
    assert response.status_code == 200
    assert response.json()["sensitive"] is True
    assert response.json()["visibility"] == "unlisted"


def test_too_long_or_blank_post_is_422_and_stores_nothing(api: Api) -> None:
    alice = api.register("alice")
    for text in ("x" * (MAX_POST_CHARS + 1), "   "):
        response = api.client.post("/api/v1/statuses", json={"status": text}, headers=alice.auth)
        assert response.status_code == 422
        assert response.json()["error"].startswith("Validation failed")
    assert api.post(alice, "x" * MAX_POST_CHARS)["account"]["statuses_count"] == 1
    assert len(_statuses_of(api, alice)) == 1


def test_unsupported_features_are_422(api: Api) -> None:
    alice = api.register("alice")
    for extra in ({"media_ids": ["1"]}, {"poll": {"options": ["a", "b"]}}, {"visibility": "x"}):
        response = api.client.post(
            "/api/v1/statuses", json={"status": "hi", **extra}, headers=alice.auth
        )
        assert response.status_code == 422
    assert _statuses_of(api, alice) == []


def test_form_encoded_polls_are_422_too(api: Api) -> None:
    """Clients such as Mastodon.py send a poll as `poll[options][]` form fields."""
    alice = api.register("alice")
    form = {"status": "pick one", "poll[options][]": ["a", "b"], "poll[expires_in]": "3600"}
    response = api.client.post("/api/v1/statuses", data=form, headers=alice.auth)
    assert response.status_code == 422
    assert response.json() == {"error": "Polls are not supported"}
    assert _statuses_of(api, alice) == []


def test_bad_bodies_get_json_errors(api: Api) -> None:
    alice = api.register("alice")
    headers = {**alice.auth, "Content-Type": "application/json"}
    for body in (b"{not json", b"[1, 2]", b"\xff\xfe"):
        response = api.client.post("/api/v1/statuses", content=body, headers=headers)
        assert response.status_code == 400
        assert "error" in response.json()
    wrong_type = api.client.post(
        "/api/v1/statuses", json={"status": "x", "sensitive": "maybe"}, headers=alice.auth
    )
    assert wrong_type.status_code == 422
    assert _statuses_of(api, alice) == []


def test_oversize_body_is_413(api_factory: Callable[..., Api]) -> None:
    api = api_factory(max_body_bytes=2_000)
    alice = api.register("alice")
    big = {"status": "x", "spoiler_text": "y" * 5_000}
    declared = api.client.post("/api/v1/statuses", json=big, headers=alice.auth)
    assert declared.status_code == 413
    assert declared.json() == {"error": "Request body too large"}

    def chunks() -> Any:
        yield b'{"status": "x", "spoiler_text": "'
        for _ in range(10):
            yield b"y" * 500
        yield b'"}'

    streamed = api.client.post(
        "/api/v1/statuses",
        content=chunks(),
        headers={**alice.auth, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413
    assert _statuses_of(api, alice) == []


def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    alice = api.register("alice")
    for status_id in ("1", "abc", "-5", "1.5", "99999999999999999999999", "١٢"):
        assert api.client.get(f"/api/v1/statuses/{status_id}").status_code == 404
        favourite = api.client.post(f"/api/v1/statuses/{status_id}/favourite", headers=alice.auth)
        assert favourite.status_code == 404
        assert favourite.json() == {"error": "Record not found"}


def test_delete_own_status(api: Api) -> None:
    alice = api.register("alice")
    status = api.post(alice, "short-lived")
    deleted = api.client.delete(f"/api/v1/statuses/{status['id']}", headers=alice.auth)
    assert deleted.status_code == 200
    assert deleted.json()["id"] == status["id"]
    assert deleted.json()["text"] == "short-lived"
    assert api.client.get(f"/api/v1/statuses/{status['id']}").status_code == 404
    again = api.client.delete(f"/api/v1/statuses/{status['id']}", headers=alice.auth)
    assert again.status_code == 404


def test_deleting_someone_elses_status_is_403_and_changes_nothing(api: Api) -> None:
    alice = api.register("alice")
    mallory = api.register("mallory")
    status = api.post(alice, "mine")
    response = api.client.delete(f"/api/v1/statuses/{status['id']}", headers=mallory.auth)
    assert response.status_code == 403
    assert api.client.get(f"/api/v1/statuses/{status['id']}").json() == status


def test_favourite_and_reblog_flags_and_counts(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    status = api.post(alice, "like me")
    path = f"/api/v1/statuses/{status['id']}"
    liked = api.client.post(f"{path}/favourite", headers=bob.auth).json()
    assert (liked["favourited"], liked["favourites_count"]) == (True, 1)
    reblog = api.client.post(f"{path}/reblog", headers=bob.auth).json()
    assert reblog["reblog"]["id"] == status["id"]
    assert reblog["account"]["id"] == bob.id
    assert reblog["content"] == ""
    assert reblog["reblog"]["reblogged"] is True
    assert reblog["reblog"]["reblogs_count"] == 1
    assert reblog["reblog"]["favourited"] is True
    seen_by_alice = api.client.get(path, headers=alice.auth).json()
    assert (seen_by_alice["favourited"], seen_by_alice["reblogged"]) == (False, False)
    assert (seen_by_alice["favourites_count"], seen_by_alice["reblogs_count"]) == (1, 1)
    assert seen_by_alice["starling"] == {"favourites_display": "1", "reblogs_display": "1"}
    unliked = api.client.post(f"{path}/unfavourite", headers=bob.auth).json()
    assert (unliked["favourited"], unliked["favourites_count"]) == (False, 0)
    unreblogged = api.client.post(f"{path}/unreblog", headers=bob.auth).json()
    assert (unreblogged["reblogged"], unreblogged["reblogs_count"]) == (False, 0)
    assert api.client.get(f"/api/v1/statuses/{reblog['id']}").status_code == 404


def test_reblog_twice_is_one_repost(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    status = api.post(alice, "share me")
    path = f"/api/v1/statuses/{status['id']}/reblog"
    first = api.client.post(path, headers=bob.auth).json()
    second = api.client.post(path, headers=bob.auth).json()
    assert first["id"] == second["id"]
    assert second["reblog"]["reblogs_count"] == 1
    assert [s["id"] for s in _statuses_of(api, bob)] == [first["id"]]


def test_concurrent_reblogs_make_exactly_one_repost(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    status = api.post(alice, "race me")
    path = f"/api/v1/statuses/{status['id']}/reblog"
    responses = _together(20, lambda: api.client.post(path, headers=bob.auth))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(_statuses_of(api, bob)) == 1
    shown = api.client.get(f"/api/v1/statuses/{status['id']}").json()
    assert shown["reblogs_count"] == 1


def test_concurrent_posts_with_one_idempotency_key_make_one_post(api: Api) -> None:
    alice = api.register("alice")
    headers = {**alice.auth, "Idempotency-Key": "retry-1"}
    responses = _together(
        20, lambda: api.client.post("/api/v1/statuses", json={"status": "once"}, headers=headers)
    )
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["id"] for r in responses}) == 1
    assert len(_statuses_of(api, alice)) == 1


def test_idempotency_key_is_per_account(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    ids = set()
    for user in (alice, bob, alice):
        response = api.client.post(
            "/api/v1/statuses",
            json={"status": "same key"},
            headers={**user.auth, "Idempotency-Key": "shared"},
        )
        ids.add(response.json()["id"])
    assert len(ids) == 2


def test_private_and_direct_posts_reach_only_their_audience(api: Api) -> None:
    alice = api.register("alice")
    follower = api.register("follower")
    stranger = api.register("stranger")
    friend = api.register("friend")
    api.follow(follower, alice)
    private = api.post(alice, "followers only", visibility="private")
    direct = api.post(alice, "psst @friend", visibility="direct")

    def can_see(status: dict[str, Any], user: User | None) -> bool:
        headers = user.auth if user else {}
        response = api.client.get(f"/api/v1/statuses/{status['id']}", headers=headers)
        return bool(response.status_code == 200)

    assert [can_see(private, u) for u in (alice, follower, stranger, None)] == [
        True,
        True,
        False,
        False,
    ]
    assert [can_see(direct, u) for u in (alice, friend, follower, None)] == [
        True,
        True,
        False,
        False,
    ]
    assert [s["id"] for s in _statuses_of(api, alice)] == []
    blocked = api.client.post(f"/api/v1/statuses/{direct['id']}/favourite", headers=stranger.auth)
    assert blocked.status_code == 404


def test_a_page_is_rendered_with_a_fixed_number_of_lookups(api: Api) -> None:
    users = [api.register(f"user{i}") for i in range(3)]
    for i in range(6):
        api.post(users[i % 3], f"post {i} @user0")
    sources = api.runtime.store.public_posts(limit=6)
    for user in users[1:]:
        for source in sources[:3]:
            api.runtime.actions.repost(int(user.id), source.id)
    # A profile page: its own posts and reposts of others' posts, which are not on it.
    page = api.runtime.store.account_posts(int(users[1].id), limit=20)
    calls: Counter[str] = Counter()

    class Counting:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            calls[name] += 1
            return getattr(self.inner, name)

    store, counters = Counting(api.runtime.store), Counting(api.runtime.cache.counters)
    render = Renderer(store, counters, api.runtime.settings.public_url)
    rendered = render.statuses(page, int(users[0].id))
    assert len(rendered) == len(page)
    assert sum(1 for s in rendered if s["reblog"] is not None) == 3
    assert calls == {"get_posts": 1, "get_accounts": 1, "viewer_state": 1, "get": 2}


def test_blank_and_null_parameters_mean_not_given(api: Api) -> None:
    alice = api.register("alice")
    response = api.client.post(
        "/api/v1/statuses",
        json={"status": "hi", "in_reply_to_id": None, "spoiler_text": None, "visibility": ""},
        headers=alice.auth,
    )
    assert response.status_code == 200
    assert (response.json()["visibility"], response.json()["spoiler_text"]) == ("public", "")
    form = {"status": "hey", "in_reply_to_id": "", "sensitive": ""}
    assert api.client.post("/api/v1/statuses", data=form, headers=alice.auth).status_code == 200
