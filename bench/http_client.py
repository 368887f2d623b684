"""A closed-loop HTTP load generator for the benchmarks: `concurrency` keep-alive
connections, each sending its next request as soon as the last answer arrived, for a
fixed time. Loopback only.

The client is a minimal HTTP/1.1 speaker on asyncio streams rather than httpx: it shares
the machine's cores with the server, and a lighter client leaves more of them to what is
measured. It understands only what the API sends (a Content-Length body).
See docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from starling.world.load import require_loopback

HEADER_END = b"\r\n\r\n"


@dataclass(frozen=True)
class Call:
    """One request: method, path, bearer token and an optional form body."""

    method: str
    path: str
    token: str
    form: bytes = b""

    def encode(self, host: str) -> bytes:
        head = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}"]
        head.append(f"Authorization: Bearer {self.token}")
        if self.form:
            head.append("Content-Type: application/x-www-form-urlencoded")
        head.append(f"Content-Length: {len(self.form)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + self.form


@dataclass
class Outcome:
    """Latencies (seconds) of the successful requests and the failures, by kind."""

    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    warmup_requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def fail(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def exchange(self, request: bytes) -> int:
        """Sends one request, reads the whole answer; returns its status code."""
        self._writer.write(request)
        head = await self._reader.readuntil(HEADER_END)
        status, length = _parse_head(head)
        await self._reader.readexactly(length)
        return status

    def close(self) -> None:
        self._writer.close()


def _parse_head(head: bytes) -> tuple[int, int]:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return status, int(value)
    raise ValueError("an answer without Content-Length")


def run(
    base_url: str,
    calls: Callable[[int], Call],
    *,
    concurrency: int,
    seconds: float,
    warmup_s: float = 0.0,
) -> Outcome:
    """Drives the server for warmup_s + seconds; counts only what finishes after warm-up.
    `calls(n)` gives the n-th request of the run."""
    require_loopback(base_url)
    return asyncio.run(_drive(base_url, calls, concurrency, seconds, warmup_s))


async def _drive(
    base_url: str, calls: Callable[[int], Call], concurrency: int, seconds: float, warmup_s: float
) -> Outcome:
    host, _, port = base_url.removeprefix("http://").rstrip("/").partition(":")
    counter = itertools.count()
    outcome = Outcome()
    started = time.perf_counter()
    measure_from = started + warmup_s
    stop_at = measure_from + seconds

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        connection = Connection(reader, writer)
        try:
            while (sent := time.perf_counter()) < stop_at:
                call = calls(next(counter))
                status = await connection.exchange(call.encode(host))
                if sent < measure_from:
                    outcome.warmup_requests += 1
                    continue
                if status >= 400:
                    outcome.fail(str(status))
                else:
                    outcome.latencies.append(time.perf_counter() - sent)
        finally:
            connection.close()

    await asyncio.gather(*(client() for _ in range(concurrency)))
    outcome.seconds = time.perf_counter() - measure_from
    return outcome
