"""The API end to end with the scale-out cache: timelines, counters, idempotency keys and
repost sets on a private Redis."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from tests.fixtures_api import Api


def test_home_counts_and_races_on_redis(
    api_factory: Callable[..., Api], redis_url: str, tmp_path: Path
) -> None:
    api = api_factory(redis_url=redis_url, redis_prefix=f"{tmp_path.name}:", celebrity_threshold=2)
    alice, bob, carol = (api.register(name) for name in ("alice", "bob", "carol"))
    api.follow(bob, alice)
    api.follow(carol, alice)  # alice now has two followers: pulled, not pushed
    api.follow(alice, bob)
    api.client.get("/api/v1/timelines/home", headers=bob.auth)
    status = api.post(alice, "from the celebrity index")
    home = api.client.get("/api/v1/timelines/home", headers=bob.auth).json()
    assert [s["id"] for s in home] == [status["id"]]
    assert api.runtime.cache.celebrities.celebrities_among([int(alice.id)]).tolist() == [
        int(alice.id)
    ]

    answers: list[dict[str, object]] = []

    def post_with_key() -> None:
        response = api.client.post(
            "/api/v1/statuses",
            data={"status": "exactly once"},
            headers={**bob.auth, "Idempotency-Key": "redis-key"},
        )
        answers.append(response.json())

    def reblog() -> None:
        api.client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=carol.auth)

    threads = [threading.Thread(target=post_with_key) for _ in range(8)]
    threads += [threading.Thread(target=reblog) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({a["id"] for a in answers}) == 1
    seen = api.client.get(f"/api/v1/statuses/{status['id']}", headers=alice.auth).json()
    assert seen["reblogs_count"] == 1
