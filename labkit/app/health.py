"""Whether the database answers, as the app last saw it, and the 503 it answers while not.

When PostgreSQL stops, restarts or is killed, every request that needs it fails with
one of a handful of errors: the connection is refused (nothing listens), the server
says it is starting up or shutting down, or it ends the sessions it had
("terminating connection due to administrator command"). None of these is the
client's fault and none is a bug, so the app answers **503 with Retry-After** and
logs **one line per change of state** (down, back), never a traceback per request.

While the database is down a small probe connects once every
:data:`PROBE_INTERVAL_S`; the first connection that succeeds marks it back. The pool
heals by itself: asyncpg notices the closed connections and opens new ones on the
next ``acquire()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

log = logging.getLogger("labkit.app")

PROBE_INTERVAL_S = 0.25
RETRY_AFTER_S = 1

# What a request meets while the server is gone, starting or stopping. Each is a
# class of failure in reaching the database, not in what the request asked for.
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionError,  # ConnectionRefusedError, ConnectionResetError: nothing listens
    asyncpg.CannotConnectNowError,  # "the database system is starting up / shutting down"
    asyncpg.AdminShutdownError,  # "terminating connection due to administrator command"
    asyncpg.CrashShutdownError,  # another backend crashed; the server restarts
    asyncpg.PostgresConnectionError,  # "connection was closed in the middle of operation"
    asyncpg.TooManyConnectionsError,  # "sorry, too many clients already"
)


def is_unavailable(exc: BaseException) -> bool:
    """Is ``exc`` the database being unreachable (rather than a bad query or a bug)?"""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        return True
    # asyncpg raises a bare InterfaceError for a connection the server already closed.
    return isinstance(exc, asyncpg.InterfaceError) and "connection is closed" in str(exc)


@dataclass
class DatabaseHealth:
    """The database's state as the app sees it: ``"reachable"`` or ``"unreachable"``."""

    # Connects once and raises if the database is away; set when the pool exists.
    probe: Callable[[], Awaitable[None]] | None = None
    state: str = "reachable"
    reason: str = ""
    since: float = 0.0  # time.monotonic() of the last change
    _probing: asyncio.Task | None = None

    def mark_down(self, exc: BaseException) -> None:
        """A request could not reach the database: log once, and start probing for its return."""
        if self.state == "unreachable":
            return
        self.state, self.since = "unreachable", time.monotonic()
        self.reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
        log.warning("database unreachable (%s); answering 503 until it is back", self.reason)
        if self.probe is not None:
            self._probing = asyncio.create_task(self._probe_until_back())

    def mark_up(self) -> None:
        """The database answered again: log once, with how long it was away."""
        if self.state == "reachable":
            return
        away = time.monotonic() - self.since
        self.state, self.reason, self.since = "reachable", "", time.monotonic()
        log.warning("database reachable again after %.1f s", away)

    async def _probe_until_back(self) -> None:
        while self.state == "unreachable":
            await asyncio.sleep(PROBE_INTERVAL_S)
            try:
                await self.probe()
            except Exception as exc:  # still away; say nothing more than the first line did
                if not is_unavailable(exc):
                    log.debug("probe failed: %r", exc)
                continue
            self.mark_up()

    async def confirms_down(self) -> bool:
        """Probe now: True if the database does not answer (or cannot be asked yet)."""
        if self.probe is None:
            return False
        try:
            await self.probe()
        except Exception as exc:
            return is_unavailable(exc) or isinstance(exc, OSError | asyncio.TimeoutError)
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        """As a filter on asyncpg's pool logger: drop its retry tracebacks while we are down.

        asyncpg 0.32 reopens ``min_size`` connections in the background and logs a
        warning with a traceback at every failed try; our own line already said the
        database is unreachable, and says when it is back.
        """
        return not (self.state == "unreachable" and "connection floor" in record.getMessage())

    async def close(self) -> None:
        logging.getLogger("asyncpg.pool").removeFilter(self)
        if self._probing is not None:
            self._probing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probing

    def as_dict(self) -> dict:
        """What /pool-status adds to the pool's own state."""
        return {"database": self.state, "database_error": self.reason or None}


def install(app: FastAPI, health: DatabaseHealth) -> None:
    """Answer 503 + Retry-After for every request that meets an unreachable database."""
    logging.getLogger("asyncpg.pool").addFilter(health)

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        health.mark_down(exc)
        return JSONResponse(
            status_code=503,
            content={"detail": f"database unavailable: {health.reason or exc}"},
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    for error in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error, unavailable)

    async def client_error(request: Request, exc: Exception) -> JSONResponse:
        # asyncpg's own errors about a connection ("connection is closed", "cannot switch
        # to state 12; another operation is in progress") also follow a server that went
        # away mid-query, but they can be bugs too. Ask the database: if it does not
        # answer, this is the outage (503); if it does, a real bug (a 500 and its traceback).
        if is_unavailable(exc) or await health.confirms_down():
            return await unavailable(request, exc)
        raise exc

    app.add_exception_handler(asyncpg.InterfaceError, client_error)
    app.add_exception_handler(asyncpg.InternalClientError, client_error)
