"""The real Mastodon.py client against a real server: Starling must work unmodified."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from argon2 import PasswordHasher
from mastodon import Mastodon
from mastodon.errors import MastodonAPIError, MastodonNotFoundError

from starling import auth
from starling.api import create_app
from starling.config import Settings
from starling.runtime import open_runtime

PASSWORD = "correct horse battery"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def base_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A uvicorn server on a free local port, its runtime in sync mode."""
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    port = _free_port()
    settings = Settings(data_dir=tmp_path, rate_limits="off", domain=f"127.0.0.1:{port}")
    runtime = open_runtime(settings, workers="sync")
    config = uvicorn.Config(create_app(runtime), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
    runtime.close()


def _client(base_url: str, client_id: str, secret: str, token: str | None = None) -> Mastodon:
    return Mastodon(
        client_id=client_id,
        client_secret=secret,
        access_token=token,
        api_base_url=base_url,
        version_check_mode="created",
    )


def test_mastodon_py_end_to_end(base_url: str) -> None:
    client_id, secret = Mastodon.create_app("mastodon-py-test", api_base_url=base_url)
    alice = _client(base_url, client_id, secret)
    alice.create_account("alice", PASSWORD, "alice@example.com", agreement=True)
    registrar = _client(base_url, client_id, secret)
    registrar.create_account("bob", PASSWORD, "bob@example.com", agreement=True)
    registrar.session.close()
    bob = _client(base_url, client_id, secret)
    bob.log_in("bob", PASSWORD)
    try:
        assert bob.retrieve_mastodon_version() == "4.3.0"
        assert bob.mastodon_api_version == 2
        instance = bob.instance()
        assert instance.configuration.statuses.max_characters == 280

        me = alice.account_verify_credentials()
        assert me.username == "alice"
        bob_account = bob.account_verify_credentials()
        relationship = alice.account_follow(bob_account.id)
        assert relationship.following is True

        posted = bob.status_post("hello from #mastodonpy", idempotency_key="k1")
        assert posted.content.startswith("<p>hello from")
        assert bob.status_post("hello from #mastodonpy", idempotency_key="k1").id == posted.id

        home = alice.timeline_home()
        assert [s.id for s in home] == [posted.id]
        assert home[0].account.acct == "bob"
        # For You reads like any timeline; an entry once served is not served again.
        assert [s.id for s in alice.timeline("for_you")] == [posted.id]
        assert alice.timeline("for_you") == []

        favourited = alice.status_favourite(posted.id)
        assert favourited.favourited is True and favourited.favourites_count == 1
        reblogged = alice.status_reblog(posted.id)
        assert reblogged.reblog.id == posted.id and reblogged.reblog.reblogged is True

        [rel] = alice.account_relationships(bob_account.id)
        assert rel.following is True and rel.followed_by is False

        older = [bob.status_post(f"post {i}").id for i in range(3)]
        page = bob.account_statuses(bob_account.id, limit=2)
        assert [s.id for s in page] == older[::-1][:2]
        following = bob.fetch_next(page)
        assert following is not None
        assert [s.id for s in following] == [older[0], posted.id]

        muted = alice.account_mute(bob_account.id, notifications=False, duration=600)
        assert muted.muting is True and muted.muting_notifications is False
        [listed] = alice.mutes()
        assert listed.id == bob_account.id and listed.mute_expires_at is not None
        assert [s.account.id for s in alice.timeline_home()] == []  # bob's are hidden
        assert alice.account_unmute(bob_account.id).muting is False
        blocked = bob.account_block(me.id)
        assert blocked.blocking is True and blocked.followed_by is False
        assert [a.id for a in bob.blocks()] == [me.id]
        assert alice.account_relationships(bob_account.id)[0].blocked_by is True
        assert alice.account_statuses(bob_account.id) == []
        assert bob.account_unblock(me.id).blocking is False

        with pytest.raises(MastodonAPIError):
            bob.status_post("x" * 281)
        with pytest.raises(MastodonNotFoundError):
            bob.status(123)
    finally:
        alice.session.close()
        bob.session.close()
