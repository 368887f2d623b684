"""Runs the due jobs, one at a time, in the one process that holds the data dir's lock:
on a thread of `starling serve` (each API process of `starling up` tries; one wins) or in
the foreground of `starling jobs`. A failed run is logged and retried after a back-off,
as is a run that found too little data (a new instance), without counting a failure;
nothing a job does stops the server. See docs/subsystems/jobs.md."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from starling import metrics
from starling.config import Settings
from starling.jobs.child import ChildRunner
from starling.jobs.job import Job, jobs_of
from starling.jobs.listing import duration
from starling.jobs.lock import ScheduleLock, lock_path
from starling.jobs.schedule import Schedule
from starling.training import TOO_LITTLE_DATA

# How often the schedule is checked (and the lock tried): the jobs' intervals are hours.
# A server's first check waits as long, so training does not compete with its warm-up.
CHECK_EVERY_S = 60.0

Run = Callable[[Job, threading.Event], int]  # runs a job to its end; its exit status


class Scheduler:
    def __init__(self, schedule: Schedule, lock: ScheduleLock, run: Run, out: TextIO) -> None:
        self.schedule = schedule
        self.lock = lock
        self.run = run
        self.out = out

    def check(self, stop: threading.Event) -> list[str]:
        """Runs every due job if this process holds (or now takes) the lock; returns the
        names of the jobs run."""
        if not self.lock.acquire():
            return []
        ran = []
        for job in self.schedule.due():
            if stop.is_set():
                break
            self._run(job, stop)
            ran.append(job.name)
        return ran

    def run_forever(
        self,
        stop: threading.Event,
        *,
        first_check_after_s: float = 0.0,
        check_every_s: float = CHECK_EVERY_S,
    ) -> None:
        """Checks until `stop` is set, then lets the lock go."""
        wait = first_check_after_s
        try:
            while not stop.wait(wait):
                try:
                    self.check(stop)
                except Exception as exc:  # e.g. the data dir unreadable: try again later
                    self._say(f"jobs: check failed ({exc!r}); next in {duration(check_every_s)}")
                wait = check_every_s
        finally:
            self.lock.release()

    def _run(self, job: Job, stop: threading.Event) -> None:
        before = job.made_at()
        started = time.monotonic()
        status: int | None = None
        try:
            status = self.run(job, stop)
            why = f"exit status {status}" if status else "no new version"
        except OSError as exc:  # the child could not start
            why = repr(exc)
        took = time.monotonic() - started
        if stop.is_set() and status != 0:
            self._say(f"{job.name}: stopped after {took:.1f} s")
            return
        made = job.made_at()
        wrote = made is not None and (before is None or made > before)
        metrics.JOB_SECONDS.labels(job.name).observe(took)
        if status == 0 and wrote:
            self.schedule.succeeded(job)
            metrics.JOB_RUNS.labels(job.name, "success").inc()
            self._say(f"{job.name}: done in {took:.1f} s, next in {duration(job.interval_s)}")
            return
        retry_s = self.schedule.failed(job)
        if status == TOO_LITTLE_DATA:  # a new instance: not a fault, tried again the same way
            metrics.JOB_RUNS.labels(job.name, "too_little_data").inc()
            self._say(f"{job.name}: too little data yet; trying again in {duration(retry_s)}")
            return
        metrics.JOB_RUNS.labels(job.name, "failure").inc()
        self._say(f"{job.name}: failed after {took:.1f} s ({why}); retrying in {duration(retry_s)}")

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def open_scheduler(settings: Settings, out: TextIO = sys.stderr) -> Scheduler | None:
    """The scheduler of the settings' jobs, as child processes; None when every job is
    disabled."""
    jobs = [job for job in jobs_of(settings) if job.enabled]
    if not jobs:
        return None
    lock = ScheduleLock(lock_path(settings))
    return Scheduler(Schedule(jobs), lock, ChildRunner(settings, out), out)


def in_background(settings: Settings) -> Callable[[], None]:
    """Runs the schedule on a thread of this process (`starling serve`), first checked
    one check interval after start; returns what stops it (and any run under way)."""
    scheduler = open_scheduler(settings)
    if scheduler is None:
        return lambda: None
    stop = threading.Event()
    thread = threading.Thread(
        target=scheduler.run_forever,
        args=(stop,),
        kwargs={"first_check_after_s": CHECK_EVERY_S},
        name="jobs",
        daemon=True,
    )
    thread.start()

    def close() -> None:
        stop.set()
        thread.join()

    return close
