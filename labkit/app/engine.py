"""A Tortoise engine whose pool has an acquire timeout.

Tortoise waits forever when its pool is exhausted: it calls ``pool.acquire()``
with no timeout on every path (plain queries and transactions alike). Tortoise
looks up ``client_class`` in the engine module named in its config, so we give
it a client that builds an :class:`AcquireTimeoutPool`; every ORM path then
honours the timeout.

Use it in a Tortoise config as ``"engine": "labkit.app.engine"`` with an extra
``acquire_timeout`` credential (seconds, or None to wait forever). Note that
Tortoise's own ``timeout`` credential is asyncpg's *connect* timeout, not an
acquire timeout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient

# Returning a connection runs a reset query (ROLLBACK, UNLISTEN, RESET ALL...).
# asyncpg reuses the acquire timeout for that unless told otherwise, and a reset
# cut short after 0.1 s would close a healthy connection. Give it room.
RELEASE_TIMEOUT_S = 10.0


class PoolAcquireTimeout(asyncio.TimeoutError):
    """No pooled connection became free within the acquire timeout.

    asyncpg itself raises a bare ``TimeoutError`` with no message; this subclass
    says what ran out, so the app can answer 503 for it and nothing else.
    """


class _TimedAcquire:
    """What :meth:`AcquireTimeoutPool.acquire` returns: awaitable or ``async with``."""

    __slots__ = ("_connection", "_context", "_pool", "_timeout")

    def __init__(self, pool: AcquireTimeoutPool, timeout: float | None) -> None:
        self._pool = pool
        self._timeout = timeout
        self._context = asyncpg.Pool.acquire(pool, timeout=timeout)

    async def _acquire(self) -> asyncpg.pool.PoolConnectionProxy:
        began = time.perf_counter()
        try:
            connection = await self._context
        except asyncio.TimeoutError as exc:
            self._pool.report_acquire(time.perf_counter() - began, timed_out=True)
            raise PoolAcquireTimeout(
                f"no connection became free within {self._timeout} s "
                f"(all {self._pool.get_max_size()} in use)"
            ) from exc
        self._pool.report_acquire(time.perf_counter() - began, timed_out=False)
        self._pool.checkouts[id(connection)] = (connection, time.monotonic())
        return connection

    def __await__(self):
        return self._acquire().__await__()

    async def __aenter__(self) -> asyncpg.pool.PoolConnectionProxy:
        self._connection = await self._acquire()
        return self._connection

    async def __aexit__(self, *exc: object) -> None:
        await self._pool.release(self._connection)


class AcquireTimeoutPool(asyncpg.Pool):
    """An asyncpg pool whose ``acquire()`` waits at most ``acquire_timeout`` seconds."""

    __slots__ = ("acquire_observer", "acquire_timeout", "checkouts", "release_timeout")

    def __init__(
        self,
        *args: Any,
        acquire_timeout: float | None,
        release_timeout: float = RELEASE_TIMEOUT_S,
        **kwargs: Any,
    ) -> None:
        # Pool() has no defaults of its own; these are asyncpg.create_pool()'s.
        kwargs.setdefault("max_queries", 50000)
        kwargs.setdefault("max_inactive_connection_lifetime", 300.0)
        kwargs.setdefault("connection_class", asyncpg.Connection)
        kwargs.setdefault("record_class", asyncpg.Record)
        kwargs.setdefault("loop", None)
        super().__init__(*args, **kwargs)
        self.acquire_timeout = acquire_timeout
        self.release_timeout = release_timeout
        # id(proxy) -> (proxy, when it was checked out); a leak detector reads the ages
        self.checkouts: dict[int, tuple[Any, float]] = {}
        # Called as observer(waited_s, timed_out) after every acquire (metrics hook in here).
        self.acquire_observer: Callable[[float, bool], None] | None = None

    def report_acquire(self, waited_s: float, *, timed_out: bool) -> None:
        if self.acquire_observer is not None:
            self.acquire_observer(waited_s, timed_out)

    def acquire(self, *, timeout: float | None = None) -> _TimedAcquire:  # type: ignore[override]
        return _TimedAcquire(self, self.acquire_timeout if timeout is None else timeout)

    def checkout_ages(self) -> dict[int, float]:
        """Seconds each checked-out connection (by backend pid) has been out of the pool."""
        now, ages = time.monotonic(), {}
        for key, (proxy, since) in list(self.checkouts.items()):
            try:
                ages[proxy.get_server_pid()] = now - since
            except asyncpg.InterfaceError:
                # asyncpg gave it back by itself: the server closed the connection.
                del self.checkouts[key]
        return ages

    async def release(self, connection: Any, *, timeout: float | None = None) -> None:
        self.checkouts.pop(id(connection), None)
        await super().release(
            connection, timeout=self.release_timeout if timeout is None else timeout
        )


class LabAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client, with an acquire timeout and a public ``pool``."""

    def __init__(self, acquire_timeout: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.acquire_timeout = acquire_timeout

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        return await AcquireTimeoutPool(None, acquire_timeout=self.acquire_timeout, **kwargs)

    @property
    def pool(self) -> asyncpg.Pool | None:
        """The live asyncpg pool, or None before the first connection."""
        return self._pool


client_class = LabAsyncpgClient
