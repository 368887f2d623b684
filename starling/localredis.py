"""A throwaway redis-server on a free local port, for tests and benchmarks.

Nothing is persisted (--save "" --appendonly no) unless asked: with `persist=True` every
write goes to an append-only file first (appendfsync always), so a killed server restarts
with its data. `PrivateRedis` can be killed, paused and started again on the same port,
which is what the fault tests and the recovery benchmark do to it.
See docs/subsystems/cache.md.
"""

from __future__ import annotations

import shutil
import signal
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


def _launch(binary: str, dir: Path, port: int, persist: bool) -> subprocess.Popen[bytes]:
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += (
        ["--appendonly", "yes", "--appendfsync", "always"] if persist else ["--appendonly", "no"]
    )
    args += ["--dir", str(dir), "--logfile", str(dir / f"redis-{port}.log")]
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _answers_ping(proc: subprocess.Popen[bytes], url: str) -> bool:
    """Waits for PING; False when the server exits first (e.g. the port was taken)."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            try:
                return bool(client.ping())
            except redis.ConnectionError:  # BusyLoadingError too, while it loads its file
                time.sleep(0.02)
        return False
    finally:
        client.close()


def _url(port: int) -> str:
    return f"redis://127.0.0.1:{port}/0"


class PrivateRedis:
    """One private server: `start` picks a free port, `restart` reuses it."""

    def __init__(self, dir: Path, *, persist: bool = False) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable("redis-server is not on PATH")
        self._binary = binary
        self.dir = dir
        self.persist = persist
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return _url(self.port)

    def start(self) -> None:
        """Starts on a free 127.0.0.1 port."""
        self.dir.mkdir(parents=True, exist_ok=True)
        # The free port can be taken between probing and binding: retry on a new one.
        for _ in range(START_ATTEMPTS):
            self.port = _free_port()
            if self._launch():
                return
        raise RedisUnavailable(f"redis-server did not start; see the logs in {self.dir}")

    def restart(self) -> None:
        """Starts again on the same port (after kill or stop)."""
        if not self._launch():
            raise RedisUnavailable(f"redis-server did not restart on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash."""
        proc = self._running()
        proc.kill()
        proc.wait()

    def pause(self) -> None:
        """SIGSTOP: connections stay open but nothing answers, as in a stall."""
        self._running().send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._running().send_signal(signal.SIGCONT)

    def stop(self) -> None:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused server would not act on SIGTERM
        proc.terminate()
        try:
            proc.wait(timeout=STARTUP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def _launch(self) -> bool:
        self._proc = _launch(self._binary, self.dir, self.port, self.persist)
        if _answers_ping(self._proc, self.url):
            return True
        self.stop()
        return False

    def _running(self) -> subprocess.Popen[bytes]:
        assert self._proc is not None, "start the server first"
        return self._proc


@contextmanager
def private_redis_server(dir: Path, *, persist: bool = False) -> Iterator[PrivateRedis]:
    """A private server for the duration of a with-block, to kill and restart at will."""
    server = PrivateRedis(dir, persist=persist)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextmanager
def private_redis(dir: Path) -> Iterator[str]:
    """A private server for the duration of a with-block; yields its URL."""
    with private_redis_server(dir) as server:
        yield server.url
