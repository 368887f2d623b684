"""The `starling` command: settings in --help, world generation, operator commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from starling.cli import main, uvicorn_config
from starling.config import Settings
from starling.runtime import open_runtime


def test_serve_help_lists_every_setting(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = capsys.readouterr().out
    for name in Settings.model_fields:
        assert f"STARLING_{name.upper()}" in out


def test_world_then_admin_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert main(["world", "generate", "--size", "tiny", "--seed", "3", *data]) == 0
    meta = json.loads((tmp_path / "world" / "world.json").read_text())
    assert meta["size"] == "tiny" and meta["seed"] == 3
    assert main(["world", "generate", "--size", "tiny", *data]) == 2  # refuses a full dir
    capsys.readouterr()

    assert main(["admin", "token", "demo", *data]) == 0
    token = capsys.readouterr().out.strip()
    runtime = open_runtime(Settings(data_dir=tmp_path), workers="none")
    try:
        from starling.auth import hash_secret

        stored = runtime.store.get_token(hash_secret(token))
        demo = runtime.store.get_account_by_username("demo")
        assert stored is not None and demo is not None and stored.account_id == demo.id
    finally:
        runtime.close()
    assert main(["admin", "token", "nobody", *data]) == 1

    assert main(["admin", "fanout", "--news", "on", *data]) == 0
    assert "breaking_news=True" in capsys.readouterr().out
    assert main(["admin", "fanout", "--news", "off", "--capacity", "on", *data]) == 0
    out = capsys.readouterr().out
    assert "breaking_news=False capacity_raised=True" in out and "threshold=200000" in out


def test_worker_refuses_unknown_names(tmp_path: Path) -> None:
    assert main(["worker", "nope", "--data-dir", str(tmp_path)]) == 2


def test_access_log_follows_the_setting(tmp_path: Path) -> None:
    for on in (True, False):
        config = uvicorn_config(object(), Settings(data_dir=tmp_path, access_log=on))
        assert config.access_log is on
