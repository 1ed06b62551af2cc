"""The example app: FastAPI + Tortoise-ORM on an asyncpg pool, built per run.

``create_app(settings)`` builds a fresh app each time, with its own Prometheus
registry, so a restart in the same kernel never hits "Duplicated timeseries".
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, unquote, urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from tortoise import connections
from tortoise.context import get_current_context
from tortoise.contrib.fastapi import RegisterTortoise

from labkit.app import (
    access,
    health,
    observability,
    routes_exercises,
    routes_lab,
    routes_leaks,
    routes_users,
)
from labkit.app.engine import PoolAcquireTimeout
from labkit.app.health import DatabaseHealth
from labkit.app.http_errors import invalid_request
from labkit.app.observability import AppMetrics
from labkit.app.proxy_prefix import ProxyPrefixMiddleware
from labkit.app.settings import AppSettings


def tortoise_config(settings: AppSettings) -> dict:
    """Tortoise's config for ``settings``: our engine, the pool knobs, the app's name."""
    url = urlsplit(settings.database_url)
    query = {key: values[-1] for key, values in parse_qs(url.query).items()}
    credentials = {
        "host": query.get("host") or url.hostname or "127.0.0.1",
        "port": url.port or int(query.get("port", 5432)),
        "user": unquote(url.username or query.get("user", "postgres")),
        "password": unquote(url.password or query.get("password", "")),
        "database": url.path.lstrip("/") or query.get("dbname", "postgres"),
        "minsize": settings.minsize,
        "maxsize": settings.maxsize,
        "max_inactive_connection_lifetime": settings.max_inactive_connection_lifetime,
        "acquire_timeout": settings.acquire_timeout,
        "application_name": settings.application_name,
        "server_settings": dict(settings.server_settings),
        "address_file": settings.address_file,
    }
    if settings.statement_cache_size is not None:
        credentials["statement_cache_size"] = settings.statement_cache_size
    if not settings.reset_on_release:
        credentials["reset_on_release"] = False
    if "sslmode" in query:
        credentials["ssl"] = query["sslmode"]
    return {
        "connections": {"default": {"engine": "labkit.app.engine", "credentials": credentials}},
        "apps": {"models": {"models": ["labkit.app.models"], "default_connection": "default"}},
    }


async def reset_tortoise_state() -> None:
    """Close whatever Tortoise context is still open, so the next start begins clean.

    A start that fails half way (the database went away during schema creation,
    say) leaves Tortoise's global context set, and the next ``Tortoise.init``
    would refuse with "Global context fallback is already enabled".
    """
    context = get_current_context()
    if context is not None:
        with contextlib.suppress(Exception):  # its pool may belong to a dead loop
            await context.close_connections()
    import tortoise.context as tortoise_context

    # Tortoise has no public way to clear the fallback context it keeps for
    # cross-task access; close_connections() clears it only when it succeeds.
    tortoise_context._global_context = None


def create_app(settings: AppSettings) -> FastAPI:
    """Build the example app for ``settings``."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await reset_tortoise_state()
        try:
            async with RegisterTortoise(
                app, config=tortoise_config(settings), generate_schemas=True
            ):
                # Tortoise opens its pool lazily, on the first query. Open it now,
                # so /pool-status has a pool to read from the first request on.
                client = connections.get("default")
                await client.execute_query("SELECT 1")
                app.state.db_client = client
                app.state.health.probe = client.probe
                app.state.leaks = []
                if settings.metrics:
                    app.state.metrics.attach(client.pool)
                yield
                await app.state.health.close()
                if settings.metrics:
                    await app.state.metrics.close()
                # Leaked connections would make the pool's close() wait for them.
                await routes_leaks.release_all(app.state.leaks)
        except Exception as exc:
            app.state.startup_error = exc  # the background runner reports it
            raise
        finally:
            await reset_tortoise_state()

    # FastAPIOffline: FastAPI whose /docs and /redoc load Swagger UI and ReDoc from the
    # app itself instead of a CDN, so the docs page works in a classroom without internet
    # and, with the proxy's prefix as root_path, behind jupyter-server-proxy.
    app = FastAPIOffline(title="Pool Lab example app", lifespan=lifespan)
    app.state.settings = settings
    app.state.startup_error = None
    app.state.health = DatabaseHealth()
    health.install(app, app.state.health)
    app.include_router(routes_users.router)
    app.include_router(routes_lab.router)
    app.include_router(routes_leaks.router)
    app.include_router(routes_exercises.router)
    # Bodies FastAPI cannot parse (400) or validate (422), answered without ever failing.
    app.add_exception_handler(RequestValidationError, invalid_request)
    # Behind jupyter-server-proxy (hosted sessions), /docs must fetch its spec under
    # the proxy's prefix, not from the Jupyter server's root.
    app.add_middleware(ProxyPrefixMiddleware)

    @app.exception_handler(PoolAcquireTimeout)
    async def pool_exhausted(request: Request, exc: PoolAcquireTimeout) -> JSONResponse:
        retry_after = max(1, math.ceil(settings.acquire_timeout or 1))
        return JSONResponse(
            status_code=503,
            content={"detail": f"database pool exhausted: {exc}"},
            headers={"Retry-After": str(retry_after)},
        )

    if settings.metrics:
        app.state.metrics = AppMetrics(app, settings)
        app.include_router(observability.router)
    if settings.access_secret:
        # Outermost, so a refused request never reaches a route, a metric or the pool.
        app.add_middleware(access.RequireSecret, secret=settings.access_secret)
    return app


def create_app_from_env() -> FastAPI:
    """The app for a worker process, configured by ``LABKIT_APP_*`` environment variables.

    uvicorn calls it in each process it starts:

        LABKIT_APP_DATABASE_URL=postgresql://... LABKIT_APP_MAXSIZE=10 \\
            uvicorn labkit.app.main:create_app_from_env --factory --port 8001
    """
    return create_app(AppSettings())
