"""The `starling` command: settings in --help, world generation, operator commands."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from starling.cli import _print_demo_help, main, uvicorn_config
from starling.config import Settings
from starling.runtime import open_runtime
from starling.world.population import DEMO_USERNAME
from tests.fixtures_runtime import RuntimeFactory


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

    # The tiny world's threshold is 60, what `demo` and `serve` use on this data dir.
    assert main(["admin", "fanout", *data]) == 0
    assert "threshold=60" in capsys.readouterr().out
    assert main(["admin", "fanout", "--news", "on", *data]) == 0
    assert "breaking_news=True" in (out := capsys.readouterr().out) and "threshold=15" in out
    assert main(["admin", "fanout", "--news", "off", "--capacity", "on", *data]) == 0
    out = capsys.readouterr().out
    assert "breaking_news=False capacity_raised=True" in out and "threshold=120" in out
    given = ["--celebrity-threshold-raised", "1000", *data]
    assert main(["admin", "fanout", *given]) == 0
    assert "threshold=1000" in capsys.readouterr().out  # options win over the world

    # The demo account's For You page, previewed: ranked, each entry with its source.
    assert main(["foryou", "demo", "--limit", "5", *data]) == 0
    header, columns, *entries = capsys.readouterr().out.splitlines()
    assert header == "For You of @demo: 5 entries, ranked by heuristic"
    assert columns.split() == ["#", "source", "score", "evidence", "author", "text"]
    assert len(entries) == 5 and all(e.split()[1] in {"in-network", "real-graph"} for e in entries)
    assert main(["foryou", "nobody", *data]) == 1


def test_worker_refuses_unknown_names(tmp_path: Path) -> None:
    assert main(["worker", "nope", "--data-dir", str(tmp_path)]) == 2


def test_demo_banner_names_the_public_origin(
    make_runtime: RuntimeFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    """Listening on every interface, the banner gives the address entities name."""
    runtime = make_runtime(mode="none", host="0.0.0.0", port=9000)
    runtime.actions.register(DEMO_USERNAME, None)
    _print_demo_help(runtime)
    assert runtime.settings.public_url == "http://127.0.0.1:9000"
    assert "Starling is up at http://127.0.0.1:9000 " in capsys.readouterr().out


def test_load_fails_when_the_server_is_down(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert main(["world", "generate", "--size", "tiny", *data]) == 0
    with socket.socket() as bound:  # bound, never listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{bound.getsockname()[1]}"
        assert main(["load", "--url", url, "--duration", "0.1", "--rate", "10", *data]) == 1
    assert f"no server answers at {url}" in capsys.readouterr().err


def test_access_log_follows_the_setting(tmp_path: Path) -> None:
    for on in (True, False):
        config = uvicorn_config(object(), Settings(data_dir=tmp_path, access_log=on))
        assert config.access_log is on


def test_worker_refuses_what_its_settings_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("STARLING_LOG_URL", "STARLING_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    data = ["--data-dir", str(tmp_path)]
    assert main(["worker", "relay", *data]) == 2  # no streams to feed
    assert "STARLING_LOG_URL" in capsys.readouterr().out
    assert main(["worker", "fanout", *data]) == 2  # its timelines would be private
    assert "STARLING_REDIS_URL" in capsys.readouterr().out
