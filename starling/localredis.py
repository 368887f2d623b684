"""A throwaway redis-server on a free local port, for tests and benchmarks.

Nothing is persisted (--save "" --appendonly no); the server lives as long as its process.
See docs/subsystems/cache.md.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import redis

STARTUP_TIMEOUT_S = 10.0
START_ATTEMPTS = 3


class RedisUnavailable(RuntimeError):
    """No redis-server binary, or it would not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _launch(binary: str, dir: Path, port: int) -> subprocess.Popen[bytes]:
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--dir", str(dir), "--logfile", str(dir / f"redis-{port}.log")]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _answers_ping(proc: subprocess.Popen[bytes], url: str) -> bool:
    """Waits for PING; False when the server exits first (e.g. the port was taken)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                time.sleep(0.02)
        return False
    finally:
        client.close()


def start_private_redis(dir: Path) -> tuple[subprocess.Popen[bytes], str]:
    """Starts redis-server on a free 127.0.0.1 port; returns the process and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable("redis-server is not on PATH")
    dir.mkdir(parents=True, exist_ok=True)
    # The free port can be taken between probing and binding: retry on a new one.
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        proc = _launch(binary, dir, port)
        url = f"redis://127.0.0.1:{port}/0"
        if _answers_ping(proc, url):
            return proc, url
        stop_private_redis(proc)
    raise RedisUnavailable(f"redis-server did not start; see the logs in {dir}")


def stop_private_redis(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=STARTUP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextmanager
def private_redis(dir: Path) -> Iterator[str]:
    """A private server for the duration of a with-block; yields its URL."""
    proc, url = start_private_redis(dir)
    try:
        yield url
    finally:
        stop_private_redis(proc)
