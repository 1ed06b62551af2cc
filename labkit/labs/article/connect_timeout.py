"""The article's fix for an exhausted pool, ``"timeout": 30``, tried.

Tortoise hands ``timeout`` to ``asyncpg.create_pool()``, which passes it to every
``connect()``: it bounds opening a connection, not waiting for a free one.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from labkit.infra.blocking import run_blocking
from labkit.labs.article.evidence import Raised, raised_or_none
from labkit.labs.article.tortoise_config import article_tortoise_config, isolated
from labkit.messages import _


@dataclass(frozen=True)
class TimeoutRun:
    """``timeout`` in Tortoise's credentials, tried on a full pool and on a silent server."""

    timeout_s: float
    bound_s: float  # how long we let the full-pool query wait before stopping it
    full_pool_waited_s: float  # the query on a full pool: how long until it was stopped
    full_pool_error: Raised | None  # ... and what stopped it (our asyncio.wait_for)
    silent_server_waited_s: float  # a connect to a server that never answers
    silent_server_error: Raised | None

    @property
    def full_pool_outlived_timeout(self) -> bool:
        """The query on a full pool was still waiting after ``timeout`` had passed."""
        return self.full_pool_waited_s > self.timeout_s


def run_article_timeout(dsn: str, timeout_s: float = 0.2, bound_s: float = 1.0) -> TimeoutRun:
    """Is the article's ``"timeout"`` an acquire timeout? Two experiments say what it is.

    1. The article's config with ``timeout=timeout_s`` and ``minsize=maxsize=1``, so that
       one open transaction fills the pool: a second query waits for a free connection.
       It would wait forever; ``asyncio.wait_for`` stops it after ``bound_s``.
    2. The same ``timeout`` against a socket that accepts TCP but never speaks
       PostgreSQL: the connect fails after ``timeout_s``.
    """
    if not 0 < timeout_s < bound_s:
        raise ValueError(
            _(
                "need 0 < timeout_s < bound_s (got {timeout_s}, {bound_s}): the full-pool query "
                "must be allowed to outlive the timeout for the experiment to say anything"
            ).format(timeout_s=timeout_s, bound_s=bound_s)
        )
    return run_blocking(_timeouts(dsn, timeout_s, bound_s))


async def _timeouts(dsn: str, timeout_s: float, bound_s: float) -> TimeoutRun:
    full = article_tortoise_config(dsn, minsize=1, maxsize=1, timeout=timeout_s)
    full_error = None
    async with isolated(full) as context:
        client = context.connections.get("default")
        async with in_transaction("default") as held:  # takes the pool's only connection
            await held.execute_query("SELECT 1")
            began = time.perf_counter()
            try:
                await asyncio.wait_for(client.execute_query("SELECT 1"), bound_s)
            except TimeoutError as exc:
                full_error = exc
            full_waited = time.perf_counter() - began
    silent_waited, silent_error = await _connect_to_silent_server(dsn, timeout_s)
    return TimeoutRun(
        timeout_s,
        bound_s,
        full_waited,
        raised_or_none(full_error),
        silent_waited,
        raised_or_none(silent_error),
    )


class _Silent(asyncio.Protocol):
    """Accepts a TCP connection and never says a word (no PostgreSQL handshake)."""

    def __init__(self, accepted: list[asyncio.BaseTransport]) -> None:
        self._accepted = accepted

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._accepted.append(transport)


async def _connect_to_silent_server(dsn: str, timeout_s: float) -> tuple[float, Exception | None]:
    accepted: list[asyncio.BaseTransport] = []
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: _Silent(accepted), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = article_tortoise_config(dsn, host="127.0.0.1", port=str(port), timeout=timeout_s)
    error = None
    try:
        async with isolated(config) as context:
            began = time.perf_counter()
            client = context.connections.get("default")
            query = asyncio.ensure_future(client.execute_query("SELECT 1"))
            # A generous bound that only keeps the lab from hanging; unlike wait_for, it
            # cannot be mistaken for asyncpg's own TimeoutError (it leaves error None).
            await asyncio.wait({query}, timeout=timeout_s + 10)
            waited = time.perf_counter() - began
            if query.done():
                error = query.exception()
            else:
                query.cancel()
    finally:
        server.close()
        for transport in accepted:
            transport.close()
        await server.wait_closed()
    return waited, error
