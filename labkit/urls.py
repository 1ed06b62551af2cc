"""Links the learner's browser can open: the example app, Prometheus and Grafana.

The app and Prometheus listen on 127.0.0.1 of the machine that runs the kernel. On
a hosted session (Binder, a JupyterHub) that is not the browser's machine, so a
``http://127.0.0.1:…`` link opens nothing. Every link here goes through the Jupyter
server the browser already talks to, with jupyter-server-proxy:

- ``<base_url>proxy/<port>/`` for the app and the kit's Prometheus (random ports);
- ``<base_url>grafana/`` and ``<base_url>prometheus/`` for the docker-compose
  services, named entries that labkit registers with jupyter-server-proxy (they are
  also tiles in JupyterLab's launcher on a machine with Docker).

Outside a Jupyter server (a script, a terminal) the browser, if any, is on this
machine, and the direct address is the link.

>>> labkit.service_url(app, "/docs")   # doctest: +SKIP
'http://127.0.0.1:8888/proxy/40123/docs'   # a local JupyterLab
'/user/alice/proxy/40123/docs'             # on a hub, the browser adds its own host
>>> labkit.links(app, monitor)         # doctest: +SKIP
"""

from __future__ import annotations

import html
import shutil
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from labkit.errors import LabkitError
from labkit.infra.jupyter import JupyterServer, jupyter_server, server_proxy_installed
from labkit.messages import N_, _, display_width

__all__ = ["COMPOSE_SERVICES", "Link", "Links", "links", "service_url"]


@dataclass(frozen=True)
class ComposeService:
    """A docker-compose service on a fixed loopback port, served under its own path."""

    title: str
    port: int
    path: str  # the service serves itself under this path, proxied as it is


# The names are jupyter-server-proxy entries (labkit.infra.server_proxy registers them).
COMPOSE_SERVICES = {
    "grafana": ComposeService(N_("Grafana (docker compose)"), 3000, "/grafana/"),
    "prometheus": ComposeService(N_("Prometheus (docker compose)"), 9090, "/prometheus/"),
}


def proxy_server() -> JupyterServer | None:
    """The Jupyter server to route links through, or None for direct addresses."""
    server = jupyter_server()
    return server if server is not None and server_proxy_installed() else None


def _port_of(service: Any) -> int:
    """The loopback port of an app, a Prometheus (server or monitor), or a port number."""
    from labkit.infra.runner import BackgroundApp
    from labkit.monitoring.prometheus import PrometheusServer
    from labkit.monitoring.views import PrometheusMonitor

    if isinstance(service, PrometheusMonitor):
        service = service.server
    if isinstance(service, BackgroundApp):
        if not service.port:
            raise LabkitError(_("the app has not started yet: app = labkit.start_app()"))
        return service.port
    if isinstance(service, PrometheusServer):
        return urlsplit(service.url).port or 0
    if isinstance(service, int) and not isinstance(service, bool) and 0 < service < 65536:
        return service
    kind = getattr(service, "kind", type(service).__name__)
    raise LabkitError(
        _(
            "no web page to link for {kind}: give the app (labkit.start_app()), a monitor "
            "running a real Prometheus, a port number, or one of {names}"
        ).format(kind=repr(kind), names=", ".join(map(repr, COMPOSE_SERVICES)))
    )


def service_url(service: Any, path: str = "") -> str:
    """The URL of ``path`` on ``service``, as the learner's browser should open it.

    ``service`` is the app, the kit's Prometheus (its monitor), a port number, or a
    docker-compose service name (``"grafana"``, ``"prometheus"``). Through the
    Jupyter server when the kernel runs under one with jupyter-server-proxy;
    otherwise the direct address on this machine.
    """
    path = path.lstrip("/")
    server = proxy_server()
    if isinstance(service, str):
        if service not in COMPOSE_SERVICES:
            raise LabkitError(
                _("unknown service {service}: the named ones are {names}").format(
                    service=repr(service), names=", ".join(map(repr, COMPOSE_SERVICES))
                )
            )
        compose = COMPOSE_SERVICES[service]
        if server is not None:
            return server.url(f"{service}/{path}")
        return f"http://127.0.0.1:{compose.port}{compose.path}{path}"
    prometheus = getattr(service, "server", service)  # a monitor wraps its Prometheus
    if getattr(prometheus, "route_prefix", ""):
        # The kit's Prometheus under a Jupyter server serves under the proxy's path.
        return (server.origin if server else "") + f"{prometheus.route_prefix}/{path}"
    port = _port_of(service)
    if server is not None:
        return server.url(f"proxy/{port}/{path}")
    return f"http://127.0.0.1:{port}/{path}"


@dataclass(frozen=True)
class Link:
    """One page to open: what it is, and its URL."""

    label: str
    url: str

    def __str__(self) -> str:
        return self.url

    def _repr_html_(self) -> str:
        url = html.escape(self.url, quote=True)
        return f'<a href="{url}" target="_blank" rel="noopener">{html.escape(self.label)}</a>'


class Links(list):
    """Links shown as clickable rows in Jupyter, and as "label: url" lines elsewhere."""

    def __init__(self, items: list[Link], note: str) -> None:
        super().__init__(items)
        self.note = note

    def __str__(self) -> str:
        width = max((display_width(link.label) for link in self), default=0)
        lines = [
            f"{link.label}{' ' * (width - display_width(link.label))}  {link.url}" for link in self
        ]
        return "\n".join([*lines, self.note])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{link._repr_html_()}</td><td><code>{html.escape(link.url)}</code></td></tr>"
            for link in self
        )
        return f"<table>{rows}</table><p><small>{html.escape(self.note)}</small></p>"


def _note() -> str:
    server = jupyter_server()
    if server is None:
        return _("Direct addresses: this kernel runs under no Jupyter server, so they open here.")
    if not server_proxy_installed():
        return _(
            "jupyter-server-proxy is missing, so these are direct addresses that open only on "
            "the kernel's machine. Fix: pip install jupyter-server-proxy, then restart Jupyter."
        )
    if server.hosted:
        return _("Served through this hosted session's Jupyter server (jupyter-server-proxy).")
    return _("Served through this Jupyter server (jupyter-server-proxy).")


def links(app: Any = None, monitor: Any = None, *, compose: bool | None = None) -> Links:
    """The pages worth opening: the app's docs, pool status and metrics, Prometheus's UI.

    ``monitor`` adds Prometheus's pages when it runs a real Prometheus (the in-kernel
    scraper has none). ``compose`` adds the docker-compose Grafana and Prometheus; by
    default, when Docker is installed here (there is no compose on Binder or a hub).
    """
    if compose is None:
        compose = shutil.which("docker") is not None
    items = []
    if app is not None:
        items += [
            Link(_("example app: API docs"), service_url(app, "/docs")),
            Link(_("example app: /pool-status"), service_url(app, "/pool-status")),
            Link(_("example app: /metrics"), service_url(app, "/metrics")),
        ]
    if monitor is not None and getattr(monitor, "kind", "") == "prometheus":
        items += [
            Link(_("Prometheus: graph"), service_url(monitor, "/graph")),
            Link(_("Prometheus: alerts"), service_url(monitor, "/alerts")),
        ]
    if compose:
        items += [Link(_(spec.title), service_url(name)) for name, spec in COMPOSE_SERVICES.items()]
    return Links(items, _note())
