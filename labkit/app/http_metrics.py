"""HTTP request metrics, recorded by a pure ASGI middleware.

Only the two series that notebook 03, the in-kernel scraper and the Grafana
dashboard read:

| series | kind | labels |
|---|---|---|
| ``http_requests_total`` | counter | handler, method, status (``"2xx"``, ``"4xx"``, ``"5xx"``...) |
| ``http_request_duration_seconds`` | histogram | handler, method (buckets ``LATENCY_BUCKETS``) |

Names, labels and status classes are the ones prometheus-fastapi-instrumentator
exported before (its ``requests()`` and ``latency()`` metrics, status codes
grouped), so the dashboards and alert rules read them unchanged.

``handler`` is the route TEMPLATE (``/users/{user_id}``), never the raw path
(``/users/42``): one series per route, however many users there are. A request
that matches no route counts under ``handler="none"``. /metrics itself is not
counted: Prometheus's own scrapes would otherwise show up as traffic.

Why a middleware of our own: per request it only reads what routing already
left in the ASGI scope, times the call, and bumps two pre-built children. The
instrumentator also builds a Starlette ``Request`` and ``Response``, matches the
path against every route a second time and looks up ``labels()`` on each
metric; ``benchmarks/metrics_overhead.py`` measures the difference.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from labkit.app.metrics import LATENCY_BUCKETS

UNMATCHED = "none"  # the handler label of a request no route matched
EXCLUDED_HANDLERS = frozenset({"/metrics"})
# Any other method (a client may send any token) counts as "other": the method
# label must not grow a series per made-up method.
HTTP_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}
)


class HttpMetrics:
    """The two HTTP series, in ``registry``, and a cache of their labelled children."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "http_requests",  # exported as http_requests_total
            "Total number of requests by method, status and handler.",
            ["handler", "method", "status"],
            registry=registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Latency of requests by handler and method.",
            ["handler", "method"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        # labels() validates and stringifies its arguments and takes a lock on every
        # call; the (handler, method, status) combinations are few, so look each one
        # up once and keep its children.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def record(self, handler: str, method: str, status: int, duration_s: float) -> None:
        """Count one request and observe its latency."""
        if method not in HTTP_METHODS:
            method = "other"
        key = (handler, method, status)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (
                self.requests.labels(handler, method, f"{status // 100}xx"),
                self.latency.labels(handler, method),
            )
        counter, histogram = children
        counter.inc()
        histogram.observe(duration_s)


class HttpMetricsMiddleware:
    """Pure ASGI middleware that records every HTTP request in an :class:`HttpMetrics`.

    >>> app.add_middleware(HttpMetricsMiddleware, metrics=HttpMetrics(registry))  # doctest: +SKIP
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: HttpMetrics,
        excluded_handlers: frozenset[str] = EXCLUDED_HANDLERS,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.excluded_handlers = excluded_handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets pass straight through
            await self.app(scope, receive, send)
            return

        status = 500  # what the client gets if the app raises before it answers

        async def send_and_note_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_and_note_status)
        except Exception:
            # Unhandled: Starlette's ServerErrorMiddleware, outside this one, answers
            # 500. Count it, unless a response had already started: then the client
            # got that status (and a cut-short body). A cancelled request (no
            # Exception) answered nothing, and is not counted.
            self._record(scope, status, started)
            raise
        self._record(scope, status, started)

    def _record(self, scope: Scope, status: int, started: float) -> None:
        duration_s = time.perf_counter() - started
        # Starlette's router leaves the route it chose in the scope (the same dict
        # we passed in), so the template costs one lookup, not a second matching.
        handler = getattr(scope.get("route"), "path", UNMATCHED)
        if handler not in self.excluded_handlers:
            self.metrics.record(handler, scope["method"], status, duration_s)
