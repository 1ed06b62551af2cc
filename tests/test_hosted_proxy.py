"""Every service reachable from a remote browser, through the Jupyter server itself.

A real ``jupyter server`` with jupyter-server-proxy runs on 127.0.0.1; a kernel of
it (started over its REST API, driven over its websocket, as JupyterLab does)
starts the example app and the kit's Prometheus and prints the links labkit
builds. The test then opens those links through the Jupyter server only, as a
browser on another machine would: /pool-status answers JSON, the OpenAPI page
loads its spec under the proxy's prefix, Prometheus's query API answers, and its
UI's assets load. Once as a local JupyterLab (base URL "/"), once as a hub's
single-user server (base URL /user/learner/, JUPYTERHUB_SERVICE_PREFIX set).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from jupyter_remote import JupyterServerClient

from labkit.infra.ports import free_port

HUB_PREFIX = "/user/learner/"
needs_prometheus = pytest.mark.skipif(
    shutil.which("prometheus") is None, reason="needs the prometheus binary (.ci/run installs it)"
)


def start_jupyter_server(base: Path, base_url: str = "/", extra_env: dict | None = None):
    """A ``jupyter server`` on 127.0.0.1 whose kernels use this interpreter."""
    token, port = secrets.token_hex(16), free_port()
    root = base / "root"
    root.mkdir(parents=True)
    command = [
        sys.executable, "-m", "jupyter", "server", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--ServerApp.base_url={base_url}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root
    env = {
        **os.environ,
        # This interpreter's kernel spec first, so the kernel imports this labkit.
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        **(extra_env or {}),
    }
    log = (base / "jupyter.log").open("w")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    client = JupyterServerClient(f"http://127.0.0.1:{port}{base_url.rstrip('/')}", token)
    try:
        client.wait_ready(process=process)
    except Exception:
        process.terminate()
        process.wait(10)
        raise RuntimeError((base / "jupyter.log").read_text()[-3000:]) from None
    return process, client, root


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


SETUP = """
import json, labkit
from labkit import monitoring
app = labkit.start_app(maxsize=3)
monitor = monitoring.start_monitoring(app)
shown = labkit.links(app, monitor, compose=False)
print("LINKS " + json.dumps({link.label: link.url for link in shown}))
print("GRAFANA " + labkit.service_url("grafana"))
print("APP " + repr(app))
print("PROXY " + str(app.proxy_url))
"""


@pytest.fixture(scope="module", params=["local", "hub"])
def proxied(request, database, tmp_path_factory) -> Iterator[dict]:
    """A Jupyter server, and the links its kernel printed for the app and Prometheus."""
    hub = request.param == "hub"
    base_url = HUB_PREFIX if hub else "/"
    extra = {"JUPYTERHUB_SERVICE_PREFIX": HUB_PREFIX} if hub else {}
    process, client, root = start_jupyter_server(
        tmp_path_factory.mktemp(request.param), base_url, extra
    )
    (root / "hosted.ipynb").write_text(json.dumps(EMPTY_NOTEBOOK))
    kernel = None
    try:
        kernel = client.start_kernel("hosted.ipynb")
        run = kernel.execute(SETUP)
        assert run.error is None, run.error
        printed = dict(line.split(" ", 1) for line in run.text.splitlines() if " " in line)
        yield {
            "client": client,
            "hub": hub,
            "links": json.loads(printed["LINKS"]),
            "repr": printed["APP"],
            "proxy_url": printed["PROXY"],
            "grafana": printed["GRAFANA"],
            # A browser on the hub completes a path with the host it talks to.
            "origin": f"http://127.0.0.1:{urlsplit(client.url).port}",
        }
    finally:
        if kernel is not None:
            kernel.execute("monitor.stop(); app.stop()")
            kernel.close()
        client.close()
        stop(process)


EMPTY_NOTEBOOK = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def browser_get(proxied: dict, url: str, **params) -> httpx.Response:
    """GET ``url`` as the learner's browser would: through the Jupyter server only."""
    absolute = urljoin(proxied["origin"], url)
    assert urlsplit(absolute).port == urlsplit(proxied["client"].url).port, (
        f"{url} does not go through the Jupyter server"
    )
    return proxied["client"].http.get(absolute, follow_redirects=True, **params)


@needs_prometheus
def test_links_go_through_the_jupyter_server(proxied):
    prefix = HUB_PREFIX if proxied["hub"] else "/"
    for label, url in proxied["links"].items():
        if proxied["hub"]:
            # The hub's public host is unknown to the kernel: an absolute path, which
            # JupyterLab leaves to the browser (only paths without a leading "/" are files).
            assert url.startswith(prefix), (label, url)
        else:
            assert url.startswith(proxied["client"].url + "/"), (label, url)
        assert f"{prefix}proxy/" in url, (label, url)
    assert proxied["proxy_url"].endswith("/") and "/proxy/" in proxied["proxy_url"]
    # compose's Grafana: the named jupyter-server-proxy entry, under the same base URL.
    assert proxied["grafana"].endswith(f"{prefix}grafana/")
    # The app's repr shows the browser's address, never the kernel's loopback one.
    assert proxied["proxy_url"] in proxied["repr"]


@needs_prometheus
def test_pool_status_answers_json_through_the_proxy(proxied):
    response = browser_get(proxied, proxied["links"]["example app: /pool-status"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    status = response.json()
    assert status["max_size"] == 3 and status["size"] >= 1


@needs_prometheus
def test_openapi_page_loads_its_spec_through_the_proxy(proxied):
    docs_url = proxied["links"]["example app: API docs"]
    page = browser_get(proxied, docs_url)
    assert page.status_code == 200 and "swagger-ui" in page.text
    spec_url = re.search(r"url: '([^']+)'", page.text).group(1)
    # The pitfall: without the proxy's prefix as root_path this is "/openapi.json",
    # the Jupyter server's root, and the page says "Failed to load API definition".
    assert spec_url.endswith("/openapi.json") and "/proxy/" in spec_url
    spec = browser_get(proxied, urljoin(urljoin(proxied["origin"], docs_url), spec_url))
    assert spec.status_code == 200
    assert "/pool-status" in spec.json()["paths"]
    # "Try it out" sends requests to the server the spec names: the proxied app.
    assert spec.json()["servers"][0]["url"] == spec_url.removesuffix("/openapi.json")


@needs_prometheus
def test_prometheus_query_api_answers_through_the_proxy(proxied):
    graph = proxied["links"]["Prometheus: graph"]
    api = graph.removesuffix("graph") + "api/v1/query"
    app_port = re.search(r"/proxy/(\d+)/", proxied["proxy_url"]).group(1)
    query = f'up{{instance="127.0.0.1:{app_port}"}}'  # this app: the data dir keeps older runs
    response = browser_get(proxied, api, params={"query": query})
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert [r["value"][1] for r in body["data"]["result"]] == ["1"]  # it scrapes the app


@needs_prometheus
def test_prometheus_ui_loads_its_assets_through_the_proxy(proxied):
    graph_url = urljoin(proxied["origin"], proxied["links"]["Prometheus: graph"])
    page = browser_get(proxied, graph_url)
    assert page.status_code == 200 and "Prometheus" in page.text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css)[^"]*)"', page.text)
    assert assets, "the page names no scripts or stylesheets"
    for asset in assets[:6]:
        assert browser_get(proxied, urljoin(str(page.url), asset)).status_code == 200, asset


def test_the_compose_services_are_jupyter_server_proxy_entries():
    from jupyter_server_proxy.config import get_entrypoint_server_processes

    from labkit.urls import COMPOSE_SERVICES

    entries = {p.name: p for p in get_entrypoint_server_processes()}
    for name, service in COMPOSE_SERVICES.items():
        assert entries[name].port == service.port
        assert entries[name].absolute_url  # the service serves under /<name>/ itself
        assert service.path == f"/{name}/"
