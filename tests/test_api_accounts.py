"""Profiles, lookup, follows and relationships through the API."""

from __future__ import annotations

from tests.fixtures_api import Api


def test_profile_fields(api: Api) -> None:
    alice = api.register("alice")
    api.post(alice, "hello")
    account = api.client.get(f"/api/v1/accounts/{alice.id}").json()
    assert account["id"] == alice.id
    assert account["acct"] == "alice"
    assert account["url"] == "http://127.0.0.1:8080/@alice"
    assert account["statuses_count"] == 1
    assert account["last_status_at"] is not None and len(account["last_status_at"]) == 10
    assert account["created_at"].endswith("Z")
    for name in ("emojis", "fields"):
        assert account[name] == []
    for name in ("locked", "bot", "group"):
        assert account[name] is False
    assert "source" not in account
    for bad in ("999", "alice", "0"):
        assert api.client.get(f"/api/v1/accounts/{bad}").status_code == 404


def test_lookup(api: Api) -> None:
    alice = api.register("alice")
    for acct in ("alice", "@ALICE", "alice@127.0.0.1:8080"):
        response = api.client.get("/api/v1/accounts/lookup", params={"acct": acct})
        assert response.json()["id"] == alice.id
    for acct in ("alice@elsewhere.example", "nobody", ""):
        response = api.client.get("/api/v1/accounts/lookup", params={"acct": acct})
        assert response.status_code == 404


def test_follow_unfollow_and_relationships(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    follow = api.client.post(
        f"/api/v1/accounts/{bob.id}/follow", data={"notify": "1"}, headers=alice.auth
    ).json()
    assert follow["id"] == bob.id
    assert (follow["following"], follow["followed_by"], follow["notifying"]) == (True, False, True)
    for name in ("blocking", "muting", "requested", "domain_blocking", "endorsed"):
        assert follow[name] is False
    again = api.client.post(
        f"/api/v1/accounts/{bob.id}/follow", data={"notify": "0"}, headers=alice.auth
    ).json()
    assert (again["following"], again["notifying"]) == (True, False)  # following again: opt out
    assert api.runtime.store.get_accounts([int(bob.id)])[int(bob.id)].followers_count == 1
    api.follow(bob, alice)
    response = api.client.get(
        "/api/v1/accounts/relationships",
        params=[("id[]", bob.id), ("id[]", "nonsense"), ("id[]", "12345")],
        headers=alice.auth,
    )
    assert [(r["id"], r["following"], r["followed_by"]) for r in response.json()] == [
        (bob.id, True, True)
    ]
    counts = api.client.get(f"/api/v1/accounts/{bob.id}").json()
    assert (counts["followers_count"], counts["following_count"]) == (1, 1)
    unfollow = api.client.post(f"/api/v1/accounts/{bob.id}/unfollow", headers=alice.auth).json()
    assert (unfollow["following"], unfollow["followed_by"]) == (False, True)
    single = api.client.get(
        "/api/v1/accounts/relationships", params={"id": bob.id}, headers=alice.auth
    )
    assert single.json()[0]["following"] is False


def test_follow_is_idempotent_and_not_of_oneself(api: Api) -> None:
    alice = api.register("alice")
    bob = api.register("bob")
    api.follow(alice, bob)
    api.follow(alice, bob)
    assert api.client.get(f"/api/v1/accounts/{bob.id}").json()["followers_count"] == 1
    myself = api.client.post(f"/api/v1/accounts/{alice.id}/follow", headers=alice.auth)
    assert myself.status_code == 422
    missing = api.client.post("/api/v1/accounts/77/follow", headers=alice.auth)
    assert missing.status_code == 404
    anonymous = api.client.post(f"/api/v1/accounts/{bob.id}/follow")
    assert anonymous.status_code == 401
