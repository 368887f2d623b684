"""Helpers shared by the benchmark scripts: summaries, a markdown table, JSON results and
a line describing the machine. See docs/benchmarks.md."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

OUT_DIR = Path(__file__).resolve().parent / "out"


def summarize(samples: Sequence[float]) -> dict[str, float]:
    """p50/p99 (and the extremes) of many runs of one measurement."""
    values = np.asarray(samples, dtype=np.float64)
    return {
        "runs": float(values.size),
        "p50": float(np.percentile(values, 50)),
        "p99": float(np.percentile(values, 99)),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def milliseconds(seconds: Sequence[float]) -> dict[str, float]:
    """summarize() of samples taken in seconds, in milliseconds, without the run count."""
    return {k: v * 1000 for k, v in summarize(seconds).items() if k != "runs"}


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = [_row(headers), _row(["---"] * len(headers))]
    lines += [_row([_cell(value) for value in row]) for row in rows]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def shown(value: Any) -> Any:
    """A table cell: a dict of figures as "name value, ...", anything else as it is."""
    if isinstance(value, dict):
        return ", ".join(f"{k} {v:.3g}" for k, v in value.items())
    return value


def write_results(name: str, results: dict[str, Any]) -> Path:
    """Writes bench/out/<name>.json, with the machine description added."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    path = OUT_DIR / f"{name}.json"
    path.write_text(json.dumps({"machine": machine(), **results}, indent=2) + "\n")
    return path


def machine() -> str:
    """CPU model, cores and Python version, e.g. for the top of a results table."""
    return f"{_cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown CPU"
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"
