"""Fixtures for API tests: a sync-mode runtime on a temporary directory, a TestClient,
and helpers that make apps, tokens and accounts through the real endpoints."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from starlette.exceptions import StarletteDeprecationWarning

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package; the plain httpx the project pins still works.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

from starling import auth
from starling.api import create_app
from starling.config import Settings
from starling.runtime import Runtime, open_runtime

PASSWORD = "correct horse battery"
SCOPES = "read write follow"


@dataclass(frozen=True)
class User:
    id: str
    username: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Api:
    """A TestClient with the runtime behind it and account helpers."""

    def __init__(self, client: TestClient, runtime: Runtime) -> None:
        self.client = client
        self.runtime = runtime
        self._app: dict[str, Any] | None = None

    def app(self) -> dict[str, Any]:
        """One registered app (client_id, client_secret) per Api."""
        if self._app is None:
            response = self.client.post(
                "/api/v1/apps", data={"client_name": "tests", "scopes": SCOPES}
            )
            assert response.status_code == 200, response.text
            self._app = response.json()
        return self._app

    def token(self, grant_type: str = "client_credentials", **params: str) -> dict[str, Any]:
        app = self.app()
        form = {
            "grant_type": grant_type,
            "client_id": app["client_id"],
            "client_secret": app["client_secret"],
            "scope": SCOPES,
            **params,
        }
        response = self.client.post("/oauth/token", data=form)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def app_auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token()['access_token']}"}

    def register(self, username: str, password: str = PASSWORD) -> User:
        form = {"username": username, "password": password, "agreement": "1", "locale": "en"}
        response = self.client.post("/api/v1/accounts", data=form, headers=self.app_auth())
        assert response.status_code == 200, response.text
        token = response.json()["access_token"]
        me = self.client.get("/api/v1/accounts/verify_credentials", headers=_bearer(token))
        return User(me.json()["id"], username, token)

    def post(self, user: User, text: str, **fields: Any) -> dict[str, Any]:
        response = self.client.post(
            "/api/v1/statuses", json={"status": text, **fields}, headers=user.auth
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def follow(self, follower: User, followee: User) -> None:
        path = f"/api/v1/accounts/{followee.id}/follow"
        assert self.client.post(path, headers=follower.auth).status_code == 200


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ApiFactory = Callable[..., Api]


@pytest.fixture
def api_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ApiFactory]:
    """Builds an Api over a fresh sync-mode runtime; settings may be overridden."""
    # Production-strength argon2 costs about half a second per hash on small machines;
    # the hash records its own parameters, so verification is unchanged.
    monkeypatch.setattr(auth, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024))
    opened: list[tuple[Runtime, TestClient, bool]] = []

    def build(runtime: Runtime | None = None, **overrides: Any) -> Api:
        """An Api over a new runtime, or over `runtime` (which its maker closes)."""
        owned = runtime is None
        if runtime is None:
            data_dir = tmp_path / f"api{len(opened)}"
            settings = Settings(**{"data_dir": data_dir, "rate_limits": "off", **overrides})
            runtime = open_runtime(settings, workers="sync")
        client = TestClient(create_app(runtime))
        client.__enter__()
        opened.append((runtime, client, owned))
        return Api(client, runtime)

    yield build
    for runtime, client, owned in opened:
        client.__exit__(None, None, None)
        if owned:
            runtime.close()


@pytest.fixture
def api(api_factory: ApiFactory) -> Api:
    return api_factory()
