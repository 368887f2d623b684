"""A Starling server for the HTTP benchmark: the demo world copied into a scratch dir,
bearer tokens issued for some of its people, then a `starling` command serving it on a
free loopback port with rate limits off, stopped at the end. See docs/benchmarks.md.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from starling.config import Settings
from starling.runtime import open_runtime
from starling.world.truth import human_accounts

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Server:
    url: str
    tokens: list[str]
    log: Path
    pid: int

    def cpu_seconds(self) -> float:
        """CPU time (user and system) used so far by the server and its children: a
        cost per request that other load on the machine changes less than the rate."""
        parents: dict[int, int] = {}
        used: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # it just exited
            parents[int(entry.name)] = int(fields[1])
            used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
        tree = {self.pid}
        while grown := {p for p, parent in parents.items() if parent in tree} - tree:
            tree |= grown
        return sum(used.get(p, 0.0) for p in tree)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def issue_tokens(data_dir: Path, count: int, seed: int) -> list[str]:
    """Tokens of `count` random people of the world, issued straight in the store."""
    runtime = open_runtime(Settings(data_dir=data_dir), workers="none")
    try:
        app = runtime.actions.create_app("bench", "", "read write follow", None)
        ids = human_accounts(data_dir, count, seed)
        return [runtime.actions.issue_token(app.id, i, "read write follow") for i in ids]
    finally:
        runtime.close()


@contextmanager
def serving(
    world: Path, scratch: Path, command: Sequence[str], *, tokens: int, seed: int
) -> Iterator[Server]:
    """Serves a fresh copy of `world` with `starling COMMAND ...`, each run from the same
    start (the benchmark's posts land in the copy)."""
    data_dir = scratch / "data"
    shutil.copytree(world, data_dir)
    issued = issue_tokens(data_dir, tokens, seed)
    port = free_port()
    argv = [sys.executable, "-m", "starling.cli", *command]
    argv += ["--data-dir", str(data_dir), "--port", str(port), "--rate-limits", "off"]
    log = scratch / "server.log"
    # The server reads only the options given here, not the caller's STARLING_* settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("STARLING_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(proc, url, log)
        yield Server(url, issued, log, proc.pid)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}); see {log}")
        try:
            if httpx.get(f"{url}/api/v1/instance", timeout=1.0).is_success:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer within {READY_TIMEOUT_S:.0f} s; see {log}")
