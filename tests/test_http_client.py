"""The load generator's HTTP/1.1 client, against a tiny scripted server (no database)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from labkit.infra.http_client import HTTPProtocolError, KeepAliveConnection, Response

HANG_GUARD_S = 10  # a request that never ends fails the test instead of hanging it


@dataclass
class Reply:
    """What the server writes for one request, and whether it closes the connection after."""

    data: bytes
    close: bool = False


def ok(body: bytes = b"ok", *headers: str) -> Reply:
    head = "".join(f"{h}\r\n" for h in headers)
    return Reply(
        b"HTTP/1.1 200 OK\r\n%sContent-Length: %d\r\n\r\n%s" % (head.encode(), len(body), body)
    )


@dataclass
class ScriptedServer:
    """Answers the n-th request it receives with ``replies[n]``, on any connection."""

    replies: list[Reply]
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    closed: asyncio.Event = field(default_factory=asyncio.Event)  # set at each server-side close

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    self.requests.append(await reader.readuntil(b"\r\n\r\n"))
                except (asyncio.IncompleteReadError, ConnectionError):
                    return  # the client closed the connection
                reply = self.replies[len(self.requests) - 1]
                writer.write(reply.data)
                await writer.drain()
                if reply.close:
                    return
        finally:
            writer.close()
            self.closed.set()


async def exchange(replies: list[Reply], *paths: str) -> tuple[ScriptedServer, list[Response]]:
    """GET each path in turn with one client; the server's record and the responses."""
    script = ScriptedServer(replies)
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    conn = KeepAliveConnection(f"http://127.0.0.1:{port}")
    responses = []
    try:
        for path in paths:
            responses.append(await asyncio.wait_for(conn.get(path), HANG_GUARD_S))
    finally:
        await conn.close()
        server.close()
        await server.wait_closed()
    return script, responses


def test_one_connection_serves_several_requests_in_turn():
    replies = [ok(f"answer {i}".encode()) for i in range(5)]
    script, responses = asyncio.run(exchange(replies, *(f"/r/{i}" for i in range(5))))
    assert [r.body for r in responses] == [f"answer {i}".encode() for i in range(5)]
    assert script.connections == 1  # kept alive, not reopened
    assert [r.split(b"\r\n")[0] for r in script.requests] == [
        f"GET /r/{i} HTTP/1.1".encode() for i in range(5)
    ]


def test_query_parameters_are_encoded():
    script, _ = asyncio.run(_get_with_params())
    assert script.requests[0].startswith(
        b"GET /lab/hold?ms=50&note=a+b HTTP/1.1\r\nHost: 127.0.0.1:"
    )


async def _get_with_params() -> tuple[ScriptedServer, Response]:
    script = ScriptedServer([ok()])
    server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
    conn = KeepAliveConnection(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
    try:
        response = await conn.get("/lab/hold", {"ms": 50, "note": "a b"})
    finally:
        await conn.close()
        server.close()
        await server.wait_closed()
    return script, response


def test_content_length_bounds_the_body_even_when_it_looks_like_a_response():
    tricky = b"line\r\n\r\nHTTP/1.1 500 Oops\r\n\r\n"
    script, responses = asyncio.run(
        exchange([ok(tricky, "X-Kind: tricky"), ok(b"next")], "/a", "/b")
    )
    assert responses[0] == Response(
        200, {"x-kind": "tricky", "content-length": str(len(tricky))}, tricky
    )
    assert responses[1].body == b"next"
    assert script.connections == 1


CHUNKED = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\n"  # a chunk extension
    b"1;flag\r\n,\r\n"
    b"4\r\na\r\nb\r\n"  # CRLF inside the data
    b"A\r\n0123456789\r\n"  # upper-case hex
    b"0;last=yes\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"  # trailers after the last chunk
)


def test_chunked_bodies_with_extensions_and_trailers_leave_the_stream_clean():
    script, responses = asyncio.run(exchange([Reply(CHUNKED), ok(b"after")], "/chunked", "/next"))
    assert responses[0].status == 200
    assert responses[0].body == b"hello,a\r\nb0123456789"
    assert responses[1].body == b"after"  # the trailers were read, not taken for a response
    assert script.connections == 1


def test_connection_close_is_honoured_and_the_next_request_reconnects():
    replies = [ok(b"bye", "Connection: close"), ok(b"hello again")]
    replies[0].close = True
    script, responses = asyncio.run(exchange(replies, "/a", "/b"))
    assert [r.body for r in responses] == [b"bye", b"hello again"]
    assert script.connections == 2


def test_a_keep_alive_connection_the_server_closed_while_idle_is_replaced():
    """uvicorn closes a kept-alive connection after 5 s idle, without telling the client."""

    async def scenario() -> tuple[ScriptedServer, list[Response]]:
        script = ScriptedServer([Reply(ok(b"first").data, close=True), ok(b"second")])
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
        conn = KeepAliveConnection(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        try:
            first = await asyncio.wait_for(conn.get("/a"), HANG_GUARD_S)
            await asyncio.wait_for(script.closed.wait(), HANG_GUARD_S)  # closed while idle
            second = await asyncio.wait_for(conn.get("/b"), HANG_GUARD_S)
        finally:
            await conn.close()
            server.close()
            await server.wait_closed()
        return script, [first, second]

    script, responses = asyncio.run(scenario())
    assert [r.body for r in responses] == [b"first", b"second"]
    assert script.connections == 2


def test_bodiless_and_close_delimited_responses():
    no_content = Reply(b"HTTP/1.1 204 No Content\r\n\r\n")
    until_close = Reply(b"HTTP/1.1 200 OK\r\n\r\nall of this, until the server closes", close=True)
    script, responses = asyncio.run(exchange([no_content, until_close, ok()], "/a", "/b", "/c"))
    assert [(r.status, r.body) for r in responses] == [
        (204, b""),
        (200, b"all of this, until the server closes"),
        (200, b"ok"),
    ]
    assert script.connections == 2  # the close-delimited body ended its connection


@pytest.mark.parametrize(
    ("cut", "message"),
    [
        (b"", "without answering"),
        (b"HTTP/1.1 200 OK\r\nContent-Le", "mid-header"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "mid-body, after 3 bytes"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", "mid-body"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", "mid-body"),
    ],
    ids=["nothing", "header", "content-length body", "chunk", "trailer"],
)
def test_a_server_closing_mid_response_is_a_protocol_error_not_a_hang(cut, message):
    async def scenario() -> Response:
        script = ScriptedServer([Reply(cut, close=True), ok(b"recovered")])
        server = await asyncio.start_server(script.handle, "127.0.0.1", 0)
        conn = KeepAliveConnection(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}")
        try:
            with pytest.raises(HTTPProtocolError, match=message):
                await asyncio.wait_for(conn.get("/cut"), HANG_GUARD_S)
            return await asyncio.wait_for(conn.get("/again"), HANG_GUARD_S)  # usable again
        finally:
            await conn.close()
            server.close()
            await server.wait_closed()

    assert asyncio.run(scenario()).body == b"recovered"


@pytest.mark.parametrize(
    "reply",
    [
        b"SMTP ready\r\n\r\n",
        b"HTTP/1.1 abc OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ],
    ids=["not http", "status", "content-length", "chunk size"],
)
def test_malformed_responses_are_protocol_errors(reply):
    with pytest.raises(HTTPProtocolError):
        asyncio.run(exchange([Reply(reply, close=True)], "/x"))


def test_only_plain_http_urls_are_accepted():
    with pytest.raises(ValueError, match="plain http://"):
        KeepAliveConnection("https://127.0.0.1:8000")
