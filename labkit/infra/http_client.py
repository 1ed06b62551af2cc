"""A minimal HTTP/1.1 client for the load generator: GET only, keep-alive, no TLS.

Why not httpx? The app, the load generator and the kernel share one process and
its GIL on a 2-core machine. httpx's AsyncClient spends several times more CPU
per request than these few lines do, so with httpx the *client* becomes the
bottleneck well before the pool does (``benchmarks/load_ceiling.py`` measures
both side by side). Everything else in labkit uses httpx.

It speaks just enough HTTP/1.1 for our own app on 127.0.0.1: a request line,
a Host header, keep-alive, and responses framed by Content-Length or chunked.
A URL with ``user:password@`` (the app on a shared host, see
:mod:`labkit.infra.access`) adds an ``Authorization: Basic`` header, as httpx does.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from labkit.infra.access import basic_authorization, split_credentials


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
        bare, credentials = split_credentials(base_url)
        url = urlsplit(bare)
        if url.scheme != "http" or not url.hostname:
            raise ValueError(f"expected a plain http:// URL, got {bare!r}")
        self.host = url.hostname
        self.port = url.port or 80
        # Built once: the same header goes with every request on this connection.
        self._extra_headers = (
            f"Authorization: {basic_authorization(*credentials)}\r\n" if credentials else ""
        )
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, params: dict | None = None) -> Response:
        """Send one GET and read the whole response. Reconnects if the server closed."""
        target = f"{path}?{urlencode(params)}" if params else path
        request = (
            f"GET {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self._extra_headers}\r\n"
        ).encode()
        reused = await self._connect()
        try:
            return await self._exchange(request)
        except _ClosedBeforeAnswering:
            if not reused:
                raise HTTPProtocolError(
                    f"{self.host}:{self.port} closed the connection without answering"
                ) from None
        # The server closed this kept-alive connection while it sat idle (uvicorn does
        # after 5 s), before our request reached it. A GET is safe to send again, once.
        await self._connect()
        try:
            return await self._exchange(request)
        except _ClosedBeforeAnswering:
            raise HTTPProtocolError(
                f"{self.host}:{self.port} closed the connection without answering"
            ) from None

    async def _exchange(self, request: bytes) -> Response:
        """Write one request on the open connection and read its response."""
        assert self._writer is not None
        try:
            self._writer.write(request)
            response, closing = await self._read_response()
        except BaseException:
            # A request cut short (timeout, cancel) leaves the stream mid-response.
            await self.close()
            raise
        if closing:
            await self.close()
        return response

    async def _connect(self) -> bool:
        """Open a connection unless one is open; True if an open one is reused."""
        if self._writer is not None and not self._writer.is_closing():
            return True
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return False

    async def _read_response(self) -> tuple[Response, bool]:
        """The next response, and whether the server closes the connection after it."""
        assert self._reader is not None
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _ClosedBeforeAnswering from None
            raise HTTPProtocolError(
                f"the server closed the connection mid-header: {exc.partial!r}"
            ) from None
        except ConnectionResetError:
            raise _ClosedBeforeAnswering from None
        except asyncio.LimitOverrunError:
            raise HTTPProtocolError("the response's header is too long") from None
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not _is_number(parts[1]):
            raise HTTPProtocolError(f"not an HTTP/1.x status line: {status_line!r}")
        status = int(parts[1])
        headers = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        closing = "close" in _tokens(headers.get("connection", ""))
        try:
            if status in NO_BODY_STATUSES:
                body = b""
            elif _tokens(headers.get("transfer-encoding", ""))[-1:] == ["chunked"]:
                body = await self._read_chunked()
            elif "content-length" in headers:
                body = await self._reader.readexactly(_content_length(headers["content-length"]))
            else:
                # Neither framing: the body runs until the server closes (RFC 9112 6.3).
                body, closing = await self._reader.read(), True
        except asyncio.IncompleteReadError as exc:
            raise HTTPProtocolError(
                f"the server closed the connection mid-body, after {len(exc.partial)} bytes "
                f"of a {status} response"
            ) from None
        return Response(status=status, headers=headers, body=body), closing

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        chunks = []
        while True:
            size_line = await self._reader.readuntil(b"\r\n")
            size_field = size_line.split(b";")[0].strip()  # ";name=value": chunk extensions
            try:
                size = int(size_field, 16)
            except ValueError:
                raise HTTPProtocolError(f"not a chunk size: {size_line!r}") from None
            if size == 0:
                break
            chunk = await self._reader.readexactly(size + 2)  # data + CRLF
            chunks.append(chunk[:-2])
        # Trailer fields, if any, then the empty line that ends the message: all must
        # be read, or they would be taken for the start of the next response.
        while await self._reader.readuntil(b"\r\n") != b"\r\n":
            pass
        return b"".join(chunks)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class _ClosedBeforeAnswering(Exception):
    """The connection ended before the first byte of a response."""


# 1xx, 204 No Content and 304 Not Modified never have a body (RFC 9112 6.3).
NO_BODY_STATUSES = frozenset({*range(100, 200), 204, 304})


def _tokens(value: str) -> list[str]:
    """``"keep-alive, Close"`` -> ``["keep-alive", "close"]``."""
    return [token.strip().lower() for token in value.split(",") if token.strip()]


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _content_length(value: str) -> int:
    if not _is_number(value):
        raise HTTPProtocolError(f"not a Content-Length: {value!r}")
    return int(value)
