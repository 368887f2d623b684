"""Request dependencies: each role a route may need, the caller's token, scope checks.

A route declares only the roles it uses (StoreDep, ActionsDep, ...), never the runtime
that built them: what a handler can touch is in its signature. The acting account is
always the one the bearer token belongs to; no parameter can name another. App-only
tokens (client_credentials) may call app endpoints and register accounts but not act as
a user. See docs/subsystems/api.md.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import Depends, Request

from starling.actions import Actions
from starling.ads.admin import CampaignAdmin
from starling.api import scopes
from starling.api.errors import ApiError
from starling.api.oauth import CodeStore
from starling.api.statuses import Renderer
from starling.auth import hash_secret
from starling.config import Settings
from starling.foryou.timeline import ForYouTimeline
from starling.home import HomeTimeline
from starling.model import Token
from starling.store.base import Store
from starling.workers.base import Worker

INVALID_TOKEN = "The access token is invalid"


@dataclass(frozen=True, slots=True)
class Roles:
    """What create_app hands the routes (as app.state.roles), each taken alone below."""

    store: Store
    actions: Actions
    home: HomeTimeline
    for_you: ForYouTimeline
    settings: Settings
    renderer: Renderer
    workers: Sequence[Worker]
    codes: CodeStore
    ads: CampaignAdmin


def _role(name: str) -> Any:
    """A dependency on one of the app's Roles."""

    async def dependency(request: Request) -> Any:
        return getattr(cast(Roles, request.app.state.roles), name)

    return Depends(dependency)


StoreDep = Annotated[Store, _role("store")]  # the store of record, for reads only
ActionsDep = Annotated[Actions, _role("actions")]  # the only write path
HomeDep = Annotated[HomeTimeline, _role("home")]  # the Following timeline
ForYouDep = Annotated[ForYouTimeline, _role("for_you")]  # the ranked timeline
SettingsDep = Annotated[Settings, _role("settings")]
RendererDep = Annotated[Renderer, _role("renderer")]  # status entities, a page at a time
WorkersDep = Annotated[Sequence[Worker], _role("workers")]  # for their backlogs
CodesDep = Annotated[CodeStore, _role("codes")]  # authorization codes of this process
AdsDep = Annotated[CampaignAdmin, _role("ads")]  # promotion campaigns (admin API)


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


async def optional_token(request: Request, store: StoreDep) -> Token | None:
    """The caller's token; a token that is sent but unknown is an error, not anonymity.

    Runs on the event loop, not in a worker thread: one primary-key read costs less than
    a hop to a thread and back, which every authenticated request would pay (and, with
    the threads bounded, a second wait in their queue)."""
    secret = bearer(request)
    if secret is None:
        return None
    token = store.get_token(hash_secret(secret))
    if token is None:
        raise ApiError(401, INVALID_TOKEN)
    return token


OptionalToken = Annotated[Token | None, Depends(optional_token)]


# Dependencies that only inspect the token are async too: they need no worker thread.


def app_token(scope: str | None) -> Callable[[Token | None], Awaitable[Token]]:
    """Dependency: any valid token (app or user) holding `scope` (None: any scope)."""

    async def dependency(token: OptionalToken) -> Token:
        if token is None:
            raise ApiError(401, INVALID_TOKEN)
        if scope is not None and not scopes.allows(token.scopes, scope):
            raise ApiError(403, "This action is outside the authorized scopes")
        return token

    return dependency


def user(scope: str) -> Callable[[Token], Awaitable[int]]:
    """Dependency: the id of the account acting, from a user token holding `scope`."""

    # A default, not an Annotated hint: string annotations cannot see this closure.
    caller = Depends(app_token(scope))

    async def dependency(token: Token = caller) -> int:
        if token.account_id is None:
            raise ApiError(422, "This method requires an authenticated user")
        return token.account_id

    return dependency


async def viewer(token: OptionalToken) -> int | None:
    """The account reading a public endpoint, or None when anonymous."""
    return token.account_id if token is not None else None


Viewer = Annotated[int | None, Depends(viewer)]
ReadAccounts = Annotated[int, Depends(user("read:accounts"))]
ReadFollows = Annotated[int, Depends(user("read:follows"))]
ReadStatuses = Annotated[int, Depends(user("read:statuses"))]
WriteStatuses = Annotated[int, Depends(user("write:statuses"))]
WriteFavourites = Annotated[int, Depends(user("write:favourites"))]
WriteFollows = Annotated[int, Depends(user("write:follows"))]
ReadBlocks = Annotated[int, Depends(user("read:blocks"))]
WriteBlocks = Annotated[int, Depends(user("write:blocks"))]
ReadMutes = Annotated[int, Depends(user("read:mutes"))]
WriteMutes = Annotated[int, Depends(user("write:mutes"))]


def admin(scope: str) -> Callable[..., Awaitable[int]]:
    """Dependency: the id of the admin acting, from a user token holding `scope` (an
    admin:* scope) of an account named in STARLING_ADMINS; any other account gets 403."""

    caller = Depends(user(scope))

    async def dependency(store: StoreDep, settings: SettingsDep, account_id: int = caller) -> int:
        found = store.get_accounts([account_id]).get(account_id)
        if found is None or not settings.is_admin(found.username):
            raise ApiError(403, "This action is reserved to administrators")
        return account_id

    return dependency


ReadAdmin = Annotated[int, Depends(admin("admin:read"))]
WriteAdmin = Annotated[int, Depends(admin("admin:write"))]
