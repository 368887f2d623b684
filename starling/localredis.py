"""Throwaway Redis on free local ports, for tests and benchmarks: one redis-server, or a
Redis Cluster of three masters.

Nothing is persisted (--save "" --appendonly no); the servers live as long as their
processes. See docs/subsystems/cache.md.
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
# Joining nodes gossips over the cluster bus; on a loaded machine it takes several seconds.
CLUSTER_JOIN_TIMEOUT_S = 60.0
START_ATTEMPTS = 3
CLUSTER_MASTERS = 3  # the fewest that redis-cli --cluster create accepts


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


def _launch(binary: str, dir: Path, port: int, cluster: bool) -> subprocess.Popen[bytes]:
    args = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
    args += ["no", "--dir", str(dir), "--logfile", str(dir / f"redis-{port}.log")]
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
            except redis.ConnectionError:
                time.sleep(0.02)
        return False
    finally:
        client.close()


def start_private_redis(dir: Path, *, cluster: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """Starts redis-server on a free 127.0.0.1 port (cluster: as a lone cluster node);
    returns the process and its URL."""
    binary = _binary("redis-server")
    dir.mkdir(parents=True, exist_ok=True)
    # The free port can be taken between probing and binding: retry on a new one.
    for _ in range(START_ATTEMPTS):
        port = _free_port()
        proc = _launch(binary, dir, port, cluster)
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


@contextmanager
def private_redis_cluster(dir: Path) -> Iterator[str]:
    """A private Redis Cluster of three masters, no replicas, for the duration of a
    with-block; yields the URL of one of its nodes."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        urls = []
        for _ in range(CLUSTER_MASTERS):
            proc, url = start_private_redis(dir, cluster=True)
            procs.append(proc)
            urls.append(url)
        _create_cluster(dir, urls)
        yield urls[0]
    finally:
        for proc in procs:
            stop_private_redis(proc)


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
