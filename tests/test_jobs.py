"""Scheduled jobs: due from the age of their newest output, run as real child processes
whose versions the server's readers then serve, failures logged and retried with
back-off, and one scheduler per data dir."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from starling import metrics
from starling.artifacts import Artifacts
from starling.cli import main
from starling.config import Settings
from starling.jobs import scheduler as scheduler_module
from starling.jobs.child import ChildRunner
from starling.jobs.job import Job, jobs_of
from starling.jobs.lock import ScheduleLock, holder, lock_path
from starling.jobs.schedule import BACKOFF_FIRST_S, Schedule
from starling.jobs.scheduler import Scheduler, in_background
from starling.simclusters.index import open_index
from starling.store.sqlite import SqliteStore
from starling.training import TOO_LITTLE_DATA
from starling.twhin.embeddings import newest
from starling.world import generate

ROOT = Path(__file__).resolve().parent.parent
HOUR = 3600.0
DAY = 24 * HOUR


class Clock:
    """Wall time that a test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _job(tmp_path: Path, interval_s: float = HOUR) -> Job:
    return Job("communities", ("train", "simclusters"), interval_s, Artifacts(tmp_path, "c-"))


def _save_at(job: Job, at: float) -> None:
    """A version of the job's output made at `at` (versions are milliseconds)."""
    job.output.save(f"{int(at * 1000):015d}", Path.touch)


def _runs(job: str, outcome: str) -> float:
    labels = {"job": job, "outcome": outcome}
    return metrics.REGISTRY.get_sample_value("starling_job_runs_total", labels) or 0.0


def _scheduler(settings: Settings, clock: Clock, out: io.StringIO) -> Scheduler:
    """The settings' enabled jobs, run as child processes, on a clock of the test's."""
    jobs = [job for job in jobs_of(settings) if job.enabled]
    lock = ScheduleLock(lock_path(settings))
    return Scheduler(Schedule(jobs, clock), lock, ChildRunner(settings, out), out)


@pytest.fixture(autouse=True)
def locks_released(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every schedule lock a test took is let go after it, as its process would."""
    made: list[ScheduleLock] = []
    original = ScheduleLock.__init__

    def track(self: ScheduleLock, path: Path) -> None:
        original(self, path)
        made.append(self)

    monkeypatch.setattr(ScheduleLock, "__init__", track)
    yield
    for lock in made:
        lock.release()


def _world(data_dir: Path) -> Path:
    """A tiny generated world in `data_dir`, no job run yet."""
    data_dir.mkdir(parents=True, exist_ok=True)
    store = SqliteStore(data_dir / "starling.sqlite3")
    try:
        generate(store, data_dir, "tiny", 1, progress=False)
    finally:
        store.close()
    return data_dir


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _world(tmp_path_factory.mktemp("world"))


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_a_job_is_due_once_its_newest_output_is_older_than_its_interval(tmp_path: Path) -> None:
    clock = Clock(1_800_000_000.0)
    job = _job(tmp_path)
    assert Schedule([job], clock).due() == [job]  # never ran: at once
    _save_at(job, clock.now - HOUR + 1)
    # A new schedule (a restart) reads the same age from the data dir.
    schedule = Schedule([job], clock)
    assert schedule.due() == []
    assert schedule.due_at(job) == clock.now + 1
    clock.now += 1
    assert schedule.due() == [job]
    _save_at(job, clock.now)
    assert schedule.due() == []


def test_an_interval_of_zero_disables_a_job(tmp_path: Path) -> None:
    job = _job(tmp_path, interval_s=0)
    schedule = Schedule([job], Clock(1_800_000_000.0))
    assert schedule.due_at(job) is None
    assert schedule.due() == []


def test_a_due_job_runs_once_in_a_child_and_the_server_serves_its_version(
    world_dir: Path, stop: threading.Event
) -> None:
    settings = Settings(data_dir=world_dir)
    communities, embeddings = open_index(world_dir), newest(world_dir)
    communities.check_every_s = embeddings.check_every_s = 0.0
    assert communities.current() is None and embeddings.current() is None
    out, clock = io.StringIO(), Clock(time.time())
    scheduler = _scheduler(settings, clock, out)
    successes = _runs("simclusters", "success"), _runs("embeddings", "success")

    assert scheduler.check(stop) == ["simclusters", "embeddings"]
    assert scheduler.check(stop) == []  # their outputs are fresh now

    served = communities.current(), embeddings.current()
    for job, version in zip(scheduler.schedule.jobs, served, strict=True):
        assert version is not None and [version.version] == job.output.versions()
    assert (_runs("simclusters", "success"), _runs("embeddings", "success")) == (
        successes[0] + 1,
        successes[1] + 1,
    )
    log = out.getvalue().splitlines()
    assert any(line.startswith("simclusters: follows:") for line in log)  # its progress
    assert [line.split(" in ")[0] for line in log if " done " in line] == [
        "simclusters: done",
        "embeddings: done",
    ]
    clock.now = time.time() + DAY
    assert [job.name for job in scheduler.schedule.due()] == ["simclusters", "embeddings"]


def test_a_failing_child_is_logged_and_retried_after_a_back_off(
    tmp_path: Path, stop: threading.Event
) -> None:
    # A store that is no database: the job's child process fails.
    settings = Settings(data_dir=tmp_path / "broken", job_embeddings_interval_s=0)
    settings.data_dir.mkdir()
    settings.store_path.write_bytes(b"not a database" * 100)
    out, clock = io.StringIO(), Clock(time.time())
    scheduler = _scheduler(settings, clock, out)
    failures = _runs("simclusters", "failure")

    assert scheduler.check(stop) == ["simclusters"]

    log = out.getvalue()
    assert "simclusters: failed after" in log and "(exit status 1); retrying in 60 s" in log
    assert _runs("simclusters", "failure") == failures + 1
    assert scheduler.check(stop) == []
    clock.now += BACKOFF_FIRST_S
    assert [job.name for job in scheduler.schedule.due()] == ["simclusters"]


def test_a_new_instance_has_too_little_data_which_is_no_failure(
    tmp_path: Path, stop: threading.Event, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    for model in ("simclusters", "embeddings"):
        assert main(["train", model, "--data-dir", str(empty)]) == TOO_LITTLE_DATA
        assert "starling: " in capsys.readouterr().err  # one clear line, no traceback
    out, clock = io.StringIO(), Clock(time.time())
    scheduler = _scheduler(Settings(data_dir=empty), clock, out)
    failures, waits = _runs("simclusters", "failure"), _runs("simclusters", "too_little_data")

    assert scheduler.check(stop) == ["simclusters", "embeddings"]

    log = out.getvalue()
    assert "Traceback" not in log and "failed" not in log
    assert "simclusters: starling: 0 accounts have" in log  # the child's line, relayed
    assert "simclusters: too little data yet; trying again in 60 s" in log
    assert "embeddings: too little data yet; trying again in 60 s" in log
    assert _runs("simclusters", "failure") == failures
    assert _runs("simclusters", "too_little_data") == waits + 1
    assert scheduler.check(stop) == []  # backed off as a failure would be
    clock.now += BACKOFF_FIRST_S
    assert len(scheduler.schedule.due()) == 2


def test_back_off_doubles_until_a_run_writes_a_version(
    tmp_path: Path, stop: threading.Event
) -> None:
    clock, out = Clock(1_800_000_000.0), io.StringIO()
    job = _job(tmp_path)
    results: list[int | OSError] = [OSError("cannot start"), 0, 0]  # then: a new version

    def run(job: Job, stop: threading.Event) -> int:
        result = results.pop(0) if results else 0
        if isinstance(result, OSError):
            raise result
        if not results:
            _save_at(job, clock.now)
        return result

    scheduler = Scheduler(Schedule([job], clock), ScheduleLock(tmp_path / "lock"), run, out)
    waits = []
    for _ in range(3):
        assert scheduler.check(stop) == ["communities"]
        due_at = scheduler.schedule.due_at(job)
        assert due_at is not None
        waits.append(due_at - clock.now)
        clock.now = due_at
    assert waits == [BACKOFF_FIRST_S, 2 * BACKOFF_FIRST_S, HOUR]  # the last one succeeded
    lines = out.getvalue().splitlines()
    assert [line.split(" s (", 1)[1] for line in lines[:2]] == [
        "OSError('cannot start')); retrying in 60 s",
        "no new version); retrying in 2 min",
    ]
    assert "communities: done in" in lines[2]


def test_stopping_ends_a_run_under_way_without_counting_a_failure(
    world_dir: Path, tmp_path: Path, stop: threading.Event
) -> None:
    settings = Settings(data_dir=world_dir)
    job = Job("slow", ("train", "simclusters"), HOUR, Artifacts(tmp_path, "never-"))
    out = io.StringIO()
    scheduler = Scheduler(
        Schedule([job]), ScheduleLock(tmp_path / "lock"), ChildRunner(settings, out), out
    )
    threading.Timer(0.3, stop.set).start()  # the child is still starting up
    started = time.monotonic()
    assert scheduler.check(stop) == ["slow"]
    assert time.monotonic() - started < 10
    assert "slow: stopped after" in out.getvalue()
    assert scheduler.schedule.due() == [job]  # no failure to back off from


def test_only_the_scheduler_holding_the_lock_runs_jobs(
    tmp_path: Path, stop: threading.Event
) -> None:
    job = _job(tmp_path)
    running, finish = threading.Event(), threading.Event()
    runs: list[str] = []

    def run(job: Job, stop: threading.Event) -> int:
        runs.append(threading.current_thread().name)
        running.set()
        finish.wait(10)
        return 1

    def scheduler() -> Scheduler:
        return Scheduler(Schedule([job]), ScheduleLock(tmp_path / "jobs.lock"), run, io.StringIO())

    first, second = scheduler(), scheduler()
    thread = threading.Thread(target=first.check, args=(stop,), name="first")
    thread.start()
    assert running.wait(10)
    assert second.check(stop) == []  # while the first one runs the job
    finish.set()
    thread.join()
    first.schedule.succeeded(job)  # due again at once: only the lock keeps the second out
    assert second.check(stop) == []
    assert first.check(stop) == ["communities"]
    first.lock.release()  # as when its process ends
    assert second.check(stop) == ["communities"]
    assert runs == ["first", "MainThread", "MainThread"]
    assert second.lock.held and not first.lock.held


def test_a_server_runs_the_schedule_on_a_thread_and_stops_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_dir=_world(tmp_path / "world"), job_simclusters_interval_s=0)
    monkeypatch.setattr(scheduler_module, "CHECK_EVERY_S", 0.1)  # its first check
    [embeddings] = [job for job in jobs_of(settings) if job.enabled]
    stop_jobs = in_background(settings)
    deadline = time.monotonic() + 60
    while not embeddings.output.versions() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert holder(lock_path(settings)) == os.getpid()
    stop_jobs()
    assert len(embeddings.output.versions()) == 1
    assert holder(lock_path(settings)) is None


HOLD = """
import sys, time
from pathlib import Path
from starling.jobs.lock import ScheduleLock
lock = ScheduleLock(Path(sys.argv[1]))
assert lock.acquire()
print("held", flush=True)
time.sleep(60)
"""


def test_another_process_takes_the_lock_over_when_its_holder_dies(tmp_path: Path) -> None:
    path = tmp_path / "jobs.lock"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True, env=env
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "held\n"
        lock = ScheduleLock(path)
        assert not lock.acquire()
        assert holder(path) == proc.pid
    finally:
        proc.kill()
        proc.communicate()
    assert lock.acquire()
    assert holder(path) == os.getpid()
    lock.release()
    assert holder(path) is None


def test_list_shows_each_job_and_when_it_is_due(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=tmp_path)
    [simclusters, _] = jobs_of(settings)
    _save_at(simclusters, time.time() - 3 * HOUR)
    argv = ["jobs", "--list", "--data-dir", str(tmp_path), "--job-embeddings-interval-s", "0"]
    assert main(argv) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert rows[1][:4] == ["simclusters", "24.0", "h", "3.0"]
    assert rows[1][-3:] == ["in", "21.0", "h"]
    assert rows[2] == ["embeddings", "never", "(0)", "none", "-"]
    assert rows[3] == ["schedule:", "no", "process", "runs", "it"]
