"""Links built from the Jupyter server's base URL: local, hub, or no server at all.

The end-to-end checks (a real Jupyter server proxying the app and Prometheus) are
in test_hosted_proxy.py; here, how the base URL is found and what the app does
with the proxy's prefix header.
"""

from __future__ import annotations

import json
import os
import re
import subprocess

import httpx
import pytest

import labkit
from labkit.errors import LabkitError
from labkit.infra.jupyter import jupyter_server

HUB_VARIABLES = ("JUPYTERHUB_SERVICE_PREFIX", "JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_HOST")


@pytest.fixture
def no_jupyter(monkeypatch, tmp_path):
    """This process outside any Jupyter server: no hub variables, an empty runtime dir."""
    for variable in (*HUB_VARIABLES, "BINDER_LAUNCH_HOST", "JPY_PARENT_PID"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path))
    return tmp_path


def test_outside_jupyter_links_are_the_direct_addresses(no_jupyter):
    assert jupyter_server() is None
    assert labkit.service_url(41234, "/docs") == "http://127.0.0.1:41234/docs"
    assert labkit.service_url("grafana") == "http://127.0.0.1:3000/grafana/"
    assert "no Jupyter server" in str(labkit.links(compose=False))


def test_a_local_server_is_found_by_its_runtime_file(no_jupyter, monkeypatch):
    # The file `jupyter server list` reads, for the server that started this process.
    info = {"pid": os.getppid(), "url": "http://127.0.0.1:8899/lab/", "base_url": "/lab/"}
    (no_jupyter / f"jpserver-{os.getppid()}.json").write_text(json.dumps(info))
    server = jupyter_server()
    assert server is not None and server.hosted is None
    assert (server.origin, server.base_url) == ("http://127.0.0.1:8899", "/lab/")
    assert labkit.service_url(41234, "docs") == "http://127.0.0.1:8899/lab/proxy/41234/docs"
    assert labkit.service_url("grafana") == "http://127.0.0.1:8899/lab/grafana/"


def test_a_server_that_did_not_start_this_process_is_not_ours(no_jupyter):
    child = subprocess.Popen(["true"])  # a pid that is no ancestor of ours
    child.wait()
    other = {"pid": child.pid, "url": "http://127.0.0.1:8899/", "base_url": "/"}
    (no_jupyter / f"jpserver-{child.pid}.json").write_text(json.dumps(other))
    assert jupyter_server() is None


def test_on_a_hub_links_are_paths_under_the_service_prefix(no_jupyter, monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_SERVICE_PREFIX", "/user/alice/")
    server = jupyter_server()
    assert server.hosted == "JupyterHub" and server.origin == ""
    # JupyterLab leaves a href starting with "/" to the browser, which adds its host.
    assert labkit.service_url(41234, "/pool-status") == "/user/alice/proxy/41234/pool-status"
    monkeypatch.setenv("JUPYTERHUB_PUBLIC_URL", "https://hub.example.org/user/alice/")
    assert labkit.service_url(41234) == "https://hub.example.org/user/alice/proxy/41234/"
    monkeypatch.setenv("BINDER_LAUNCH_HOST", "https://mybinder.org/")
    assert jupyter_server().hosted == "Binder"


def test_links_refuse_what_has_no_web_page(no_jupyter):
    with pytest.raises(LabkitError, match="'grafana', 'prometheus'"):
        labkit.service_url("grafna")
    with pytest.raises(LabkitError, match="no web page"):
        labkit.service_url(object())
    with pytest.raises(LabkitError, match="no web page"):
        labkit.service_url(70000)


def test_the_app_takes_its_prefix_from_the_proxy_header(start_app, no_jupyter):
    app = start_app()
    assert app.proxy_url is None and app.browser_url == f"{app.url}/"

    def spec_url(**headers) -> str:
        page = httpx.get(f"{app.url}/docs", headers=headers, timeout=10).text
        return re.search(r"url: '([^']+)'", page).group(1)

    assert spec_url() == "/openapi.json"  # direct: unchanged
    prefixed = {"X-Forwarded-Prefix": "/user/alice/proxy/41234/"}
    assert spec_url(**prefixed) == "/user/alice/proxy/41234/openapi.json"
    # Routes still match, and the spec names the proxied server for "Try it out".
    spec = httpx.get(f"{app.url}/openapi.json", headers=prefixed, timeout=10).json()
    assert spec["servers"] == [{"url": "/user/alice/proxy/41234"}]
    status = httpx.get(f"{app.url}/pool-status", headers=prefixed, timeout=10)
    assert status.status_code == 200 and "size" in status.json()
    # Swagger UI itself comes from the app, under the same prefix: no CDN needed.
    page = httpx.get(f"{app.url}/docs", headers=prefixed, timeout=10).text
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert assets and all(a.startswith("/user/alice/proxy/41234/") for a in assets), assets
    for asset in assets:  # what the proxy would forward, with the prefix stripped
        local = asset.removeprefix("/user/alice/proxy/41234")
        assert httpx.get(f"{app.url}{local}", timeout=10).status_code == 200, asset
    # A prefix that is not a plain URL path never reaches the page's script.
    assert spec_url(**{"X-Forwarded-Prefix": "/x';alert(1)//"}) == "/openapi.json"
    assert spec_url(**{"X-Forwarded-Prefix": "relative/path"}) == "/openapi.json"
