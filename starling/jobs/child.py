"""A job's run as a child process: `python -m starling.cli <command>` with the server's
settings, so training never holds the server's interpreter (GIL, memory), and its output
relayed line by line, prefixed with the job's name. See docs/subsystems/jobs.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from typing import TextIO

from starling.config import Settings
from starling.jobs.job import Job
from starling.up import settings_env

# The jobs draw progress bars (tqdm), which redraw with a carriage return: each redraw is
# a line here, so they are asked to redraw at most this often.
PROGRESS_EVERY_S = 10
POLL_S = 0.2
STOP_TIMEOUT_S = 10.0
LINE_END = re.compile(rb"[\r\n]")


class ChildRunner:
    """Runs a job to its end (or until `stop`) and returns its exit status."""

    def __init__(self, settings: Settings, out: TextIO) -> None:
        self.settings = settings
        self.out = out

    def __call__(self, job: Job, stop: threading.Event) -> int:
        env = settings_env(self.settings, {**os.environ, "TQDM_MININTERVAL": str(PROGRESS_EVERY_S)})
        proc = subprocess.Popen(
            [sys.executable, "-m", "starling.cli", *job.command],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None
        relay = threading.Thread(
            target=relay_lines, args=(proc.stdout.fileno(), job.name, self.out), daemon=True
        )
        relay.start()
        while proc.poll() is None and not stop.wait(POLL_S):
            pass
        if proc.poll() is None:  # stopping: the run is dropped, its partial file never renamed
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        relay.join()
        proc.stdout.close()
        return proc.returncode


def relay_lines(fd: int, name: str, out: TextIO) -> None:
    """Writes each line read from `fd` to `out` as `name: line` until end of file; a
    carriage return ends a line too (a progress bar's redraw)."""
    pending = b""
    while chunk := os.read(fd, 65536):
        *lines, pending = LINE_END.split(pending + chunk)
        _write(out, name, lines)
    _write(out, name, [pending])


def _write(out: TextIO, name: str, lines: list[bytes]) -> None:
    for line in lines:
        text = line.decode(errors="replace").rstrip()
        if text:
            out.write(f"{name}: {text}\n")
    out.flush()
