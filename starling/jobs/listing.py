"""`starling jobs --list`: each job, its interval, its newest output's age, when it is due
next, and which process holds the schedule. See docs/subsystems/jobs.md."""

from __future__ import annotations

from pathlib import Path

from starling.jobs.lock import holder
from starling.jobs.schedule import Schedule


def listing(schedule: Schedule, lock: Path) -> str:
    now = schedule.clock()
    rows = [("job", "every", "newest output", "due")]
    for job in schedule.jobs:
        made = job.made_at()
        due = schedule.due_at(job)
        rows.append(
            (
                job.name,
                duration(job.interval_s) if job.enabled else "never (0)",
                "none" if made is None else duration(now - made) + " old",
                "-" if due is None else "now" if due <= now else "in " + duration(due - now),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows]
    pid = holder(lock)
    lines.append("schedule: " + ("no process runs it" if pid is None else f"run by pid {pid}"))
    return "\n".join(line.rstrip() for line in lines)


def duration(seconds: float) -> str:
    """Seconds, minutes, hours or days, whichever reads best."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86_400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"
