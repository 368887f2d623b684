"""`starling up`: API processes on one socket and worker processes, end to end on a
private Redis with the SQLite store, and on PostgreSQL + Redis Streams + Redis."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from starling.cli import main
from starling.config import Settings
from starling.runtime import open_runtime
from starling.up import UpError, plan, settings_env
from starling.workers.registry import IN_PROCESS

STARTUP_S = 60.0
SETTLE_S = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture(autouse=True)
def no_caller_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [k for k in os.environ if k.startswith("STARLING_")]:
        monkeypatch.delenv(name)


@dataclass
class Up:
    proc: subprocess.Popen[str]
    url: str
    log: Path
    settings: Settings  # what the deployment runs on, for a process of the test's own

    def children(self) -> dict[str, int]:
        found = re.findall(r"^(\S+) ready \(pid (\d+)\)$", self.log.read_text(), re.MULTILINE)
        return {name: int(pid) for name, pid in found}


@pytest.fixture(params=["sqlite", pytest.param("postgres-streams", marks=pytest.mark.postgres)])
def stack(request: pytest.FixtureRequest, redis_url: str) -> dict[str, str]:
    """The store and log options: the SQLite outbox, or PostgreSQL and Redis Streams."""
    if request.param == "sqlite":
        return {}
    return {"store": request.getfixturevalue("postgres_url"), "log": redis_url}


@pytest.fixture
def up(tmp_path: Path, redis_url: str, stack: dict[str, str]) -> Iterator[Up]:
    """`starling up --api 2` on a tiny world, until its banner is printed."""
    data = tmp_path / "data"
    settings = Settings(
        data_dir=data,
        redis_url=redis_url,
        redis_prefix=f"{tmp_path.name}:",
        store_url=stack.get("store"),
        log_url=stack.get("log"),
    )
    stores = ["--store-url", stack["store"]] if "store" in stack else []
    assert main(["world", "generate", "--size", "tiny", "--data-dir", str(data), *stores]) == 0
    port = _free_port()
    argv = [sys.executable, "-m", "starling.cli", "up", "--api", "2", "--redis", redis_url]
    argv += ["--redis-prefix", f"{tmp_path.name}:", "--data-dir", str(data)]
    argv += ["--port", str(port), "--rate-limits", "off", "--access-log", "off"]
    argv += [arg for option, url in stack.items() for arg in (f"--{option}", url)]
    log = tmp_path / "up.log"
    with log.open("w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, text=True)
    deployment = Up(proc, f"http://127.0.0.1:{port}", log, settings)
    try:
        deadline = time.monotonic() + STARTUP_S
        while "Starling is up" not in log.read_text():
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield deployment
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in deployment.children().values():
            _kill_quietly(pid)


def _kill_quietly(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _accounts(settings: Settings, *names: str) -> dict[str, tuple[str, int]]:
    """New accounts by name: each one's bearer token and id."""
    runtime = open_runtime(settings, workers="none")
    try:
        app = runtime.actions.create_app("test", "", "read write follow", None)
        scopes = "read write follow"
        made = [runtime.actions.register(name, None) for name in names]
        return {a.username: (runtime.actions.issue_token(app.id, a.id, scopes), a.id) for a in made}
    finally:
        runtime.close()


def test_a_post_through_one_process_reaches_a_follower_and_ctrl_c_stops_all(up: Up) -> None:
    children = up.children()
    relay = ["relay-1"] if up.settings.log_url else []
    assert sorted(children) == sorted(["api-1", "api-2", "counts-1", "fanout-1", "graph-1", *relay])
    made = _accounts(up.settings, "author", "reader", "fan", "stranger")
    (author, author_id), (reader, _) = made["author"], made["reader"]
    (fan, fan_id), (stranger, _) = made["fan"], made["stranger"]

    def call(method: str, path: str, token: str, **data: str) -> httpx.Response:
        # A new connection each time: the kernel hands it to either API process.
        headers = {"Authorization": f"Bearer {token}"}
        response = httpx.request(method, up.url + path, headers=headers, data=data or None)
        assert response.is_success, response.text
        return response

    call("POST", f"/api/v1/accounts/{author_id}/follow", reader)
    call("GET", "/api/v1/timelines/home", reader)  # builds the reader's timeline
    post = call("POST", "/api/v1/statuses", author, status="across processes").json()
    deadline = time.monotonic() + SETTLE_S
    while post["id"] not in [s["id"] for s in call("GET", "/api/v1/timelines/home", reader).json()]:
        assert time.monotonic() < deadline, "the post did not reach the follower's timeline"
        time.sleep(0.1)
    # The fan-out worker process counted the events; an API process answers for it, with
    # the backlog fresh from the log (it reaches 0 once the worker commits the batch).
    caught_up = r'^starling_worker_backlog\{worker="fanout"\} 0\.0$'
    while not re.search(caught_up, metrics := httpx.get(up.url + "/metrics").text, re.M):
        assert time.monotonic() < deadline, metrics
        time.sleep(0.1)
    assert re.search(r'^starling_worker_events_total\{worker="fanout"\} [1-9]', metrics, re.M)

    # For You out of network: an API process keeps its own real graph, fed from the log,
    # so a post liked by someone the reader follows reaches the reader's ranked page.
    liked = call("POST", "/api/v1/statuses", stranger, status="liked far away").json()
    call("POST", f"/api/v1/statuses/{liked['id']}/favourite", fan)
    call("POST", f"/api/v1/accounts/{fan_id}/follow", reader)
    seen: list[str] = []
    while liked["id"] not in seen:
        assert time.monotonic() < deadline + SETTLE_S, "no process served the liked post"
        seen += [s["id"] for s in call("GET", "/api/v1/timelines/for_you", reader).json()]
        time.sleep(0.1)

    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(timeout=30) == 0
    assert not [name for name, pid in children.items() if _alive(pid)]


def test_a_child_that_dies_stops_every_process(up: Up) -> None:
    children = up.children()
    os.kill(children["graph-1"], signal.SIGKILL)
    assert up.proc.wait(timeout=30) == 1
    assert "graph-1" in up.log.read_text().split("Starling is up")[-1]
    assert not [name for name, pid in children.items() if _alive(pid)]


def test_several_processes_need_a_shared_cache(tmp_path: Path) -> None:
    with pytest.raises(UpError, match="shared cache"):
        plan(Settings(data_dir=tmp_path), api=1, fanout=1, listen_fd=3)
    assert main(["up", "--api", "2", "--data-dir", str(tmp_path)]) == 2


def test_each_api_process_makes_ids_as_its_own_node(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")
    children = plan(settings, api=3, fanout=2, listen_fd=3)
    api = [c for c in children if c.name.startswith("api-")]
    assert [c.settings.id_node for c in api] == [1, 2, 3]
    assert [c.name for c in children if c.name.startswith("fanout-")] == ["fanout-1", "fanout-2"]
    # API processes keep their own in-memory state; worker processes run one worker each.
    assert {c.settings.workers for c in api} == {",".join(IN_PROCESS)}
    assert {c.settings.workers for c in children if c not in api} == {"none"}


def test_children_read_exactly_the_parents_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, access_log=False, redis_url=None, port=9999)
    env = settings_env(settings, {"STARLING_REDIS_URL": "redis://elsewhere", "PATH": "/bin"})
    assert env["PATH"] == "/bin" and "STARLING_REDIS_URL" not in env
    names = {k.removeprefix("STARLING_").lower(): v for k, v in env.items() if k != "PATH"}
    assert Settings(**names) == settings  # type: ignore[arg-type]
