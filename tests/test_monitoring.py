"""Notebook 03's monitoring: pool metrics, a real Prometheus, alert rules, Grafana."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from labkit.labs.staleness import measure_polling_staleness
from labkit.monitoring.prometheus import (
    COMPOSE_DIR,
    lab_config,
    prometheus_binary,
    start_prometheus,
)
from labkit.monitoring.scraper import InKernelScraper

PROMETHEUS_DIR = COMPOSE_DIR / "prometheus"
GRAFANA_DIR = COMPOSE_DIR / "grafana"


def need(tool: str) -> str:
    """The tool's path; in CI a missing tool is a failure (.ci/run installs it), else a skip."""
    path = shutil.which(tool) if tool != "prometheus" else prometheus_binary()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail(f"{tool} is missing in CI: .ci/run should have installed it")
        pytest.skip(f"{tool} is not installed (apt-get install prometheus)")
    return path


def promtool(*args: str, cwd: Path | None = None, stdin: str | None = None) -> None:
    result = subprocess.run(
        [need("promtool"), *args], capture_output=True, text=True, cwd=cwd, input=stdin
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def exported_names(app) -> set[str]:
    text = httpx.get(f"{app.url}/metrics").text
    return {s.name for family in text_string_to_metric_families(text) for s in family.samples}


async def _hold(app, n: int, ms: int) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        return await asyncio.gather(*(client.get("/lab/hold", params={"ms": ms}) for _ in range(n)))


def test_a_real_prometheus_scrapes_the_pool_gauges(start_app):
    need("prometheus")
    app = start_app(minsize=1, maxsize=5)
    prom = start_prometheus(app)
    try:
        # Long enough for a scrape to see them even when the machine is busy (the loop
        # below moves on as soon as one has).
        holding = asyncio.to_thread(lambda: asyncio.run(_hold(app, 3, 8000)))

        def scraped_used(moment: float) -> float | None:
            used = prom.query('db_client_connections_usage{state="used"}', at=moment)
            return float(used[0]["value"][1]) if used else None

        async def scenario():
            task = asyncio.create_task(holding)
            # Wait for a scrape that saw the held connections (one comes every second),
            # as long as they are held, rather than for a fixed time.
            while not task.done():
                moment = time.time()
                status = httpx.get(f"{app.url}/pool-status").json()
                if status["in_use"] == 3 and scraped_used(moment) == 3:
                    break
                await asyncio.sleep(0.2)
            used = prom.query('db_client_connections_usage{state="used"}', at=moment)
            idle = prom.query('db_client_connections_usage{state="idle"}', at=moment)
            maximum = prom.query("db_client_connection_max", at=moment)
            await task
            return status, used, idle, maximum

        status, used, idle, maximum = asyncio.run(scenario())
        assert abs(float(used[0]["value"][1]) - status["in_use"]) <= 1
        assert abs(float(idle[0]["value"][1]) - status["idle"]) <= 1
        assert float(maximum[0]["value"][1]) == status["max_size"] == 5
        assert status["in_use"] == 3
    finally:
        prom.stop()
    assert prom.process.poll() is not None  # stopped, nothing left behind


def test_promtool_checks_config_rules_and_metrics(start_app, tmp_path):
    app = start_app()
    promtool("check", "rules", "alerts.yml", cwd=PROMETHEUS_DIR)
    promtool("test", "rules", "alerts.test.yml", cwd=PROMETHEUS_DIR)
    promtool("check", "config", "prometheus.yml", cwd=PROMETHEUS_DIR)  # the compose one
    generated = tmp_path / "prometheus.yml"
    generated.write_text(yaml.safe_dump(lab_config(app.url)))
    promtool("check", "config", str(generated))  # the one labkit writes
    httpx.get(f"{app.url}/lab/ping-db")
    text = httpx.get(f"{app.url}/metrics").text
    linted = promtool("check", "metrics", stdin=text)
    assert linted.stdout + linted.stderr == ""  # clean, no documented exception needed


def test_pool_series_use_opentelemetry_names_without_a_count_suffix(start_app):
    names = exported_names(start_app())
    for expected in (
        "db_client_connections_usage",
        "db_client_connection_max",
        "db_client_connection_idle_min",
        "db_client_connection_pending_requests",
        "db_client_connection_wait_time_seconds_bucket",
        "db_client_connection_timeouts_total",
    ):
        assert expected in names
    assert "db_client_connection_count" not in names


def test_acquire_timeouts_and_waits_are_counted(start_app):
    app = start_app(maxsize=1, acquire_timeout=0.1)
    responses = asyncio.run(_hold(app, 3, 400))
    assert sorted(r.status_code for r in responses) == [200, 503, 503]
    text = httpx.get(f"{app.url}/metrics").text
    assert 'db_client_connection_timeouts_total{pool_name="default"} 2.0' in text


def test_idle_in_transaction_is_exported_for_the_alert(start_app):
    from labkit.labs import leaks

    app = start_app(maxsize=2)
    leaks.leave_transaction_open(app)
    time.sleep(0.3)
    text = httpx.get(f"{app.url}/metrics").text
    leaks.release_leaks(app)
    assert 'labkit_app_sessions{state="idle in transaction"} 1.0' in text
    age = re.search(r"^labkit_app_idle_in_transaction_max_age_seconds (\S+)$", text, re.M)
    assert age and float(age.group(1)) > 0.1


def test_grafana_dashboard_uses_only_exported_metrics_and_the_provisioned_datasource(start_app):
    app = start_app()
    httpx.get(f"{app.url}/lab/ping-db")
    exported = exported_names(app)
    dashboard = json.loads((GRAFANA_DIR / "dashboards" / "pool-lab.json").read_text())
    datasources = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    uid = datasources["datasources"][0]["uid"]
    promql_words = {"sum", "by", "rate", "histogram_quantile", "le", "handler", "state"}
    titles = set()
    for panel in dashboard["panels"]:
        titles.add(panel["title"])
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            expr = re.sub(r'"[^"]*"|\{[^}]*\}|\[[^]]*\]', " ", target["expr"])
            for word in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
                if word not in promql_words:
                    assert word in exported, f"{panel['title']}: {word} is not exported"
    assert {"Pool connections by state", "Requests waiting for a connection",
            "Acquire wait p95", "Request rate by route",
            "Request latency p95 by route"} <= titles  # fmt: skip


def test_in_kernel_scraper_matches_pool_status(start_app):
    app = start_app(minsize=2, maxsize=4)
    scraper = InKernelScraper(app, interval=0.2)
    try:
        deadline = time.monotonic() + 10  # the first scrape, however busy the machine
        while not scraper.view("idle", 0, time.time()) and time.monotonic() < deadline:
            time.sleep(0.05)
        status = app.pool_status()
        used = scraper.view("used", 0, time.time())
        idle = scraper.view("idle", 0, time.time())
    finally:
        scraper.stop()
    assert used[-1][1] == status["in_use"] == 0
    assert idle[-1][1] == status["idle"] == 2


def test_the_articles_polling_loop_goes_stale(start_app):
    app = start_app()
    stale = measure_polling_staleness(app, interval_s=5.0, duration_s=5.0)
    assert stale["wrong_fraction"] > 0.2
    assert stale["max_error"] >= 3
    assert app.settings.legacy_polling_s is None  # restored


def test_notebook_03_runs_without_a_prometheus_binary(database, monkeypatch):
    from test_notebooks import execute_notebook

    monkeypatch.setenv("LABKIT_PROMETHEUS", "off")
    path = Path(__file__).resolve().parent.parent / "notebooks" / "03_prometheus_monitoring.ipynb"
    nb = execute_notebook(path, monkeypatch)
    outputs = "".join(
        o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
    )
    assert "monitoring with: in-kernel scraper" in outputs


def test_concurrent_scrapes_all_answer(start_app):
    app = start_app()

    async def scrape_many() -> list[int]:
        async with httpx.AsyncClient(base_url=app.url, timeout=10) as client:
            responses = await asyncio.gather(*(client.get("/metrics") for _ in range(20)))
        return [r.status_code for r in responses]

    assert asyncio.run(scrape_many()) == [200] * 20
