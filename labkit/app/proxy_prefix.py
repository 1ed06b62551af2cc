"""The app behind jupyter-server-proxy: learn the path prefix from the proxy, per request.

jupyter-server-proxy serves the app at ``<base_url>proxy/<port>/`` and strips that
prefix before forwarding, so the app sees ``/docs``. FastAPI's docs page then asks
the browser to fetch ``/openapi.json``, from the *Jupyter server's* root, where it
does not exist: "Failed to load API definition", the well-known ``root_path``
pitfall. The proxy tells us its prefix in ``X-Forwarded-Prefix``; this middleware
makes it the request's ``root_path``, as uvicorn's ``--root-path`` would, but only
for requests that came through the proxy. Direct requests keep working unchanged.

Only loopback peers are believed (the proxy runs on this machine); the prefix must
look like a URL path, because FastAPI writes it into the docs page's HTML.
"""

from __future__ import annotations

import ipaddress
import re

from starlette.types import ASGIApp, Receive, Scope, Send

HEADER = b"x-forwarded-prefix"
# Characters of a URL path: no quotes, angle brackets or spaces to end up in HTML.
SAFE_PREFIX = re.compile(r"/[A-Za-z0-9._~%!$&()*+,;=:@/-]*")


def _from_loopback(scope: Scope) -> bool:
    client = scope.get("client")
    if not client:
        return False
    try:
        return ipaddress.ip_address(client[0]).is_loopback
    except ValueError:
        return False


def forwarded_prefix(scope: Scope) -> str | None:
    """The proxy's path prefix for this request ("/proxy/40123"), or None."""
    if scope["type"] not in ("http", "websocket") or not _from_loopback(scope):
        return None
    for name, value in scope.get("headers", []):
        if name == HEADER:
            prefix = value.decode("latin-1").rstrip("/")
            if prefix and SAFE_PREFIX.fullmatch(prefix):
                return prefix
    return None


class ProxyPrefixMiddleware:
    """Sets ``root_path`` (and prefixes ``path``) from ``X-Forwarded-Prefix``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        prefix = forwarded_prefix(scope)
        if prefix is not None and not scope.get("root_path"):
            # The ASGI convention uvicorn follows: path includes root_path, and the
            # router strips it again, so routes match as they do without a proxy.
            scope = dict(scope)
            scope["root_path"] = prefix
            scope["path"] = prefix + scope["path"]
            if scope.get("raw_path") is not None:
                scope["raw_path"] = prefix.encode() + scope["raw_path"]
        await self.app(scope, receive, send)
