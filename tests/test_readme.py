"""The README's set-up instructions match the Makefile they describe."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_says_where_make_installs_the_command() -> None:
    makefile = (ROOT / "Makefile").read_text()
    venv = re.search(r"^VENV := (\S+)$", makefile, re.MULTILINE)
    assert venv is not None and "$(BIN)/starling demo" in makefile
    readme = (ROOT / "README.md").read_text()
    assert f"`{venv[1]}/bin/starling`" in readme
    assert f"`make run` is `{venv[1]}/bin/starling demo`" in readme
