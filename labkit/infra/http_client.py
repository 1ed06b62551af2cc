"""A minimal HTTP/1.1 client for the load generator: GET only, keep-alive, no TLS.

Why not httpx? The app, the load generator and the kernel share one process and
its GIL on a 2-core machine. httpx's AsyncClient spends several times more CPU
per request than these few lines do, so with httpx the *client* becomes the
bottleneck well before the pool does (``benchmarks/load_ceiling.py`` measures
both side by side). Everything else in labkit uses httpx.

It speaks just enough HTTP/1.1 for our own app on 127.0.0.1: a request line,
a Host header, keep-alive, and responses framed by Content-Length or chunked.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit


class HTTPProtocolError(ConnectionError):
    """The server's answer was not HTTP/1.1 as this client understands it."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes


class KeepAliveConnection:
    """One TCP connection that sends GET requests one after another.

    >>> conn = KeepAliveConnection("http://127.0.0.1:8000")   # doctest: +SKIP
    >>> (await conn.get("/lab/ping-db")).status               # doctest: +SKIP
    200
    """

    def __init__(self, base_url: str) -> None:
        url = urlsplit(base_url)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"expected a plain http:// URL, got {base_url!r}")
        self.host = url.hostname
        self.port = url.port or 80
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, params: dict | None = None) -> Response:
        """Send one GET and read the whole response. Reconnects if the server closed."""
        target = f"{path}?{urlencode(params)}" if params else path
        request = f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n\r\n".encode()
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        self._writer.write(request)
        try:
            response = await self._read_response()
        except BaseException:
            # A request cut short (timeout, cancel) leaves the stream mid-response.
            await self.close()
            raise
        if response.headers.get("connection", "").lower() == "close":
            await self.close()
        return response

    async def _read_response(self) -> Response:
        assert self._reader is not None
        head = await self._reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
            raise HTTPProtocolError(f"not an HTTP/1.x status line: {status_line!r}")
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding", "").lower() == "chunked":
            body = await self._read_chunked()
        else:
            body = await self._reader.readexactly(int(headers.get("content-length", "0")))
        return Response(status=int(parts[1]), headers=headers, body=body)

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size = int((await self._reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await self._reader.readexactly(size + 2)  # data + CRLF
            if size == 0:
                return b"".join(chunks)
            chunks.append(chunk[:-2])

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None
