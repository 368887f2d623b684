"""Apps, OAuth tokens, registration and credentials through the HTTP API."""

from __future__ import annotations

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import httpx

from tests.fixtures_api import PASSWORD, SCOPES, Api


def test_app_registration_returns_credentials(api: Api) -> None:
    app = api.app()
    assert app["name"] == "tests"
    assert app["scopes"] == SCOPES.split()
    assert app["redirect_uri"] == "urn:ietf:wg:oauth:2.0:oob"
    assert app["client_id"] and app["client_secret"]


def test_app_with_unknown_scope_is_refused(api: Api) -> None:
    response = api.client.post("/api/v1/apps", data={"client_name": "x", "scopes": "read fly"})
    assert response.status_code == 422
    assert "fly" in response.json()["error"]


def test_app_without_name_is_refused(api: Api) -> None:
    response = api.client.post("/api/v1/apps", data={"scopes": "read"})
    assert response.status_code == 422


def test_client_credentials_token_identifies_the_app(api: Api) -> None:
    token = api.token()
    assert token["token_type"] == "Bearer"
    assert token["scope"] == SCOPES
    response = api.client.get("/api/v1/apps/verify_credentials", headers=api.app_auth())
    assert response.status_code == 200
    assert response.json()["name"] == "tests"
    assert "client_secret" not in response.json()


def test_token_with_wrong_secret_is_refused(api: Api) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": api.app()["client_id"],
        "client_secret": "not-the-secret",
    }
    response = api.client.post("/oauth/token", data=form)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_token_by_http_basic_client_authentication(api: Api) -> None:
    app = api.app()
    basic = base64.b64encode(f"{app['client_id']}:{app['client_secret']}".encode()).decode()
    response = api.client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "read"


def test_token_scope_beyond_the_app_is_refused(api: Api) -> None:
    app = api.app()
    form = {
        "grant_type": "client_credentials",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "scope": "read admin:read",
    }
    response = api.client.post("/oauth/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"


def test_unsupported_grant_type(api: Api) -> None:
    response = api.client.post("/oauth/token", data={"grant_type": "refresh_token"})
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_registration_returns_a_user_token(api: Api) -> None:
    alice = api.register("alice")
    response = api.client.get("/api/v1/accounts/verify_credentials", headers=alice.auth)
    assert response.status_code == 200
    me = response.json()
    assert me["username"] == "alice"
    assert me["acct"] == "alice"
    assert me["id"] == alice.id
    assert me["source"]["privacy"] == "public"
    assert me["source"]["note"] == ""


def test_registration_needs_agreement_and_a_free_username(api: Api) -> None:
    auth = api.app_auth()
    form = {"username": "bob", "password": PASSWORD, "email": "bob@example.com"}
    refused = api.client.post("/api/v1/accounts", data=form, headers=auth)
    assert refused.status_code == 422
    assert "Agreement" in refused.json()["error"]
    api.register("bob")
    taken = api.client.post("/api/v1/accounts", data={**form, "agreement": "true"}, headers=auth)
    assert taken.status_code == 422
    assert "taken" in taken.json()["error"]


def test_registration_refuses_blank_password_and_bad_username(api: Api) -> None:
    auth = api.app_auth()
    blank = {"username": "carol", "password": "", "agreement": "1"}
    assert api.client.post("/api/v1/accounts", data=blank, headers=auth).status_code == 422
    bad = {"username": "no spaces", "password": PASSWORD, "agreement": "1"}
    assert api.client.post("/api/v1/accounts", data=bad, headers=auth).status_code == 422
    assert api.runtime.store.get_account_by_username("carol") is None


def test_registration_needs_a_token(api: Api) -> None:
    form = {"username": "dave", "password": PASSWORD, "agreement": "1"}
    response = api.client.post("/api/v1/accounts", data=form)
    assert response.status_code == 401
    assert api.runtime.store.get_account_by_username("dave") is None


def test_password_grant_by_username_or_email_like_login(api: Api) -> None:
    api.register("erin")
    for login in ("erin", "erin@example.com"):
        token = api.token("password", username=login, password=PASSWORD)["access_token"]
        me = api.client.get(
            "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}
        )
        assert me.json()["username"] == "erin"


def _register_with_email(api: Api, username: str, email: str) -> httpx.Response:
    form = {"username": username, "password": PASSWORD, "email": email, "agreement": "1"}
    response: httpx.Response = api.client.post(
        "/api/v1/accounts", data=form, headers=api.app_auth()
    )
    return response


def test_password_grant_by_registered_email(api: Api) -> None:
    """Mastodon clients send the e-mail as `username`; its local part names no account."""
    assert _register_with_email(api, "newbie", "Me@Mail.example").status_code == 200
    token = api.token("password", username="me@mail.EXAMPLE", password=PASSWORD)
    me = api.client.get(
        "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert me.json()["username"] == "newbie"


def test_registration_refuses_a_taken_or_malformed_email(api: Api) -> None:
    assert _register_with_email(api, "first", "same@mail.example").status_code == 200
    taken = _register_with_email(api, "second", "SAME@mail.example")
    assert taken.status_code == 422
    assert taken.json()["error"] == "Validation failed: Email has already been taken"
    malformed = _register_with_email(api, "third", "not an e-mail")
    assert malformed.status_code == 422
    assert malformed.json()["error"] == "Validation failed: Email is invalid"
    assert api.runtime.store.get_account_by_username("second") is None


def test_password_grant_with_wrong_password_is_refused(api: Api) -> None:
    api.register("frank")
    app = api.app()
    form = {
        "grant_type": "password",
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "username": "frank",
        "password": "wrong password",
    }
    response = api.client.post("/oauth/token", data=form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_missing_or_unknown_token_is_401(api: Api) -> None:
    path = "/api/v1/accounts/verify_credentials"
    assert api.client.get(path).status_code == 401
    unknown = api.client.get(path, headers={"Authorization": "Bearer nope"})
    assert unknown.status_code == 401
    assert unknown.json() == {"error": "The access token is invalid"}


def test_app_token_cannot_act_as_a_user(api: Api) -> None:
    response = api.client.post("/api/v1/statuses", data={"status": "hi"}, headers=api.app_auth())
    assert response.status_code == 422
    assert api.runtime.store.max_post_id() == 0


def test_read_only_token_cannot_post(api: Api) -> None:
    api.register("gina")
    token = api.token("password", username="gina", password=PASSWORD, scope="read")
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    assert api.client.get("/api/v1/timelines/home", headers=auth).status_code == 200
    response = api.client.post("/api/v1/statuses", data={"status": "hi"}, headers=auth)
    assert response.status_code == 403
    assert api.runtime.store.max_post_id() == 0


def _authorize(api: Api, redirect_uri: str, **extra: str) -> dict[str, str]:
    app = api.client.post(
        "/api/v1/apps",
        data={"client_name": "phone", "scopes": SCOPES, "redirect_uris": redirect_uri},
    ).json()
    return {
        "client_id": app["client_id"],
        "client_secret": app["client_secret"],
        "redirect_uri": redirect_uri,
        "scope": "read write",
        "response_type": "code",
        **extra,
    }


def _exchange(api: Api, params: dict[str, str], code: str, **extra: str) -> int:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "client_id": params["client_id"],
        "client_secret": params["client_secret"],
        "redirect_uri": params["redirect_uri"],
        **extra,
    }
    status: int = api.client.post("/oauth/token", data=form).status_code
    return status


def test_authorization_code_flow_with_redirect_and_pkce(api: Api) -> None:
    api.register("hana")
    verifier = "a-long-random-verifier-string-of-enough-length-0123456789"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    params = _authorize(
        api,
        "starlingapp://callback",
        state="xyz",
        code_challenge=challenge.rstrip(b"=").decode(),
        code_challenge_method="S256",
    )
    query = {k: v for k, v in params.items() if k != "client_secret"}
    page = api.client.get("/oauth/authorize", params=query)
    assert page.status_code == 200
    assert 'name="password"' in page.text
    wrong = api.client.post("/oauth/authorize", data={**query, "username": "hana", "password": "x"})
    assert wrong.status_code == 401
    signed_in = api.client.post(
        "/oauth/authorize",
        data={**query, "username": "hana", "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    location = urlsplit(signed_in.headers["location"])
    assert location.scheme == "starlingapp"
    returned = parse_qs(location.query)
    assert returned["state"] == ["xyz"]
    code = returned["code"][0]
    assert _exchange(api, params, code, code_verifier="wrong") == 400
    signed_in_again = api.client.post(
        "/oauth/authorize",
        data={**query, "username": "hana", "password": PASSWORD},
        follow_redirects=False,
    )
    code = parse_qs(urlsplit(signed_in_again.headers["location"]).query)["code"][0]
    assert _exchange(api, params, code, code_verifier=verifier) == 200
    assert _exchange(api, params, code, code_verifier=verifier) == 400  # single use


def test_authorize_refuses_unregistered_redirect(api: Api) -> None:
    params = _authorize(api, "https://app.example/callback")
    query = {**params, "redirect_uri": "https://evil.example/steal"}
    del query["client_secret"]
    assert api.client.get("/oauth/authorize", params=query).status_code == 400


def test_revoked_token_stops_working(api: Api) -> None:
    ivan = api.register("ivan")
    app = api.app()
    token = api.token("password", username="ivan", password=PASSWORD)["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert api.client.get("/api/v1/accounts/verify_credentials", headers=auth).status_code == 200
    form = {"client_id": app["client_id"], "client_secret": app["client_secret"], "token": token}
    assert api.client.post("/oauth/revoke", data=form).status_code == 200
    assert api.client.get("/api/v1/accounts/verify_credentials", headers=auth).status_code == 401
    mine = api.client.get("/api/v1/accounts/verify_credentials", headers=ivan.auth)
    assert mine.status_code == 200
