"""Approximate counts for display (seed: Race Condition 1, "show 10K+ instead of 10,234"):
an exact figure is not worth the pressure on hot counters when a reader only needs the
order of magnitude. See docs/subsystems/counters.md."""

from __future__ import annotations

SUFFIXES = ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "K"))


def approximate(count: int) -> str:
    """Two significant figures at most, rounded down, with "+" when anything was dropped:
    999 -> "999", 1000 -> "1K", 1234 -> "1.2K+", 10234 -> "10K+", 1500000 -> "1.5M"."""
    if count < 1_000:
        return str(max(count, 0))
    unit, suffix = next((u, s) for u, s in SUFFIXES if count >= u)
    digits = len(str(count // unit))
    step = unit // 10 if digits == 1 else unit * 10 ** (digits - 2)
    shown = count - count % step
    text = f"{shown / unit:.1f}".rstrip("0").rstrip(".") if digits == 1 else str(shown // unit)
    return f"{text}{suffix}{'+' if shown != count else ''}"
