"""Cross-cutting HTTP behaviour: rate limits, error shapes, instance metadata, metrics,
request threads, times."""

from __future__ import annotations

from collections.abc import Callable

from anyio import to_thread

from starling.api.render import iso_date, iso_time
from tests.fixtures_api import Api

RATE_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


def test_rate_limit_per_ip_then_429(api_factory: Callable[..., Api]) -> None:
    api = api_factory(rate_limits="on", rate_limit_per_ip=3, rate_limit_window_s=3600)
    remaining = []
    for _ in range(3):
        response = api.client.get("/api/v1/instance")
        assert response.status_code == 200
        assert all(h in response.headers for h in RATE_HEADERS)
        remaining.append(response.headers["X-RateLimit-Remaining"])
    assert remaining == ["2", "1", "0"]
    limited = api.client.get("/api/v1/timelines/public")
    assert limited.status_code == 429
    assert limited.json() == {"error": "Too many requests"}
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Reset"].endswith("Z")


def test_rate_limit_per_token_is_separate(api_factory: Callable[..., Api]) -> None:
    api = api_factory(rate_limits="on", rate_limit_per_ip=3, rate_limit_per_token=2)
    alice = api.register("alice")  # its last call, verify_credentials, used alice's first
    headers = alice.auth
    second = api.client.get("/api/v1/accounts/verify_credentials", headers=headers)
    assert second.status_code == 200
    assert second.headers["X-RateLimit-Limit"] == "2"
    assert second.headers["X-RateLimit-Remaining"] == "0"
    over = api.client.post("/api/v1/statuses", data={"status": "x"}, headers=headers)
    assert over.status_code == 429
    assert api.runtime.store.max_post_id() == 0


def test_made_up_tokens_do_not_escape_the_ip_limit(api_factory: Callable[..., Api]) -> None:
    api = api_factory(rate_limits="on", rate_limit_ip_all=5, rate_limit_per_token=100)
    answers = [
        api.client.get("/api/v1/instance", headers={"Authorization": f"Bearer fake{i}"})
        for i in range(6)
    ]
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    assert answers[-1].headers["X-RateLimit-Limit"] == "5"


def test_no_rate_limit_headers_when_off(api: Api) -> None:
    assert "X-RateLimit-Limit" not in api.client.get("/api/v1/instance").headers


def test_unknown_route_and_method_are_json(api: Api) -> None:
    missing = api.client.get("/api/v1/nothing-here")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found"}
    wrong_method = api.client.put("/api/v1/timelines/public")
    assert wrong_method.status_code == 405
    assert "error" in wrong_method.json()


def test_instance_v1_and_v2(api: Api) -> None:
    alice = api.register("alice")
    api.post(alice, "counted")
    stats = api.client.get("/api/v1/instance").json()["stats"]
    assert stats == {"user_count": 1, "status_count": 1, "domain_count": 1}
    for path in ("/api/v1/instance", "/api/v1/instance/"):
        v1 = api.client.get(path, follow_redirects=False)
        assert v1.status_code == 200
        assert v1.json()["version"] == "4.3.0 (compatible; Starling 0.1.0)"
        assert v1.json()["uri"] == "127.0.0.1:8080"
        assert v1.json()["configuration"]["statuses"]["max_characters"] == 280
        assert v1.json()["registrations"] is True
    for path in ("/api/v2/instance", "/api/v2/instance/"):
        v2 = api.client.get(path, follow_redirects=False)
        assert v2.status_code == 200
        body = v2.json()
        assert body["domain"] == "127.0.0.1:8080"
        assert body["api_versions"] == {"mastodon": 2}
        assert body["configuration"]["statuses"]["max_characters"] == 280
        assert body["registrations"]["enabled"] is True


def test_metrics_front_page_and_docs(api: Api) -> None:
    metrics = api.client.get("/metrics")
    assert metrics.status_code == 200
    assert "starling_timeline_read_seconds" in metrics.text
    front = api.client.get("/", follow_redirects=False)
    assert front.status_code in (302, 307)
    assert front.headers["location"] == "/docs"
    assert api.client.get("/docs").status_code == 200
    paths = api.client.get("/openapi.json").json()["paths"]
    assert "/api/v1/statuses" in paths and "/api/v1/timelines/home" in paths


def test_browser_clients_on_other_origins_may_call(api: Api) -> None:
    preflight = api.client.options(
        "/api/v1/statuses",
        headers={
            "Origin": "https://web-client.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization, idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "*"
    page = api.client.get("/api/v1/timelines/public", headers={"Origin": "https://x.example"})
    assert "Link" in page.headers["access-control-expose-headers"]


def test_request_threads_are_bounded_by_the_setting(api_factory: Callable[..., Api]) -> None:
    api = api_factory(api_threads=3)
    assert api.client.portal is not None
    limiter = api.client.portal.call(to_thread.current_default_thread_limiter)
    assert limiter.total_tokens == 3


def test_times_are_iso_8601_utc_with_milliseconds() -> None:
    assert iso_time(1_764_590_000_123) == "2025-12-01T11:53:20.123Z"
    assert iso_time(5) == "1970-01-01T00:00:00.005Z"
    assert iso_date(1_764_590_000_123) == "2025-12-01"
