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
CLUSTER_MASTERS = 3
# Joining nodes gossips over the cluster bus; on a loaded machine it takes several seconds.
CLUSTER_JOIN_TIMEOUT_S = 60.0


class RedisUnavailable(RuntimeError):
    """No redis-server binary, or it would not start."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _binary(name: str) -> str:
    binary = shutil.which(name)
    if binary is None:
        raise RedisUnavailable(f"{name} is not on PATH")
    return binary


def _launch(
    binary: str, dir: Path, port: int, persist: bool, cluster: bool
) -> subprocess.Popen[bytes]:
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    args += (
        ["--appendonly", "yes", "--appendfsync", "always"] if persist else ["--appendonly", "no"]
    )
    args += ["--dir", str(dir), "--logfile", str(dir / f"redis-{port}.log")]
    if cluster:
        # An explicit bus port: the default (port + 10000) can fall outside the port range.
        args += ["--cluster-enabled", "yes", "--cluster-port", str(_free_port())]
        args += ["--cluster-config-file", f"nodes-{port}.conf"]
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
    """One private server: `start` picks a free port, `restart` reuses it. A `cluster`
    server starts as a lone cluster node (private_redis_cluster joins three)."""

    def __init__(self, dir: Path, *, persist: bool = False, cluster: bool = False) -> None:
        self._binary = _binary("redis-server")
        self.dir = dir
        self.persist = persist
        self.cluster = cluster
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
        self._proc = _launch(self._binary, self.dir, self.port, self.persist, self.cluster)
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


@contextmanager
def private_redis_cluster(dir: Path) -> Iterator[str]:
    """A private Redis Cluster of three masters, no replicas, for the duration of a
    with-block; yields the URL of one of its nodes."""
    servers = [PrivateRedis(dir, cluster=True) for _ in range(CLUSTER_MASTERS)]
    try:
        for server in servers:
            server.start()
        _create_cluster(dir, [server.url for server in servers])
        yield servers[0].url
    finally:
        for server in servers:
            server.stop()


def _create_cluster(dir: Path, urls: list[str]) -> None:
    """Joins the nodes and spreads the 16,384 slots over them; waits until every node
    reports the cluster as ok."""
    nodes = [url.removeprefix("redis://").removesuffix("/0") for url in urls]
    args = [_binary("redis-cli"), "--cluster", "create", *nodes]
    args += ["--cluster-replicas", "0", "--cluster-yes"]
    done = subprocess.run(args, capture_output=True, timeout=CLUSTER_JOIN_TIMEOUT_S)
    if done.returncode != 0:
        (dir / "cluster-create.log").write_bytes(done.stdout + done.stderr)
        raise RedisUnavailable(f"redis-cli --cluster create failed; see the logs in {dir}")
    for url in urls:
        _wait_cluster_ok(url, len(urls), dir)


def _wait_cluster_ok(url: str, nodes: int, dir: Path) -> None:
    client = redis.Redis.from_url(url, decode_responses=True)
    deadline = time.monotonic() + CLUSTER_JOIN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            info = client.cluster("INFO")
            if info["cluster_state"] == "ok" and int(info["cluster_known_nodes"]) == nodes:
                return
            time.sleep(0.05)
    finally:
        client.close()
    raise RedisUnavailable(f"the cluster did not reach cluster_state:ok; see the logs in {dir}")
