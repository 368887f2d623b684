"""`starling up`: the scaled deployment on one machine, as one command.

Starts N API processes (`starling serve`, no worker threads) that share one listening
socket, so the kernel spreads connections over them and every core serves requests, and
one `starling worker NAME` process per registered worker (K for fan-out, consumers of one
group), all on the same store, log and cache URLs. Each child reads the parent's settings
from its environment and says on a pipe when it is ready. A child that dies stops the
whole deployment (exit status 1): on one machine that is usually a backend gone or a bad
setting, which restarting in a loop would hide; run `starling up` under a supervisor
(systemd `Restart=on-failure`) to come back. Ctrl-C or SIGTERM stops every child.
See docs/deploy.md.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from starling.config import Settings
from starling.ids import NODE_SLOTS
from starling.workers.registry import IN_PROCESS, WORKERS, cannot_run_alone

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
WATCH_EVERY_S = 0.2
BACKLOG = 2048  # connections the shared socket holds while every process is busy
# Each process keeps its metrics in files here, and any API process's /metrics adds them
# up (prometheus_client's multiprocess mode).
METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


class UpError(RuntimeError):
    """The deployment cannot start; the message says why."""


@dataclass
class Child:
    """One process of the deployment: a name, its `starling` arguments and settings,
    and once started its process and the pipe on which it reports ready."""

    name: str
    args: list[str]
    settings: Settings
    proc: subprocess.Popen[bytes] | None = None
    ready_fd: int = -1
    ready: bool = False


def plan(settings: Settings, api: int, fanout: int, listen_fd: int) -> list[Child]:
    """The API processes, then one process per worker, `fanout` of them for the fan-out
    group. Refuses what cannot work. API process i makes ids as node i; node 0 stays
    with one-off commands (`starling admin`, this parent's banner)."""
    if not 1 <= api < NODE_SLOTS or fanout < 1:
        raise UpError(f"--api takes 1 to {NODE_SLOTS - 1} processes and --fanout at least 1")
    if settings.redis_url is None:
        # In-process caches would each hold their own timelines and counters.
        raise UpError(
            "API and worker processes need a shared cache: give --redis redis://... "
            "(STARLING_REDIS_URL)"
        )
    quiet = settings.model_copy(update={"workers": "none"})
    # Each API process feeds its own in-memory state (real graph, post vectors, embedding
    # index, feature state, precomputed lists) that its For You reads.
    replicas = settings.model_copy(update={"workers": ",".join(IN_PROCESS)})
    serve = ["serve", "--listen-fd", str(listen_fd)]
    made = [
        Child(f"api-{i}", serve, replicas.model_copy(update={"id_node": i}))
        for i in range(1, api + 1)
    ]
    for name in WORKERS:
        if cannot_run_alone(name, settings):
            continue  # no log to relay, or state that would live in a process nobody reads
        count = fanout if name == "fanout" else 1
        made += [Child(f"{name}-{i + 1}", ["worker", name], quiet) for i in range(count)]
    return made


def settings_env(settings: Settings, base: dict[str, str]) -> dict[str, str]:
    """`base` with every setting as its STARLING_* variable, so a child reads exactly
    these settings (one left unset is removed, not inherited)."""
    env = {k: v for k, v in base.items() if not k.startswith("STARLING_")}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is not None:
            env[f"STARLING_{name.upper()}"] = str(value)
    return env


def listen(host: str, port: int) -> socket.socket:
    """The socket every API process accepts on; inherited by each."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=BACKLOG)
    sock.set_inheritable(True)
    return sock


class Deployment:
    """Starts the children, waits until each is ready, watches them, stops them all."""

    def __init__(self, children: list[Child], pass_fds: tuple[int, ...], env: dict[str, str]):
        self.children = children
        self._pass_fds = pass_fds
        self._env = env
        self.stopping = threading.Event()

    def start(self) -> None:
        for child in self.children:
            read_fd, write_fd = os.pipe()
            argv = [sys.executable, "-m", "starling.cli", *child.args]
            child.proc = subprocess.Popen(
                [*argv, "--ready-fd", str(write_fd)],
                env=settings_env(child.settings, self._env),
                pass_fds=(*self._pass_fds, write_fd),
                process_group=0,  # Ctrl-C reaches the parent only, which stops each child
            )
            os.close(write_fd)
            child.ready_fd = read_fd

    def wait_ready(self, timeout_s: float = READY_TIMEOUT_S) -> None:
        """Returns when every child said it is ready; raises UpError when one dies first,
        or time runs out; returns early when stopping."""
        deadline = time.monotonic() + timeout_s
        while not self.stopping.is_set():
            waiting = {c.ready_fd: c for c in self.children if not c.ready}
            if not waiting:
                return
            if time.monotonic() > deadline:
                raise UpError(f"not ready after {timeout_s:.0f} s: {', '.join(_names(waiting))}")
            readable, _, _ = select.select(list(waiting), [], [], WATCH_EVERY_S)
            for fd in readable:
                if not os.read(fd, 1):
                    raise UpError(f"{waiting[fd].name} exited before it was ready")
                waiting[fd].ready = True

    def watch(self) -> Child | None:
        """Blocks until stopping (None) or until a child exits (that child)."""
        while not self.stopping.wait(WATCH_EVERY_S):
            for child in self.children:
                if child.proc is not None and child.proc.poll() is not None:
                    return child
        return None

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM to every child still running, SIGKILL to any still there after
        timeout_s."""
        running = [c.proc for c in self.children if c.proc is not None and c.proc.poll() is None]
        for proc in running:
            proc.terminate()
        deadline = time.monotonic() + timeout_s
        for proc in running:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for child in self.children:
            if child.ready_fd >= 0:
                os.close(child.ready_fd)
                child.ready_fd = -1


def run(settings: Settings, api: int, fanout: int, on_ready: Callable[[], None]) -> int:
    """Runs the deployment until Ctrl-C or SIGTERM (0) or a child's death (1)."""
    with listen(settings.host, settings.port) as sock:
        metrics_dir = tempfile.mkdtemp(prefix="starling-metrics-")
        env = {**os.environ, METRICS_DIR_ENV: metrics_dir}
        deployment = Deployment(plan(settings, api, fanout, sock.fileno()), (sock.fileno(),), env)
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: deployment.stopping.set())
        try:
            return _supervise(deployment, on_ready)
        finally:
            deployment.stop()
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _supervise(deployment: Deployment, on_ready: Callable[[], None]) -> int:
    deployment.start()
    try:
        deployment.wait_ready()
    except UpError as exc:
        print(f"starling up: {exc}; stopping every process", file=sys.stderr, flush=True)
        return 1
    if deployment.stopping.is_set():
        return 0
    for child in deployment.children:
        assert child.proc is not None
        print(f"{child.name} ready (pid {child.proc.pid})", flush=True)
    on_ready()
    dead = deployment.watch()
    if dead is None:
        return 0
    assert dead.proc is not None
    print(
        f"starling up: {dead.name} (pid {dead.proc.pid}) exited with status "
        f"{dead.proc.returncode}; stopping every process",
        file=sys.stderr,
        flush=True,
    )
    return 1


def _names(children: dict[int, Child]) -> list[str]:
    return [child.name for child in children.values()]
