"""kill -9: nothing acknowledged is lost, and consumers resume from committed offsets
without applying anything twice to derived state."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from starling.config import Settings
from starling.events import PostCreated
from starling.runtime import open_runtime

CLAIM_AFTER_S = 1.0


def _child(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.crash_child", *args],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).parent.parent,
    )


def test_acknowledged_posts_survive_kill_9(tmp_path: Path) -> None:
    runtime = open_runtime(Settings(data_dir=tmp_path), workers="none")
    runtime.actions.register("author", None)
    runtime.close()
    with _child("post", str(tmp_path)) as child:
        assert child.stdout is not None
        acked = [int(child.stdout.readline()) for _ in range(40)]
        child.send_signal(signal.SIGKILL)
    runtime = open_runtime(Settings(data_dir=tmp_path), workers="none")
    try:
        stored = runtime.store.get_posts(acked)
        assert sorted(stored) == sorted(acked)
        # Every stored post has its event: the log and the store commit together.
        entries = runtime.log.replay(0, None, 10_000)
        logged = {e.event.id for e in entries if isinstance(e.event, PostCreated)}
        assert logged == {p.id for p in runtime.store.account_posts(_author(runtime), limit=10_000)}
        # Ids keep increasing after the restart.
        assert runtime.ids.next_id() > max(acked)
    finally:
        runtime.close()


def _author(runtime: object) -> int:
    account = runtime.store.get_account_by_username("author")  # type: ignore[attr-defined]
    assert account is not None
    return int(account.id)


def test_fanout_resumes_from_committed_offset_after_kill_9(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        redis_url=redis_url,
        redis_prefix=f"{tmp_path.name}:",
        log_claim_after_s=CLAIM_AFTER_S,
    )
    runtime = open_runtime(settings, workers="none")
    author = runtime.actions.register("author", None)
    fans = [runtime.actions.register(f"fan{i}", None) for i in range(5)]
    for fan in fans:
        runtime.actions.follow(fan.id, author.id)
        runtime.cache.timelines.replace(fan.id, [])
    runtime.cache.timelines.replace(author.id, [])
    posts = [runtime.actions.post(author.id, f"post {i}").id for i in range(45)]
    runtime.close()

    with _child("fanout", str(tmp_path), redis_url, "3", str(CLAIM_AFTER_S)) as child:
        child.wait()
    assert child.returncode == -signal.SIGKILL

    runtime = open_runtime(settings, workers="none")
    try:
        # Died mid-way: batch 3 applied but not committed, and the dead consumer's claim
        # on the group still stands until it times out.
        backlog = runtime.log.lag("fanout")
        assert 0 < backlog < len(posts) + len(fans) + 6
        assert runtime.fanout.run_once() == 0
        time.sleep(CLAIM_AFTER_S)
        runtime.fanout.drain()
        assert runtime.log.lag("fanout") == 0
        for fan in fans:
            assert runtime.cache.timelines.range(fan.id, limit=800) == posts[::-1]
    finally:
        runtime.close()
