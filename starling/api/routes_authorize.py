"""GET/POST /oauth/authorize: the authorization-code flow's sign-in page.

Phone apps and the `toot` CLI send the user here; after a password check the browser
goes back to the app's redirect_uri with a one-time code (or, for the out-of-band URI,
the code is shown to copy). See docs/subsystems/api.md.
"""

from __future__ import annotations

from html import escape
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import URL

from starling.api import scopes
from starling.api.deps import CodesDep, StoreDep
from starling.api.errors import ApiError
from starling.api.forms import Form, parsed
from starling.api.oauth import OOB, Grant, account_for_login
from starling.store.base import Store

router = APIRouter(tags=["oauth"])

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Starling: authorize {app}</title></head>
<body><h1>Authorize {app}</h1>{body}</body></html>"""

LOGIN = """<p>{app} asks for: {scopes}</p>{message}
<form method="post" action="/oauth/authorize">{hidden}
<label>Username <input name="username" autocomplete="username" required></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
required></label>
<button type="submit">Authorize</button></form>"""


class AuthorizeForm(Form):
    response_type: str = "code"
    client_id: str = ""
    redirect_uri: str = OOB
    scope: str | list[str] | None = None
    state: str | None = None
    code_challenge: str = ""
    code_challenge_method: str = ""


class SignInForm(AuthorizeForm):
    username: str = ""
    password: str = ""


def _checked(store: Store, form: AuthorizeForm) -> tuple[str, str]:
    """The app's name and the granted scopes, once the request is shown to be sound."""
    app = store.get_app(form.client_id) if form.client_id else None
    if app is None:
        raise ApiError(400, "invalid_client", "Unknown client_id")
    if form.redirect_uri not in app.redirect_uris.split():
        raise ApiError(400, "invalid_request", "redirect_uri is not registered for this app")
    if form.response_type != "code":
        raise ApiError(400, "unsupported_response_type", "Only response_type=code")
    requested = scopes.split(form.scope) or [scopes.DEFAULT]
    if not scopes.within(requested, app.scopes):
        raise ApiError(400, "invalid_scope", "The requested scope is not allowed for this app")
    return app.name, " ".join(requested)


def _login_page(form: AuthorizeForm, app_name: str, granted: str, message: str = "") -> str:
    fields = form.model_dump(include=set(AuthorizeForm.model_fields), exclude={"scope"})
    fields["scope"] = granted
    hidden = "".join(
        f'<input type="hidden" name="{name}" value="{escape(str(value))}">'
        for name, value in fields.items()
        if value is not None
    )
    notice = f"<p><strong>{escape(message)}</strong></p>" if message else ""
    body = LOGIN.format(app=escape(app_name), scopes=escape(granted), message=notice, hidden=hidden)
    return PAGE.format(app=escape(app_name), body=body)


@router.get("/oauth/authorize", response_class=HTMLResponse)
def sign_in_page(
    store: StoreDep, form: Annotated[AuthorizeForm, Depends(parsed(AuthorizeForm))]
) -> HTMLResponse:
    """The sign-in form for an app's authorization request."""
    app_name, granted = _checked(store, form)
    return HTMLResponse(_login_page(form, app_name, granted))


@router.post("/oauth/authorize", response_class=HTMLResponse)
def sign_in(
    store: StoreDep,
    codes: CodesDep,
    form: Annotated[SignInForm, Depends(parsed(SignInForm))],
) -> Response:
    """Checks the password, then sends the browser back to the app with a code."""
    app_name, granted = _checked(store, form)
    account = account_for_login(store, form.username, form.password)
    if account is None:
        page = _login_page(form, app_name, granted, "Wrong username or password.")
        return HTMLResponse(page, status_code=401)
    grant = Grant(
        form.client_id,
        account.id,
        form.redirect_uri,
        granted,
        form.code_challenge,
        form.code_challenge_method,
    )
    code = codes.issue(grant)
    if form.redirect_uri == OOB:
        shown = f"<p>Copy this code into {escape(app_name)}:</p><pre>{escape(code)}</pre>"
        return HTMLResponse(PAGE.format(app=escape(app_name), body=shown))
    params = {"code": code} | ({"state": form.state} if form.state else {})
    return RedirectResponse(str(URL(form.redirect_uri).include_query_params(**params)), 303)
