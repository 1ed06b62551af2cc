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

An optional ``address_file`` credential names the embedded server's state file:
every new connection then reads the server's current port and password from it,
so an app keeps working when the server comes back on another port.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
from tortoise.backends.asyncpg.client import AsyncpgDBClient

from labkit.app.health import UNAVAILABLE_ERRORS, is_unavailable

log = logging.getLogger("labkit.app")

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
        try:
            await super().release(
                connection, timeout=self.release_timeout if timeout is None else timeout
            )
        except (asyncpg.InternalClientError, *UNAVAILABLE_ERRORS, asyncpg.InterfaceError) as exc:
            if isinstance(exc, asyncpg.InterfaceError) and not is_unavailable(exc):
                raise  # misuse (a connection of another pool, say): a real bug
            # The reset that release() runs failed because the connection broke under it
            # (the server shut down mid-query). asyncpg has already terminated it, freed
            # its slot and opens a new one on the next acquire. Raising here would hide
            # the error that broke it (a 503) behind this one (a 500).
            log.debug("connection lost while being returned to the pool: %r", exc)


class LabAsyncpgClient(AsyncpgDBClient):
    """Tortoise's asyncpg client, with an acquire timeout and a public ``pool``."""

    def __init__(
        self, acquire_timeout: float | None = None, address_file: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.acquire_timeout = acquire_timeout
        self.address_file = Path(address_file) if address_file else None
        self._connect_kwargs: dict[str, Any] = {}
        self._moved_to: int | None = None

    async def create_pool(self, **kwargs: Any) -> asyncpg.Pool:
        # What a connection needs (host, user, server_settings...), without the pool's own knobs.
        self._connect_kwargs = {k: v for k, v in kwargs.items() if k not in _POOL_ONLY}
        return await AcquireTimeoutPool(
            None, acquire_timeout=self.acquire_timeout, connect=self.connect, **kwargs
        )

    async def connect(self, *args: Any, **kwargs: Any) -> asyncpg.Connection:
        """Open one connection (the pool calls this), at the database's current address."""
        if self.address_file is not None:
            kwargs.update(self._current_address(kwargs.get("port")))
        return await asyncpg.connect(*args, **kwargs)

    def _current_address(self, configured_port: int | None) -> dict[str, Any]:
        from labkit.infra.embedded.state import read_state

        state = read_state(self.address_file)
        if not state.port:  # no state file (yet): keep what we were given
            return {}
        if state.port != configured_port and state.port != self._moved_to:
            log.warning(
                "the database moved from port %s to %s; new connections go there",
                configured_port,
                state.port,
            )
            self._moved_to = state.port
        return {"port": state.port, "password": state.password}

    async def probe(self) -> None:
        """Connect once and close again: raises if the database does not answer."""
        kwargs = {**self._connect_kwargs, "timeout": 2}
        settings = dict(kwargs.get("server_settings") or {})
        settings["application_name"] = f"{settings.get('application_name', 'labkit')}-probe"[:63]
        conn = await self.connect(**{**kwargs, "server_settings": settings})
        await conn.close()

    @property
    def pool(self) -> asyncpg.Pool | None:
        """The live asyncpg pool, or None before the first connection."""
        return self._pool


# asyncpg.Pool's own parameters; everything else it hands to connect().
_POOL_ONLY = {
    "min_size",
    "max_size",
    "max_queries",
    "max_inactive_connection_lifetime",
    "setup",
    "init",
    "reset",
    "loop",
    "connection_class",
    "record_class",
}


client_class = LabAsyncpgClient
