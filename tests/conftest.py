"""Shared fixtures. Each area keeps its own fixture module, registered here."""

from __future__ import annotations

import os

import pytest

pytest_plugins = [
    "tests.fixtures_redis",
    "tests.fixtures_postgres",
    "tests.fixtures_store",
    "tests.fixtures_runtime",
    "tests.fixtures_api",
    "tests.fixtures_eventlog",
]

SETTINGS_PREFIX = "STARLING_"
TEST_PREFIX = "STARLING_TEST_"  # the test harness's own settings (a Redis to use)
# For You's latency budgets are for a quiet machine; on a loaded test runner a late request
# would fall back to a lighter ranking. Tests of the budgets set their own scale.
ROOMY_BUDGET_SCALE = "100"


@pytest.fixture(autouse=True)
def no_starling_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees the settings' defaults, whatever the caller exported (the README
    invites STARLING_PORT and friends); names are case-insensitive, as Settings reads them."""
    for name in list(os.environ):
        upper = name.upper()
        if upper.startswith(SETTINGS_PREFIX) and not upper.startswith(TEST_PREFIX):
            monkeypatch.delenv(name)
    monkeypatch.setenv("STARLING_FORYOU_BUDGET_SCALE", ROOMY_BUDGET_SCALE)
