"""No route answers 500 for a lost backend: one batch of API requests against the app
while Redis is killed (every answer 200), while the store is down too (every answer the
documented 503 with Retry-After), and once both are back (200 again)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn

import pytest
from httpx import Response

from starling.api.errors import RETRY_AFTER_S, UNAVAILABLE
from starling.localredis import PrivateRedis
from starling.mixer import SourceTimedOut
from tests.fixtures_api import Api, ApiFactory, User
from tests.fixtures_runtime import FlakyRuntimeFactory

pytestmark = pytest.mark.redis

Batch = Callable[[], dict[str, Response]]


def prepare(api: Api, me: User, other: User, round: str) -> Batch:
    """Posts to act on, made now; and the batch, to send later: every kind of read and
    write the API serves, once each."""
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


def test_no_route_answers_500_when_redis_or_the_store_is_lost(
    api_factory: ApiFactory, make_flaky_runtime: FlakyRuntimeFactory, redis_server: PrivateRedis
) -> None:
    runtime, store = make_flaky_runtime(redis_url=redis_server.url)
    api = api_factory(runtime=runtime)
    me, other = api.register("me"), api.register("other")

    send = prepare(api, me, other, "redis killed")
    redis_server.kill()
    answers = send()
    assert codes(answers) == dict.fromkeys(answers, 200)

    send = prepare(api, me, other, "store down")
    store.down = True
    answers = send()
    store.down = False
    assert codes(answers) == dict.fromkeys(answers, 503)
    for response in answers.values():
        assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
        assert response.json() == {"error": UNAVAILABLE}

    redis_server.restart()
    send = prepare(api, me, other, "both back")
    answers = send()
    assert codes(answers) == dict.fromkeys(answers, 200)


def test_a_timeline_whose_every_source_failed_answers_503(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = api.register("me")

    def every_source_timed_out(*args: object, **kwargs: object) -> NoReturn:
        raise SourceTimedOut("in-network")

    monkeypatch.setattr(api.runtime.home, "read", every_source_timed_out)
    response = api.client.get("/api/v1/timelines/home", headers=me.auth)
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(RETRY_AFTER_S)
    assert response.json() == {"error": UNAVAILABLE}
