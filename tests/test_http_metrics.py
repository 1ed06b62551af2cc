"""The app's HTTP metrics (labkit.app.http_metrics), read from the real app's /metrics."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from labkit.app.http_metrics import HttpMetrics, HttpMetricsMiddleware

REQUESTS = "http_requests_total"
LATENCY = "http_request_duration_seconds"


def scrape(app) -> list:
    """Every sample /metrics exports, parsed."""
    text = httpx.get(f"{app.url}/metrics").text
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(samples: list, name: str, **labels: str) -> float:
    """The sample ``name`` with exactly these labels, or 0.0 when there is none."""
    return next((s.value for s in samples if s.name == name and s.labels == labels), 0.0)


def handlers(samples: list) -> set[str]:
    return {s.labels["handler"] for s in samples if s.name.startswith("http_")}


def create_user(app) -> int:
    email = f"metrics-{time.time_ns()}@example.org"
    response = httpx.post(f"{app.url}/users", json={"email": email, "name": "M"})
    response.raise_for_status()
    return response.json()["id"]


def test_requests_are_counted_by_route_template_method_and_status_class(start_app):
    app = start_app()
    user_id = create_user(app)
    for _ in range(3):
        assert httpx.get(f"{app.url}/users/{user_id}").status_code == 200
    assert httpx.get(f"{app.url}/users/987654321").status_code == 404
    samples = scrape(app)
    route = "/users/{user_id}"
    assert value(samples, REQUESTS, handler=route, method="GET", status="2xx") == 3
    assert value(samples, REQUESTS, handler=route, method="GET", status="4xx") == 1
    assert value(samples, REQUESTS, handler="/users", method="POST", status="2xx") == 1
    assert not {h for h in handlers(samples) if h.startswith("/users/") and h != route}
    # The label sets the dashboard, the alert rules and notebook 03 rely on.
    counted = next(s for s in samples if s.name == REQUESTS)
    assert set(counted.labels) == {"handler", "method", "status"}
    observed = next(s for s in samples if s.name == f"{LATENCY}_bucket")
    assert set(observed.labels) == {"handler", "method", "le"}


def test_unmatched_paths_count_under_one_label_never_the_raw_path(start_app):
    app = start_app()
    for n in range(3):
        assert httpx.get(f"{app.url}/no/such/page/{n}").status_code == 404
    samples = scrape(app)
    assert value(samples, REQUESTS, handler="none", method="GET", status="4xx") == 3
    assert not {h for h in handlers(samples) if h.startswith("/no/")}


def test_made_up_methods_count_as_other(start_app):
    app = start_app()
    assert httpx.request("BREW", f"{app.url}/lab/ping-db").status_code == 405
    samples = scrape(app)
    assert value(samples, REQUESTS, handler="/lab/ping-db", method="other", status="4xx") == 1
    assert not any(s.labels.get("method") == "BREW" for s in samples)


def test_metrics_scrapes_are_not_counted(start_app):
    app = start_app()
    httpx.get(f"{app.url}/lab/ping-db")
    for _ in range(3):
        scrape(app)
    samples = scrape(app)
    assert "/lab/ping-db" in handlers(samples)
    assert "/metrics" not in handlers(samples)


def test_an_endpoint_that_raises_is_counted_as_a_5xx(start_app):
    # statement_timeout cancels the query: the driver's error is raised out of the
    # endpoint, nobody handles it, and Starlette answers 500 outside our middleware.
    app = start_app(server_settings={"statement_timeout": "200"})
    assert httpx.get(f"{app.url}/lab/hold", params={"ms": 3000}, timeout=30).status_code == 500
    assert httpx.get(f"{app.url}/lab/hold", params={"ms": 0}).status_code == 200
    samples = scrape(app)
    assert value(samples, REQUESTS, handler="/lab/hold", method="GET", status="5xx") == 1
    assert value(samples, REQUESTS, handler="/lab/hold", method="GET", status="2xx") == 1
    assert value(samples, f"{LATENCY}_count", handler="/lab/hold", method="GET") == 2


def test_latency_is_observed_in_the_right_buckets(start_app):
    app = start_app()
    for _ in range(4):
        httpx.get(f"{app.url}/lab/hold", params={"ms": 100}).raise_for_status()
    samples = scrape(app)
    labels = {"handler": "/lab/hold", "method": "GET"}
    assert value(samples, f"{LATENCY}_count", **labels) == 4
    assert value(samples, f"{LATENCY}_sum", **labels) >= 0.4
    # each held its connection 100 ms
    assert value(samples, f"{LATENCY}_bucket", le="0.075", **labels) == 0
    assert value(samples, f"{LATENCY}_bucket", le="+Inf", **labels) == 4


def test_each_acquire_is_observed(start_app):
    app = start_app()
    before = value(scrape(app), "db_client_connection_wait_time_seconds_count", pool_name="default")
    for _ in range(5):
        httpx.get(f"{app.url}/lab/ping-db").raise_for_status()
    after = value(scrape(app), "db_client_connection_wait_time_seconds_count", pool_name="default")
    assert after - before == 5  # one acquire per ping; /metrics uses a connection of its own


def test_a_failure_after_the_response_started_keeps_the_status_sent():
    # No endpoint of the app streams, so this one case runs the middleware alone.
    registry = CollectorRegistry()
    metrics = HttpMetrics(registry)

    class Route:
        path = "/stream"

    async def streams_then_fails(scope, receive, send) -> None:
        scope["route"] = Route()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        raise RuntimeError("the stream broke")

    async def send(message) -> None:
        pass

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    middleware = HttpMetricsMiddleware(streams_then_fails, metrics=metrics)
    with pytest.raises(RuntimeError):
        asyncio.run(middleware({"type": "http", "method": "GET"}, receive, send))
    labels = {"handler": "/stream", "method": "GET"}
    assert registry.get_sample_value(REQUESTS, {**labels, "status": "2xx"}) == 1
    assert registry.get_sample_value(REQUESTS, {**labels, "status": "5xx"}) is None


def test_the_example_app_records_http_metrics_without_the_instrumentator():
    # prometheus-fastapi-instrumentator costs several times more per request (see
    # benchmarks/metrics_overhead.py); only the article lab and the benchmark use it.
    app_dir = Path(__file__).resolve().parent.parent / "labkit" / "app"
    for source in app_dir.glob("*.py"):
        assert "import prometheus_fastapi_instrumentator" not in source.read_text(), source
        assert "from prometheus_fastapi_instrumentator" not in source.read_text(), source
