"""Approximate display counts."""

from __future__ import annotations

import pytest

from starling.display import approximate


@pytest.mark.parametrize(
    ("count", "shown"),
    [
        (0, "0"),
        (999, "999"),
        (1_000, "1K"),
        (1_234, "1.2K+"),
        (9_999, "9.9K+"),
        (10_000, "10K"),
        (10_234, "10K+"),
        (123_456, "120K+"),
        (1_500_000, "1.5M"),
        (150_000_000, "150M"),
        (2_000_000_001, "2B+"),
    ],
)
def test_approximate(count: int, shown: str) -> None:
    assert approximate(count) == shown
