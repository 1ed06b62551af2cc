"""On a shared host the app and Prometheus refuse anyone without the run's secret.

LABKIT_SHARED_HOST=1 is what the workshop hub sets for each learner. These tests
check the mechanism in one process; tests/test_workshop.py checks it from a
second learner's real account on a real JupyterHub.
"""

from __future__ import annotations

import asyncio
import base64
import os
import stat

import httpx
import psutil
import pytest
import yaml

from labkit.app.access import RequireSecret
from labkit.infra import access
from labkit.infra.access import split_credentials, with_credentials
from labkit.infra.blocking import run_blocking
from labkit.infra.http_client import KeepAliveConnection
from labkit.infra.load import run_load
from labkit.infra.sessions import fetch_sessions
from labkit.infra.workers import start_workers
from labkit.monitoring.prometheus import lab_config, prometheus_binary, start_prometheus


@pytest.fixture
def shared_host(monkeypatch):
    monkeypatch.setenv(access.ENV_VAR, "1")


def test_the_switch_reads_on_and_off_and_refuses_anything_else(monkeypatch):
    for value, expected in [("", False), ("0", False), ("off", False), ("1", True), ("yes", True)]:
        monkeypatch.setenv(access.ENV_VAR, value)
        assert access.shared_host() is expected
    monkeypatch.delenv(access.ENV_VAR)
    assert access.shared_host() is False
    monkeypatch.setenv(access.ENV_VAR, "maybe")
    with pytest.raises(ValueError, match="LABKIT_SHARED_HOST"):
        access.shared_host()


def test_credentials_go_into_and_come_out_of_a_url():
    url = with_credentials("http://127.0.0.1:8000", "a/b?c")
    assert url == "http://labkit:a%2Fb%3Fc@127.0.0.1:8000"
    assert split_credentials(url + "/metrics") == (
        "http://127.0.0.1:8000/metrics",
        ("labkit", "a/b?c"),
    )
    assert with_credentials("http://127.0.0.1:8000", None) == "http://127.0.0.1:8000"
    assert split_credentials("http://127.0.0.1:8000") == ("http://127.0.0.1:8000", None)


def test_on_your_own_machine_the_app_asks_for_nothing(start_app, monkeypatch):
    monkeypatch.delenv(access.ENV_VAR, raising=False)
    app = start_app()
    assert app.url == app.address
    assert httpx.get(f"{app.url}/pool-status", timeout=10).status_code == 200


def test_on_a_shared_host_the_app_refuses_requests_without_the_secret(start_app, shared_host):
    app = start_app(minsize=1, maxsize=3)
    assert app.url != app.address and app.address.startswith("http://127.0.0.1:")
    assert app.settings.access_secret not in repr(app)
    assert app.settings.access_secret not in repr(app.settings)

    bare = httpx.get(f"{app.address}/pool-status", timeout=10)
    assert bare.status_code == 401
    assert bare.headers["www-authenticate"].startswith("Basic ")
    wrong = httpx.get(f"{app.address}/pool-status", auth=("labkit", "guess"), timeout=10)
    assert wrong.status_code == 401
    garbage = httpx.get(
        f"{app.address}/pool-status", headers={"Authorization": "Basic %%%"}, timeout=10
    )
    assert garbage.status_code == 401
    for path in ("/docs", "/openapi.json", "/metrics", "/users"):
        assert httpx.get(f"{app.address}{path}", timeout=10).status_code == 401, path

    # With the secret (httpx reads it from the URL) everything answers as usual.
    assert httpx.get(f"{app.url}/pool-status", timeout=10).status_code == 200
    assert "db_client_connections_usage" in httpx.get(f"{app.url}/metrics", timeout=10).text


def test_a_refused_request_never_touches_the_pool(start_app, shared_host):
    app = start_app(minsize=1, maxsize=2)

    async def try_to_hold_and_leak() -> list[int]:
        async with httpx.AsyncClient(base_url=app.address, timeout=10) as client:
            holds = [client.get("/lab/hold", params={"ms": 3000}) for _ in range(6)]
            leaks = [client.post("/lab/leak/connection") for _ in range(3)]
            return [r.status_code for r in await asyncio.gather(*holds, *leaks)]

    assert set(asyncio.run(try_to_hold_and_leak())) == {401}
    status = app.pool_status()
    assert status["in_use"] == 0 and status["size"] <= 1
    # Nothing was opened on the database for the refused requests either.
    assert len(run_blocking(fetch_sessions(app.database.dsn, app.application_name))) <= 1


def test_the_kits_load_generator_sends_the_secret(start_app, shared_host):
    app = start_app(minsize=1, maxsize=2)
    result = run_load(app, path="/lab/ping-db", requests=20, concurrency=2)
    assert result.summary.statuses == {200: 20}, result.summary.errors


def test_the_keep_alive_client_sends_basic_credentials_from_the_url(start_app, shared_host):
    app = start_app()

    async def statuses() -> tuple[int, int]:
        with_secret, without = KeepAliveConnection(app.url), KeepAliveConnection(app.address)
        try:
            return (
                (await with_secret.get("/pool-status")).status,
                (await without.get("/pool-status")).status,
            )
        finally:
            await with_secret.close()
            await without.close()

    assert asyncio.run(statuses()) == (200, 401)


def test_the_gate_compares_the_whole_credential():
    async def inner(scope, receive, send):
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    gate = RequireSecret(inner, "s3cret")

    def status(header: bytes | None) -> int:
        sent = []

        async def send(message):
            sent.append(message)

        headers = [(b"authorization", header)] if header is not None else []
        asyncio.run(gate({"type": "http", "headers": headers}, None, send))
        return sent[0]["status"]

    def basic(text: str) -> bytes:
        return b"Basic " + base64.b64encode(text.encode())

    assert status(basic("labkit:s3cret")) == 200
    assert status(basic("labkit:s3cret ")) == 401
    assert status(basic("other:s3cret")) == 401
    assert status(basic("labkit:s3cre")) == 401
    assert status(b"Bearer s3cret") == 401
    assert status(None) == 401
    with pytest.raises(ValueError):
        RequireSecret(inner, "")


def test_the_prometheus_config_carries_the_apps_credentials_as_basic_auth():
    config = lab_config("http://labkit:s3cret@127.0.0.1:8123")
    job = config["scrape_configs"][0]
    assert job["static_configs"][0]["targets"] == ["127.0.0.1:8123"]
    assert job["basic_auth"] == {"username": "labkit", "password": "s3cret"}
    assert "basic_auth" not in lab_config("http://127.0.0.1:8123")["scrape_configs"][0]


def test_on_a_shared_host_prometheus_asks_for_its_secret_and_scrapes_with_the_apps(
    start_app, shared_host
):
    if prometheus_binary() is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is missing in CI: .ci/run should have installed it")
        pytest.skip("prometheus is not installed (apt-get install prometheus)")
    app = start_app()
    server = start_prometheus(app)
    try:
        assert server.url != server.address
        assert split_credentials(server.url)[1][1] not in repr(server)
        # Ready means it scraped the app once: with the app's secret, or it would be down.
        assert server.targets_up()
        assert server.query('db_client_connection_max{job="poollab-app"}')
        for path in ("/api/v1/query?query=up", "/-/ready", "/graph"):
            assert httpx.get(f"{server.address}{path}", timeout=10).status_code == 401, path
        wrong = httpx.get(f"{server.address}/api/v1/query?query=up", auth=("labkit", "x"))
        assert wrong.status_code == 401
        # The files that hold the secrets are its owner's alone.
        for name in ("prometheus.yml", "web.yml"):
            mode = stat.S_IMODE((server.home / name).stat().st_mode)
            assert mode == 0o600, (name, oct(mode))
        web = yaml.safe_load((server.home / "web.yml").read_text())
        assert web["basic_auth_users"]["labkit"].startswith("$2")
    finally:
        server.stop()


def test_on_a_shared_host_app_workers_ask_for_their_groups_secret(database, shared_host):
    group = start_workers(2, maxsize=2, minsize=1, database=database)
    try:
        assert group.secret is not None and group.secret not in repr(group)
        for worker in group.workers:
            bare, credentials = split_credentials(worker.url)
            assert credentials == ("labkit", group.secret)
            assert httpx.get(f"{bare}/lab/hold", params={"ms": 1}, timeout=10).status_code == 401
            assert worker.pool_status()["size"] >= 1  # the worker's own URL carries it
            # The secret is in the worker's environment, not on its command line.
            assert group.secret not in " ".join(psutil.Process(worker.process.pid).cmdline())
        result = run_load(group.urls, path="/lab/ping-db", requests=20, concurrency=2)
        assert result.summary.statuses == {200: 20}, result.summary.errors
    finally:
        group.stop()
