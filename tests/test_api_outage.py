"""No route answers 500 for a lost backend: one batch of API requests against the app
while Redis is killed (every answer 200), while the store is down too (every answer the
documented 503 with Retry-After), and once both are back (200 again)."""

from __future__ import annotations

from typing import NoReturn

import pytest

from starling.api.errors import RETRY_AFTER_S, UNAVAILABLE
from starling.localredis import PrivateRedis
from starling.mixer import SourceTimedOut
from tests.api_batch import assert_all_unavailable, codes, prepare
from tests.fixtures_api import Api, ApiFactory
from tests.fixtures_runtime import FlakyRuntimeFactory

pytestmark = pytest.mark.redis


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
    assert_all_unavailable(answers)

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
