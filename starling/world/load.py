"""`starling load`: open-loop traffic through the Mastodon client API.

Requests go out on a fixed schedule (rate per second) whatever the server's speed, so
a slow server shows up as latency rather than as a lower request rate. Latency is
measured from each request's scheduled time. The run is bounded: rate x duration
requests, then at most GRACE_S for those still in flight. It refuses any base URL
that is not a loopback address, and stops before the run when no server answers there.
See docs/subsystems/world.md.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
from collections import deque
from dataclasses import dataclass
from typing import Any

import httpx

from starling.world.loadreport import LoadReport

MIX: dict[str, float] = {"post": 0.4, "like": 0.2, "repost": 0.1, "follow": 0.1, "home": 0.2}
HASHTAGS = ("starling", "loadtest", "breaking", "music", "football", "weekend")
WORDS = ("hello", "busy", "day", "look", "at", "this", "great", "news", "again", "so", "fun")
REQUEST_TIMEOUT_S = 10.0
GRACE_S = 10.0  # after the last scheduled request, how long those in flight may finish
REMEMBERED_IDS = 500
# Actions whose responses carry statuses worth remembering as targets.
OBSERVED = frozenset({"post", "like", "repost", "home"})


class ServerUnreachable(Exception):
    """Nothing answers at the base URL: a run would only count transport errors."""


@dataclass(frozen=True)
class Step:
    at_s: float  # offset from the start of the run
    action: str
    token: str


@dataclass(frozen=True)
class Request:
    action: str
    method: str
    url: str
    data: dict[str, str] | None = None


def plan(rate: float, duration: float, tokens: list[str], seed: int) -> list[Step]:
    """The whole schedule up front: evenly spaced steps, actions drawn from MIX."""
    rng = random.Random(seed)
    count = int(rate * duration)
    actions = rng.choices(list(MIX), weights=list(MIX.values()), k=count)
    return [Step(i / rate, action, rng.choice(tokens)) for i, action in enumerate(actions)]


def require_loopback(base_url: str) -> None:
    host = httpx.URL(base_url).host
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"load only targets loopback addresses, not {host!r}")


class Targets:
    """Status and account ids seen in responses: what likes, reposts and follows act on."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self.statuses: deque[str] = deque(maxlen=REMEMBERED_IDS)
        self.accounts: deque[str] = deque(maxlen=REMEMBERED_IDS)
        self.own: dict[str, str] = {}  # token -> its account id, learned from its writes

    def observe(self, token: str, action: str, body: Any) -> None:
        statuses = body if isinstance(body, list) else [body]
        for status in statuses:
            for item in (status, status.get("reblog") or {}):
                if "id" in item and "account" in item:
                    self.statuses.append(str(item["id"]))
                    self.accounts.append(str(item["account"]["id"]))
        # A new post or repost is authored by the token's own account.
        if action in ("post", "repost") and isinstance(body, dict) and "account" in body:
            self.own[token] = str(body["account"]["id"])

    def status(self) -> str | None:
        return self._rng.choice(self.statuses) if self.statuses else None

    def account(self, token: str) -> str | None:
        others = [a for a in self.accounts if a != self.own.get(token)]
        return self._rng.choice(others) if others else None


class Driver:
    """Turns steps into requests and records each outcome in the report."""

    def __init__(self, client: httpx.AsyncClient, concurrency: int, seed: int) -> None:
        self._client = client
        self._slots = asyncio.Semaphore(concurrency)
        self._rng = random.Random(seed + 1)
        self.targets = Targets(self._rng)
        self.report = LoadReport()

    def request(self, step: Step) -> Request:
        """The step's request; a home read stands in while there is nothing to act on."""
        if step.action == "post":
            return Request("post", "POST", "/api/v1/statuses", {"status": self._text()})
        if step.action in ("like", "repost") and (status := self.targets.status()):
            verb = "favourite" if step.action == "like" else "reblog"
            return Request(step.action, "POST", f"/api/v1/statuses/{status}/{verb}")
        if step.action == "follow" and (account := self.targets.account(step.token)):
            return Request("follow", "POST", f"/api/v1/accounts/{account}/follow")
        return Request("home", "GET", "/api/v1/timelines/home?limit=20")

    def _text(self) -> str:
        words = " ".join(self._rng.choices(WORDS, k=self._rng.randint(3, 8)))
        tags = " ".join("#" + t for t in self._rng.sample(HASHTAGS, self._rng.randint(1, 2)))
        return f"{words} {tags}"

    async def send(self, step: Step, scheduled: float) -> None:
        request = self.request(step)
        loop = asyncio.get_running_loop()
        error: str | None = "cancelled"
        try:
            async with self._slots:
                error = await self._exchange(step.token, request)
        finally:
            self.report.record(request.action, (loop.time() - scheduled) * 1000, error)

    async def _exchange(self, token: str, request: Request) -> str | None:
        """Sends one request; returns the error kind, or None on success."""
        headers = {"Authorization": f"Bearer {token}"}
        try:
            response = await self._client.request(
                request.method, request.url, data=request.data, headers=headers
            )
        except httpx.TimeoutException:
            return "timeout"
        except httpx.HTTPError:
            return "transport"
        if not response.is_success:
            return str(response.status_code)
        if request.action in OBSERVED:
            try:
                self.targets.observe(token, request.action, response.json())
            except ValueError:
                return "invalid-json"
        return None


def run_load(
    base_url: str,
    tokens: list[str],
    *,
    rate: float,
    duration: float,
    seed: int = 0,
    concurrency: int = 16,
    transport: httpx.AsyncBaseTransport | None = None,
) -> LoadReport:
    """Sends rate x duration requests spread over `duration` seconds; stops by itself."""
    require_loopback(base_url)
    if not tokens or rate <= 0 or duration <= 0 or concurrency < 1:
        raise ValueError("need tokens, and a positive rate, duration and concurrency")
    steps = plan(rate, duration, tokens, seed)
    return asyncio.run(_drive(base_url, steps, seed, concurrency, transport))


async def _drive(
    base_url: str,
    steps: list[Step],
    seed: int,
    concurrency: int,
    transport: httpx.AsyncBaseTransport | None,
) -> LoadReport:
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits, transport=transport
    ) as client:
        await _check_reachable(client)
        driver = Driver(client, concurrency, seed)
        loop = asyncio.get_running_loop()
        start = loop.time()
        tasks = []
        for step in steps:
            await asyncio.sleep(max(0.0, start + step.at_s - loop.time()))
            tasks.append(asyncio.create_task(driver.send(step, start + step.at_s)))
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=GRACE_S)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        driver.report.duration_s = loop.time() - start
        return driver.report


async def _check_reachable(client: httpx.AsyncClient) -> None:
    """Any HTTP answer will do; only a failed exchange means there is no server."""
    try:
        await client.get("/api/v1/instance")
    except httpx.TransportError as exc:
        raise ServerUnreachable(
            f"no server answers at {client.base_url} ({type(exc).__name__}): "
            "start one with `starling serve` or `make run`, or pass --url"
        ) from exc
