"""`starling worker fanout` as its own process, sharing Redis with the API process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from starling.config import Settings
from starling.runtime import open_runtime


def test_fanout_worker_process_fills_shared_timelines(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(data_dir=tmp_path, redis_url=redis_url, redis_prefix=f"{tmp_path.name}:")
    runtime = open_runtime(settings, workers="none")
    author = runtime.actions.register("author", None)
    fan = runtime.actions.register("fan", None)
    runtime.actions.follow(fan.id, author.id)
    runtime.home.read(fan.id)  # builds the fan's timeline in Redis
    cli = [sys.executable, "-m", "starling.cli", "worker", "fanout"]
    options = ["--data-dir", str(tmp_path), "--redis-url", redis_url]
    options += ["--redis-prefix", f"{tmp_path.name}:"]
    with subprocess.Popen([*cli, *options]) as worker:
        try:
            post = runtime.actions.post(author.id, "fanned out elsewhere")
            deadline = time.monotonic() + 30
            while runtime.log.lag("fanout") > 0:
                assert time.monotonic() < deadline, "the worker process did not catch up"
                time.sleep(0.02)
            assert runtime.cache.timelines.range(fan.id, limit=5) == [post.id]
        finally:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=10)
    assert worker.returncode == 0
    runtime.close()
