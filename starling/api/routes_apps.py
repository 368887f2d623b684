"""POST /api/v1/apps and GET /api/v1/apps/verify_credentials. See docs/subsystems/api.md."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from starling.api import scopes
from starling.api.deps import INVALID_TOKEN, ActionsDep, StoreDep, app_token
from starling.api.errors import ApiError
from starling.api.forms import Form, parsed
from starling.api.oauth import OOB
from starling.api.render import Entity, application
from starling.model import Token

router = APIRouter(tags=["apps"])


class AppForm(Form):
    client_name: str = ""
    redirect_uris: str | list[str] = OOB
    scopes: str | list[str] | None = None
    website: str | None = None


@router.post("/api/v1/apps")
def create_app(actions: ActionsDep, form: Annotated[AppForm, Depends(parsed(AppForm))]) -> Entity:
    """Registers a client application; the answer holds its client_id and client_secret."""
    uris = (
        form.redirect_uris if isinstance(form.redirect_uris, list) else form.redirect_uris.split()
    )
    app = actions.create_app(
        form.client_name,
        "\n".join(uris),
        scopes.known(scopes.split(form.scopes)),
        form.website or None,
    )
    return application(app, with_secret=True)


@router.get("/api/v1/apps/verify_credentials")
def verify_app(store: StoreDep, token: Annotated[Token, Depends(app_token(None))]) -> Entity:
    """The application the token was issued to."""
    app = store.get_app_by_id(token.app_id)
    if app is None:
        raise ApiError(401, INVALID_TOKEN)
    return application(app, with_secret=False)
