"""No route answers 500 for a lost backend: one batch of API requests against the app
while Redis is killed (every answer 200), while the store is down too (every answer the
documented 503 with Retry-After), and once both are back (200 again)."""

from __future__ import annotations

import pytest

from starling.localredis import PrivateRedis
from tests.api_batch import assert_all_unavailable, codes, prepare
from tests.fixtures_api import ApiFactory
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
