"""Tests do not depend on the caller's environment: exported STARLING_* settings are
removed for every test (conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys

from starling.config import Settings
from tests.conftest import ROOMY_BUDGET_SCALE

EXPORTED = {"STARLING_PORT": "9999", "STARLING_DOMAIN": "x", "starling_data_dir": "/nonexistent"}


def test_settings_have_their_defaults() -> None:
    """All but the one the harness sets itself: budgets no loaded runner overruns."""
    roomy = float(ROOMY_BUDGET_SCALE)
    assert Settings() == Settings.model_construct(foryou_budget_scale=roomy)


def test_exported_settings_do_not_reach_tests() -> None:
    """The check above, in a pytest run started with settings exported."""
    env = {**os.environ, **EXPORTED}
    selected = f"{__file__}::test_settings_have_their_defaults"
    run = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", selected]
    result = subprocess.run(run, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
