"""POST /oauth/token and POST /oauth/revoke (RFC 6749 and RFC 7009).

Grants: client_credentials (an app token, e.g. to register accounts), password, and
authorization_code (from the page in routes_authorize.py). Errors use OAuth's codes:
{"error": "invalid_grant", "error_description": "..."}. See docs/subsystems/api.md.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from starling.actions import Actions
from starling.api import scopes
from starling.api.deps import ActionsDep, CodesDep, StoreDep
from starling.api.errors import ApiError
from starling.api.forms import Form, parsed
from starling.api.oauth import CodeStore, account_for_login
from starling.api.render import Entity, token
from starling.auth import hash_secret
from starling.ids import now_ms
from starling.model import App
from starling.store.base import Store

router = APIRouter(tags=["oauth"])

BAD_CLIENT = "Client authentication failed: unknown client or wrong secret"
BAD_GRANT = "The provided authorization grant is invalid, expired or revoked"


class TokenForm(Form):
    grant_type: str = ""
    client_id: str = ""
    client_secret: str = ""
    scope: str | list[str] | None = None
    username: str = ""
    password: str = ""
    code: str = ""
    redirect_uri: str = ""
    code_verifier: str = ""


class RevokeForm(Form):
    client_id: str = ""
    client_secret: str = ""
    token: str = ""


def authenticate_client(
    store: Store, actions: Actions, request: Request, client_id: str, secret: str
) -> App:
    """The calling app, by form fields or HTTP Basic credentials (RFC 6749 2.3.1)."""
    basic = _basic_credentials(request)
    if basic is not None:
        client_id, secret = basic
    app = store.get_app(client_id) if client_id else None
    if app is None or not actions.app_secret_matches(app, secret):
        raise ApiError(401, "invalid_client", BAD_CLIENT)
    return app


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value.strip()).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise ApiError(401, "invalid_client", BAD_CLIENT) from None
    return client_id, secret


def _requested_scopes(form: TokenForm, app: App) -> str:
    requested = scopes.split(form.scope) or [scopes.DEFAULT]
    if not scopes.within(requested, app.scopes):
        raise ApiError(400, "invalid_scope", "The requested scope is not allowed for this app")
    return " ".join(requested)


def _client_credentials(
    store: Store, codes: CodeStore, app: App, form: TokenForm
) -> tuple[int | None, str]:
    return None, _requested_scopes(form, app)


def _password(store: Store, codes: CodeStore, app: App, form: TokenForm) -> tuple[int | None, str]:
    account = account_for_login(store, form.username, form.password)
    if account is None:
        raise ApiError(400, "invalid_grant", BAD_GRANT)
    return account.id, _requested_scopes(form, app)


def _authorization_code(
    store: Store, codes: CodeStore, app: App, form: TokenForm
) -> tuple[int | None, str]:
    grant = codes.redeem(form.code)
    if (
        grant is None
        or grant.client_id != app.client_id
        or grant.redirect_uri != form.redirect_uri
        or not grant.verifier_matches(form.code_verifier)
    ):
        raise ApiError(400, "invalid_grant", BAD_GRANT)
    return grant.account_id, grant.scopes


GrantHandler = Callable[[Store, CodeStore, App, TokenForm], tuple[int | None, str]]
GRANTS: dict[str, GrantHandler] = {
    "client_credentials": _client_credentials,
    "password": _password,
    "authorization_code": _authorization_code,
}


@router.post("/oauth/token")
def issue_token(
    request: Request,
    store: StoreDep,
    actions: ActionsDep,
    codes: CodesDep,
    form: Annotated[TokenForm, Depends(parsed(TokenForm))],
) -> Entity:
    """Exchanges client credentials, a password or an authorization code for a token."""
    handler = GRANTS.get(form.grant_type)
    if handler is None:
        raise ApiError(400, "unsupported_grant_type", f"Supported: {', '.join(GRANTS)}")
    app = authenticate_client(store, actions, request, form.client_id, form.client_secret)
    account_id, granted = handler(store, codes, app, form)
    secret = actions.issue_token(app.id, account_id, granted)
    return token(secret, granted, now_ms())


@router.post("/oauth/revoke")
def revoke_token(
    request: Request,
    store: StoreDep,
    actions: ActionsDep,
    form: Annotated[RevokeForm, Depends(parsed(RevokeForm))],
) -> Entity:
    """Revokes a token of the calling app; unknown tokens are not an error (RFC 7009)."""
    app = authenticate_client(store, actions, request, form.client_id, form.client_secret)
    record = store.get_token(hash_secret(form.token)) if form.token else None
    if record is not None and record.app_id == app.id:
        actions.revoke_token(record.token_hash)
    return {}
