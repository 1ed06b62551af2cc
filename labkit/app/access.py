"""The app's gate on a shared host: every HTTP request must carry the run's secret.

A small ASGI middleware in front of the whole app (the docs, /metrics and the lab
endpoints alike). It checks HTTP Basic credentials, user ``labkit`` and the
secret as password, and answers anything else with 401 and a
``WWW-Authenticate`` header, so a browser asks for them once.
It never touches the database: a refused request costs the pool nothing, which
is the point — a neighbour cannot leak, hold or even count your connections.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from labkit.infra.access import USERNAME

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

REALM = "Pool Lab example app"


class RequireSecret:
    """Pass a request on only if its Basic credentials are ``labkit`` and ``secret``."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        if not secret:
            raise ValueError("RequireSecret needs a non-empty secret")
        self.app = app
        self._expected = f"{USERNAME}:{secret}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lifespan events come from uvicorn itself, not from a client.
        if scope["type"] not in {"http", "websocket"} or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = b'{"detail":"this app belongs to another session: give its user and password"}'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", f'Basic realm="{REALM}"'.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _allowed(self, scope: Scope) -> bool:
        for name, value in scope.get("headers", []):
            if name == b"authorization":
                scheme, _, token = value.partition(b" ")
                if scheme.lower() != b"basic":
                    return False
                try:
                    given = base64.b64decode(token.strip(), validate=True)
                except (binascii.Error, ValueError):
                    return False
                # Constant time: a timing difference must not reveal the secret bit by bit.
                return secrets.compare_digest(given, self._expected)
        return False
