"""Section 3's metrics code in a real FastAPI app on the article's config.

As written, start-up fails: ``Gauge`` is never imported. With that one import added,
the app starts, and we watch what its background task does, what ``/metrics`` serves,
and what the imported-but-unused ``Instrumentator`` adds (nothing).
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
import prometheus_client
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_fastapi_instrumentator import Instrumentator
from tortoise import Tortoise
from tortoise.context import TortoiseContext

from labkit.infra.blocking import run_blocking
from labkit.labs.article.evidence import Raised, raised_or_none
from labkit.labs.article.snippets import ARTICLE_METRICS, run_snippet
from labkit.labs.article.tortoise_config import article_tortoise_config, isolated


@dataclass(frozen=True)
class MetricsRun:
    """The article's metrics code: its start-up, its task, and what /metrics shows."""

    startup_error: Raised | None  # as written
    task_report: str  # with Gauge imported: what asyncio reported about the dropped task
    task_error: Raised | None  # ... and the exception the task died of
    update_on_open_pool: Raised | None  # update_metrics() once Tortoise's pool is open
    metrics_redirect: tuple[int, str | None]  # GET /metrics: status and Location
    series: list[str]  # sample names served at /metrics/ after three requests
    gauge_value: float | None  # db_connections_in_use as served there
    default_registry: bool  # make_asgi_app() serves prometheus_client.REGISTRY by default
    instrumented_series: list[str]  # the same, with Instrumentator(...).instrument(app)

    @property
    def http_series(self) -> list[str]:
        """HTTP request metrics among ``series`` (what an Instrumentator would add)."""
        return [name for name in self.series if name.startswith("http_")]

    @property
    def instrumented_http_series(self) -> list[str]:
        """HTTP request metrics once the Instrumentator is applied."""
        return [name for name in self.instrumented_series if name.startswith("http_")]


def run_article_metrics_snippet(dsn: str) -> MetricsRun:
    """Run the article's metrics code as written, then with ``Gauge`` imported.

    The gauge it registers in Prometheus's default registry is unregistered
    afterwards, so the lab can run again in the same kernel.
    """
    return run_blocking(_metrics(dsn))


def _app_with_a_route() -> FastAPI:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict:
        return {"pong": True}

    return app


def _samples(text: str) -> dict[str, float]:
    """Sample name -> value (the last one, for names with labels) of an exposition text."""
    families = text_string_to_metric_families(text)
    return {sample.name: sample.value for family in families for sample in family.samples}


def _load(app: FastAPI, **defined: Any) -> dict[str, Any]:
    """Run the snippet in ``app``, with the names the article imports elsewhere."""
    with warnings.catch_warnings():  # on_event's DeprecationWarning: run_article_startup_hook
        warnings.simplefilter("ignore", DeprecationWarning)
        return run_snippet(
            ARTICLE_METRICS, "metrics", app=app, Tortoise=Tortoise, asyncio=asyncio, **defined
        )


async def _metrics(dsn: str) -> MetricsRun:
    async with isolated(article_tortoise_config(dsn)) as context:
        app = _app_with_a_route()
        _load(app)
        startup_error = None
        try:
            async with app.router.lifespan_context(app):  # what uvicorn runs at start-up
                pass
        except NameError as exc:
            startup_error = exc
        fixed = await _with_gauge_imported(context)
    default = inspect.signature(prometheus_client.make_asgi_app).parameters["registry"].default
    return MetricsRun(
        raised_or_none(startup_error),
        **fixed,
        default_registry=default is prometheus_client.REGISTRY,
        instrumented_series=await _instrumented_series(),
    )


async def _with_gauge_imported(context: TortoiseContext) -> dict[str, Any]:
    made: list[prometheus_client.Gauge] = []

    def gauge(*args: Any, **kwargs: Any) -> prometheus_client.Gauge:
        made.append(prometheus_client.Gauge(*args, **kwargs))  # kept, to unregister it
        return made[-1]

    app = _app_with_a_route()
    namespace = _load(app, Gauge=gauge)
    loop = asyncio.get_running_loop()
    reports: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, report: reports.append(report))
    try:
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.05)  # the task's first update runs
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://article") as client:
                for _ in range(3):
                    await client.get("/ping")
                redirect = await client.get("/metrics")
                scraped = await client.get("/metrics/")
        gc.collect()  # nobody holds the finished task: asyncio reports its error as it goes
        _unregister(made)
        # The same update once Tortoise has opened its pool (it opens it on a first query).
        await context.connections.get("default").execute_query("SELECT 1")
        update_error = None
        try:
            await namespace["DatabaseMetrics"]().update_metrics()
        except AttributeError as exc:
            update_error = exc
    finally:
        loop.set_exception_handler(previous)
        _unregister(made)
    lost = next((report for report in reports if "exception" in report), {})
    served = _samples(scraped.text)
    return {
        "task_report": lost.get("message", ""),
        "task_error": raised_or_none(lost.get("exception")),
        "update_on_open_pool": raised_or_none(update_error),
        "metrics_redirect": (redirect.status_code, redirect.headers.get("location")),
        "series": sorted(served),
        "gauge_value": served.get("db_connections_in_use"),
    }


def _unregister(gauges: list[prometheus_client.Gauge]) -> None:
    while gauges:
        prometheus_client.REGISTRY.unregister(gauges.pop())


async def _instrumented_series() -> list[str]:
    """The article's mount with the Instrumentator applied (a registry of its own)."""
    registry = prometheus_client.CollectorRegistry()
    app = _app_with_a_route()
    Instrumentator(registry=registry).instrument(app)
    app.mount("/metrics", prometheus_client.make_asgi_app(registry=registry))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://article") as client:
        for _ in range(3):
            await client.get("/ping")
        return sorted(_samples((await client.get("/metrics/")).text))
