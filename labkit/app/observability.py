"""The app's /metrics: HTTP metrics, the pool read at scrape time, and the app's sessions.

What each costs a request: the HTTP metrics, one pure ASGI middleware (see
``labkit.app.http_metrics``); the acquire-wait histogram, one observation per
acquire; the pool's gauges and the sessions, nothing (read when scraped).

Each app gets its own CollectorRegistry, so restarting in one kernel never meets
"Duplicated timeseries". For comparison, the source article's way is here too:
a background loop that copies the pool's state into a Gauge every few seconds
(fixed: it imports Gauge and reads the public API), which notebook 03 shows
going stale.
"""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, generate_latest

from labkit.app.http_metrics import HttpMetrics, HttpMetricsMiddleware
from labkit.app.metrics import AcquireMetrics, PoolCollector, SessionMetrics
from labkit.app.settings import AppSettings

router = APIRouter()


def instrument_http(app: FastAPI, registry: CollectorRegistry) -> HttpMetrics:
    """Record ``app``'s requests in ``registry``: count and latency, by route template.

    benchmarks/metrics_overhead.py swaps this function for the
    prometheus-fastapi-instrumentator way, to measure both in one run.
    """
    metrics = HttpMetrics(registry)
    app.add_middleware(HttpMetricsMiddleware, metrics=metrics)
    return metrics


class AppMetrics:
    """Everything /metrics exports for one run of the app."""

    def __init__(self, app: FastAPI, settings: AppSettings) -> None:
        self.registry = CollectorRegistry()
        self.pool: asyncpg.Pool | None = None
        self.registry.register(PoolCollector(lambda: self.pool))
        self.acquire = AcquireMetrics(self.registry)
        self.sessions = SessionMetrics(
            self.registry, settings.database_url, settings.application_name
        )
        self.polling_interval = settings.legacy_polling_s
        self._polling_task: asyncio.Task | None = None
        instrument_http(app, self.registry)

    def attach(self, pool: asyncpg.Pool) -> None:
        """Start reporting on ``pool`` (once it is open)."""
        self.pool = pool
        pool.acquire_observer = self.acquire.observe
        if self.polling_interval:
            self._polling_task = asyncio.create_task(self._article_polling_loop())

    async def _article_polling_loop(self) -> None:
        """The source article's approach: copy the pool's state into a Gauge every N s."""
        in_use = Gauge(
            "db_connections_in_use",
            "Connections in use, as the article's 5 s polling loop last saw them.",
            registry=self.registry,
        )
        while True:
            in_use.set(self.pool.get_size() - self.pool.get_idle_size())
            await asyncio.sleep(self.polling_interval)

    async def render(self) -> bytes:
        """The exposition text, after refreshing the session gauges."""
        with contextlib.suppress(
            OSError, asyncpg.PostgresError, asyncpg.InterfaceError, asyncio.TimeoutError
        ):
            await self.sessions.refresh()  # /metrics still answers if the database does not
        return generate_latest(self.registry)

    async def close(self) -> None:
        if self._polling_task is not None:
            self._polling_task.cancel()
        await self.sessions.close()


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    return Response(await request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
