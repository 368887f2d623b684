"""When each job is due. The newest version's age decides, so the schedule survives a
restart: a job whose output is fresh waits, one that never ran is due at once. A failed
run is retried after a back-off that doubles with each failure in a row.
See docs/subsystems/jobs.md."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starling.jobs.job import Job

BACKOFF_FIRST_S = 60.0


def backoff(failures: int, interval_s: float) -> float:
    """A minute after the first failure, doubling with each further one, never longer
    than the job's interval (a job that keeps failing is tried as often as it would run)."""
    return min(BACKOFF_FIRST_S * 2.0 ** (failures - 1), max(interval_s, BACKOFF_FIRST_S))


@dataclass(frozen=True)
class Failures:
    count: int  # in a row
    last_at: float


class Schedule:
    """The jobs and their failures in a row (kept in memory: a restart tries again).
    `clock` is wall time, as versions are."""

    def __init__(self, jobs: Sequence[Job], clock: Callable[[], float] = time.time) -> None:
        self.jobs = list(jobs)
        self.clock = clock
        self._failures: dict[str, Failures] = {}

    def due_at(self, job: Job) -> float | None:
        """When the job is due (0: at once), None when it is disabled."""
        if not job.enabled:
            return None
        made = job.made_at()
        at = 0.0 if made is None else made + job.interval_s
        failed = self._failures.get(job.name)
        if failed is not None:
            at = max(at, failed.last_at + backoff(failed.count, job.interval_s))
        return at

    def due(self) -> list[Job]:
        now = self.clock()
        return [job for job in self.jobs if (at := self.due_at(job)) is not None and at <= now]

    def succeeded(self, job: Job) -> None:
        self._failures.pop(job.name, None)

    def failed(self, job: Job) -> float:
        """Records a failure now; returns the back-off before the next try."""
        before = self._failures.get(job.name)
        count = 1 if before is None else before.count + 1
        self._failures[job.name] = Failures(count, self.clock())
        return backoff(count, job.interval_s)
