"""Per-token and per-IP rate limits, in process, with Mastodon's headers.

A fixed window per key: each window of `window_s` seconds allows `limit` requests.
Requests with a bearer token count against the token; others against the client IP. Every
request also counts against a larger budget per IP, so made-up tokens (each its own
bucket) cannot get around the per-IP limit, as Mastodon's `throttle_per_ip`.
Every response carries X-RateLimit-Limit, -Remaining and -Reset (ISO 8601, as Mastodon
sends it); over the limit the answer is 429. See docs/subsystems/api.md.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from starling.api.errors import error_response
from starling.api.render import iso_time
from starling.auth import hash_secret

RATE_LIMIT_HEADERS = ("X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset")


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    used: int
    reset_at: float

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def headers(self) -> dict[str, str]:
        values = (
            str(self.limit),
            str(max(self.limit - self.used, 0)),
            iso_time(int(self.reset_at * 1000)),
        )
        return dict(zip(RATE_LIMIT_HEADERS, values, strict=True))


class FixedWindow:
    """Request counts per key for the current window; thread-safe."""

    def __init__(self, limit: int, window_s: int, clock: Callable[[], float] = time.time) -> None:
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._lock = threading.Lock()
        self._window = -1
        self._counts: dict[str, int] = {}

    def hit(self, key: str) -> Quota:
        window = int(self._clock() // self.window_s)
        with self._lock:
            if window != self._window:
                # Old windows never matter again; dropping them bounds the memory.
                self._window = window
                self._counts.clear()
            used = self._counts.get(key, 0) + 1
            self._counts[key] = used
        return Quota(self.limit, used, float((window + 1) * self.window_s))


class RateLimitMiddleware:
    def __init__(
        self, app: ASGIApp, *, per_token: FixedWindow, per_ip: FixedWindow, ip_all: FixedWindow
    ) -> None:
        self.app = app
        self.per_token = per_token
        self.per_ip = per_ip
        self.ip_all = ip_all

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        quota = self._quota(scope)
        if quota.exceeded:
            response = error_response(429, "Too many requests", quota.headers())
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(quota.headers())
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _quota(self, scope: Scope) -> Quota:
        """The quota this request is answered with: the IP-wide one when it is spent,
        else the token's or the anonymous IP's."""
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        overall = self.ip_all.hit(ip)
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            # Keyed by the token's hash so the table never holds a usable secret.
            quota = self.per_token.hit("token:" + hash_secret(token.strip()))
        else:
            quota = self.per_ip.hit("ip:" + ip)
        return overall if overall.exceeded else quota
