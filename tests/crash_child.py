"""Child process for test_crash_recovery: does work, then is killed with SIGKILL.

python -m tests.crash_child post DATA_DIR      posts forever, printing each acked id
python -m tests.crash_child fanout DATA_DIR    fans out, dies between apply and commit
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from starling.config import Settings
from starling.events import Event
from starling.runtime import open_runtime


def post_forever(data_dir: Path) -> None:
    runtime = open_runtime(Settings(data_dir=data_dir), workers="none")
    author = runtime.store.get_account_by_username("author")
    assert author is not None
    i = 0
    while True:
        post = runtime.actions.post(author.id, f"post {i}")
        print(post.id, flush=True)  # acknowledged: committed before this line
        i += 1


def fan_out_then_die(data_dir: Path, redis_url: str, die_after: int, claim_after_s: float) -> None:
    settings = Settings(
        data_dir=data_dir,
        redis_url=redis_url,
        redis_prefix=f"{data_dir.name}:",
        log_claim_after_s=claim_after_s,
    )
    runtime = open_runtime(settings, workers="none")
    worker = runtime.fanout
    worker.batch_size = 10
    applied = [0]
    apply = worker.apply

    def apply_then_maybe_die(events: list[Event]) -> None:
        apply(events)
        applied[0] += 1
        if applied[0] == die_after:
            os.kill(os.getpid(), signal.SIGKILL)  # applied, not yet committed

    worker.apply = apply_then_maybe_die  # type: ignore[method-assign]
    worker.drain()


if __name__ == "__main__":
    mode, directory = sys.argv[1], Path(sys.argv[2])
    if mode == "post":
        post_forever(directory)
    else:
        fan_out_then_die(directory, sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
