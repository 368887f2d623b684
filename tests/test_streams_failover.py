"""`starling worker fanout` x2 on Redis Streams, one killed with SIGKILL while it holds
entries and posts are being written: the other claims them after the claim timeout, and
every acknowledged post reaches every active follower's timeline exactly once. That
rests on fan-out being idempotent on the Redis cache, checked first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from starling.cache.backends import open_cache
from starling.config import Settings
from starling.eventlog.redis_streams import RedisStreamsLog
from starling.events import Event, PostCreated
from starling.runtime import Runtime, open_runtime
from tests.fixtures_runtime import RuntimeFactory

pytestmark = pytest.mark.redis

CLAIM_AFTER_S = 1.0
PATIENCE_S = 30.0
MAX_POSTS = 2_000  # fewer than a timeline holds, however slowly the workers start
TIMELINE_SIZE = 5_000


def test_a_redelivered_batch_changes_no_timeline_on_redis(
    make_runtime: RuntimeFactory, redis_url: str
) -> None:
    runtime = make_runtime(
        redis_url=redis_url, redis_prefix=f"test:{uuid.uuid4().hex}:", timeline_size=3
    )
    author, booster, fan = (runtime.actions.register(n, None).id for n in ("a", "b", "f"))
    runtime.actions.follow(fan, author)
    runtime.actions.follow(fan, booster)
    runtime.home.read(fan)
    posts = [runtime.actions.post(author, f"post {i}").id for i in range(4)]
    boost = runtime.actions.repost(booster, posts[0]).id  # its original left the timeline
    assert runtime.cache.timelines.range(fan, limit=3) == [boost, posts[3], posts[2]]
    events = [e.event for e in runtime.outbox.replay(0, None, 100)]
    created: list[Event] = [e for e in events if isinstance(e, PostCreated)]
    runtime.fanout.apply(created[:2])  # re-delivered: the oldest, already trimmed away
    runtime.fanout.apply(created[-2:])  # re-delivered: still in the timeline
    assert runtime.cache.timelines.range(fan, limit=3) == [boost, posts[3], posts[2]]


def _fanout_process(settings: Settings) -> subprocess.Popen[bytes]:
    options = ["--data-dir", str(settings.data_dir), "--redis-prefix", settings.redis_prefix]
    options += ["--redis-url", str(settings.redis_url), "--log-url", str(settings.log_url)]
    options += ["--log-claim-after-s", str(settings.log_claim_after_s)]
    options += ["--timeline-size", str(settings.timeline_size)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STARLING_")}
    cli = [sys.executable, "-m", "starling.cli", "worker", "fanout"]
    return subprocess.Popen([*cli, *options], env=env, cwd=Path(__file__).parent.parent)


def _held_by(streams: RedisStreamsLog, pid: int) -> int:
    return sum(n for name, n in streams.holders("fanout").items() if f"-{pid}-" in name)


def _kill_while_holding(streams: RedisStreamsLog, victim: subprocess.Popen[bytes]) -> None:
    """Freezes the victim until it is caught holding entries, then kills it."""
    deadline = time.monotonic() + PATIENCE_S
    while time.monotonic() < deadline:
        victim.send_signal(signal.SIGSTOP)
        if _held_by(streams, victim.pid):
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            return
        victim.send_signal(signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the victim never held entries")


def _start_writing(
    runtime: Runtime, authors: list[int], stop: threading.Event, acked: list[int]
) -> threading.Thread:
    """Posts in a thread until stopped, adding each acknowledged post's id to `acked`."""

    def write() -> None:
        while not stop.is_set() and len(acked) < MAX_POSTS:
            author = authors[len(acked) % len(authors)]
            acked.append(runtime.actions.post(author, f"post {len(acked)}").id)
            time.sleep(0.005)

    writer = threading.Thread(target=write)
    writer.start()
    return writer


def test_a_killed_fanout_process_loses_and_repeats_nothing(tmp_path: Path, redis_url: str) -> None:
    settings = Settings(
        data_dir=tmp_path,
        redis_url=redis_url,
        log_url=redis_url,
        redis_prefix=f"test:{uuid.uuid4().hex}:",
        log_claim_after_s=CLAIM_AFTER_S,
        timeline_size=TIMELINE_SIZE,
        workers="relay",  # this process writes and relays; fan-out runs in the two below
        rate_limits="off",
    )
    runtime = open_runtime(settings, workers="threads")
    authors = [runtime.actions.register(f"author{i}", None).id for i in range(8)]
    fans = [runtime.actions.register(f"fan{i}", None).id for i in range(5)]
    for fan in fans:
        for author in authors:
            runtime.actions.follow(fan, author)
        runtime.home.read(fan)  # an active follower, with a timeline in Redis
    assert isinstance(runtime.log, RedisStreamsLog)
    victim, survivor = _fanout_process(settings), _fanout_process(settings)
    stop = threading.Event()
    acked: list[int] = []
    try:
        writer = _start_writing(runtime, authors, stop, acked)
        _kill_while_holding(runtime.log, victim)
        time.sleep(0.3)  # posts keep coming after the kill
        stop.set()
        writer.join(PATIENCE_S)
        deadline = time.monotonic() + PATIENCE_S
        while runtime.outbox.lag("relay") or runtime.log.lag("fanout"):
            assert time.monotonic() < deadline, "the surviving worker did not catch up"
            time.sleep(0.05)
        assert _held_by(runtime.log, victim.pid) == 0  # claimed by the survivor
        assert acked
        cache = open_cache(
            redis_url, timeline_capacity=TIMELINE_SIZE, key_prefix=settings.redis_prefix
        )
        try:
            for fan in fans:
                timeline = cache.timelines.range(fan, limit=TIMELINE_SIZE)
                assert timeline == sorted(acked, reverse=True)
        finally:
            cache.close()
    finally:
        stop.set()
        for process in (victim, survivor):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=10)
        runtime.close()
    assert survivor.returncode == 0
