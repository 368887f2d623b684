"""One batch of API requests, every kind of read and write the API serves once each, for
the tests that take a backend away under the app (test_api_outage.py,
test_postgres_outage.py)."""

from __future__ import annotations

from collections.abc import Callable

from httpx import Response

from starling.api.errors import RETRY_AFTER_S, UNAVAILABLE
from tests.fixtures_api import Api, User

Batch = Callable[[], dict[str, Response]]


def prepare(api: Api, me: User, other: User, round: str) -> Batch:
    """Posts to act on, made now; and the batch, to send later. The keyed post's
    Idempotency-Key is `round`."""
    c, auth = api.client, me.auth
    target, mine = api.post(other, f"target {round}"), api.post(me, f"mine {round}")
    status, account = f"/api/v1/statuses/{target['id']}", f"/api/v1/accounts/{other.id}"
    keyed = {**auth, "Idempotency-Key": round}

    def send() -> dict[str, Response]:
        return {
            "home": c.get("/api/v1/timelines/home", headers=auth),
            "public": c.get("/api/v1/timelines/public"),
            "account statuses": c.get(f"{account}/statuses"),
            "status": c.get(status, headers=auth),
            "post": c.post("/api/v1/statuses", data={"status": "plain"}, headers=auth),
            "post with key": c.post("/api/v1/statuses", data={"status": "keyed"}, headers=keyed),
            "like": c.post(f"{status}/favourite", headers=auth),
            "repost": c.post(f"{status}/reblog", headers=auth),
            "follow": c.post(f"{account}/follow", headers=auth),
            "unlike": c.post(f"{status}/unfavourite", headers=auth),
            "unrepost": c.post(f"{status}/unreblog", headers=auth),
            "unfollow": c.post(f"{account}/unfollow", headers=auth),
            "delete": c.delete(f"/api/v1/statuses/{mine['id']}", headers=auth),
        }

    return send


def codes(answers: dict[str, Response]) -> dict[str, int]:
    return {name: response.status_code for name, response in answers.items()}


def assert_all_unavailable(answers: dict[str, Response]) -> None:
    """Every answer the documented 503: Retry-After and the JSON error."""
    assert codes(answers) == dict.fromkeys(answers, 503)
    for response in answers.values():
        assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert response.json() == {"error": UNAVAILABLE}
