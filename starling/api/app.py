"""The FastAPI application: Starling's public HTTP interface, the Mastodon client API.

Requests pass CORS, the rate limiter (when on), then the body-size guard, then a route
that parses, authorizes, calls one action and renders (the later a middleware is added,
the earlier it runs). Interactive docs are at /docs.
See docs/subsystems/api.md.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from starling import __version__
from starling.api import (
    errors,
    routes_accounts,
    routes_ads,
    routes_apps,
    routes_authorize,
    routes_blocks,
    routes_foryou,
    routes_instance,
    routes_oauth,
    routes_statuses,
    routes_timelines,
)
from starling.api.bodysize import BodySizeMiddleware
from starling.api.deps import Roles
from starling.api.oauth import CodeStore
from starling.api.ratelimit import RATE_LIMIT_HEADERS, FixedWindow, RateLimitMiddleware
from starling.api.statuses import Renderer
from starling.runtime import Runtime

ROUTERS = (
    routes_apps.router,
    routes_oauth.router,
    routes_authorize.router,
    routes_accounts.router,
    routes_blocks.router,
    routes_statuses.router,
    routes_timelines.router,
    routes_foryou.router,
    routes_instance.router,
    routes_ads.router,
)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="Starling",
        version=__version__,
        description="The Mastodon client API subset Starling serves.",
        lifespan=_bounded_threads(runtime.settings.api_threads),
    )
    app.state.roles = roles(runtime)
    errors.install(app)
    for router in ROUTERS:
        app.include_router(router)
    settings = runtime.settings
    app.add_middleware(BodySizeMiddleware, max_bytes=settings.max_body_bytes)
    if settings.rate_limits_on:
        # Wraps the body-size guard: a client over its limit costs nothing more.
        window = settings.rate_limit_window_s
        app.add_middleware(
            RateLimitMiddleware,
            per_token=FixedWindow(settings.rate_limit_per_token, window),
            per_ip=FixedWindow(settings.rate_limit_per_ip, window),
            ip_all=FixedWindow(settings.rate_limit_ip_all, window),
        )
    # Outermost: browser clients (web apps on other origins) can read every answer, 429s
    # included. Tokens travel in headers, never cookies, so any origin is safe.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Link", *RATE_LIMIT_HEADERS],
    )
    return app


def roles(runtime: Runtime) -> Roles:
    """The runtime's parts the routes may take, each through its own dependency
    (deps.py); the routes never see the runtime itself."""
    settings = runtime.settings
    return Roles(
        store=runtime.store,
        actions=runtime.actions,
        home=runtime.home,
        for_you=runtime.for_you,
        settings=settings,
        renderer=Renderer(runtime.store, runtime.cache.counters, settings.public_url),
        workers=tuple(runtime.workers.values()),
        codes=CodeStore(),
        ads=runtime.ads,
    )


def _bounded_threads(threads: int) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Sync handlers and dependencies run on a pool of `threads` threads; more requests
    wait for a free one. Many threads would only take turns at the GIL, each switch
    costing CPU and every request's latency (anyio's default pool has 40)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan
