"""jupyter-server-proxy entries for the docker-compose Grafana and Prometheus.

Registered in pyproject.toml under the ``jupyter_serverproxy_servers`` entry
point, so any Jupyter server with labkit and jupyter-server-proxy installed serves
them at ``<base_url>grafana/`` and ``<base_url>prometheus/``, with a launcher tile
on a machine that has Docker. No command: compose starts the services, the proxy
only forwards to their loopback ports.

Both services serve themselves under that same path (Grafana's
``serve_from_sub_path``, Prometheus's ``--web.external-url``; see
docker-compose.yml), so the proxy passes the full path on (``absolute_url``) and
redirects and asset links stay right. That assumes the Jupyter server's base URL
is ``/``, as it is for a local JupyterLab, the only place compose runs.
"""

from __future__ import annotations

import shutil

from labkit.urls import COMPOSE_SERVICES


def _entry(name: str) -> dict:
    service = COMPOSE_SERVICES[name]
    return {
        "port": service.port,
        "absolute_url": True,
        "new_browser_tab": True,
        "launcher_entry": {
            # A tile that opens an error page on a machine without Docker would
            # only confuse a learner on Binder.
            "enabled": shutil.which("docker") is not None,
            "title": service.title,
            "category": "Pool Lab",
        },
    }


def grafana() -> dict:
    """The ``grafana`` entry: compose's Grafana on 127.0.0.1:3000, under /grafana/."""
    return _entry("grafana")


def prometheus() -> dict:
    """The ``prometheus`` entry: compose's Prometheus on 127.0.0.1:9090, under /prometheus/."""
    return _entry("prometheus")
