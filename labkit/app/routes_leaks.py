"""Endpoints that misbehave on purpose, for the leak lab, and the cures beside them.

A *leak* here is a pooled connection that a handler took and never gave back.
The app keeps the leaked connections in ``app.state.leaks`` so that the lab can
look at them, use them, and finally release them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import asyncpg
from fastapi import APIRouter, HTTPException, Query, Request
from tortoise import connections
from tortoise.transactions import in_transaction

from labkit.app.http_errors import UNAVAILABLE_RESPONSE, ErrorMessage

router = APIRouter(prefix="/lab", tags=["leak lab"])
# Leaking waits this long for a free connection, then answers 503: clicking "leak"
# on a pool with no free slot left must not hang the lab.
LEAK_ACQUIRE_TIMEOUT_S = 2.0


@dataclass
class Leak:
    connection: asyncpg.pool.PoolConnectionProxy
    pid: int
    kind: str  # "connection" or "transaction"
    since: float


def _pool():
    return connections.get("default").pool


def _leaks(request: Request) -> list[Leak]:
    return request.app.state.leaks  # set up by the app's lifespan


@router.post("/leak/connection", responses=UNAVAILABLE_RESPONSE)
async def leak_connection(request: Request) -> dict:
    """Acquire a connection and never release it: the handler forgot ``finally``."""
    conn = await _pool().acquire(timeout=LEAK_ACQUIRE_TIMEOUT_S)
    await conn.fetchval("SELECT 1")
    leak = Leak(conn, conn.get_server_pid(), "connection", time.monotonic())
    _leaks(request).append(leak)
    return {"pid": leak.pid, "kind": leak.kind}


@router.post("/leak/transaction", responses=UNAVAILABLE_RESPONSE)
async def leave_transaction_open(request: Request) -> dict:
    """BEGIN, read a table, and never COMMIT or ROLLBACK: 'idle in transaction'."""
    conn = await _pool().acquire(timeout=LEAK_ACQUIRE_TIMEOUT_S)
    await conn.execute("BEGIN")
    await conn.fetchval("SELECT count(*) FROM users")
    leak = Leak(conn, conn.get_server_pid(), "transaction", time.monotonic())
    _leaks(request).append(leak)
    return {"pid": leak.pid, "kind": leak.kind}


@router.get("/leaks")
async def list_leaks(request: Request) -> list[dict]:
    """The leaked connections, and how long each has been out of the pool."""
    now = time.monotonic()
    return [
        {"pid": leak.pid, "kind": leak.kind, "held_s": round(now - leak.since, 3)}
        for leak in _leaks(request)
    ]


@router.get("/checked-out")
async def checked_out() -> list[dict]:
    """Every connection out of the pool right now (leaked or busy), by backend pid."""
    ages = _pool().checkout_ages()
    return [{"pid": pid, "held_s": round(age, 3)} for pid, age in sorted(ages.items())]


@router.post("/leak/use")
async def use_leaked_connections(request: Request) -> list[dict]:
    """Run SELECT 1 on each leaked connection: shows what the app sees after a kill."""
    outcomes = []
    for leak in _leaks(request):
        try:
            await leak.connection.fetchval("SELECT 1")
            outcomes.append({"pid": leak.pid, "ok": True, "error": None})
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            error = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
            outcomes.append({"pid": leak.pid, "ok": False, "error": error})
    return outcomes


async def release_all(leaks: list[Leak]) -> dict:
    """Roll back what is open on each leaked connection, then give it back to the pool."""
    released, errors = 0, []
    while leaks:
        leak = leaks.pop()
        try:
            if leak.connection.is_in_transaction():
                await leak.connection.execute("ROLLBACK")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            errors.append(f"pid {leak.pid}: {type(exc).__name__}: {exc}")
        # release() also copes with a connection the server already closed
        await _pool().release(leak.connection)
        released += 1
    return {"released": released, "errors": errors}


@router.post("/leak/release")
async def release_leaks(request: Request) -> dict:
    """Release everything the leak lab took: the app is healthy again."""
    return await release_all(_leaks(request))


@router.post(
    "/fail-in-transaction",
    responses={
        500: {"model": ErrorMessage, "description": "Always: the deliberate failure."},
        **UNAVAILABLE_RESPONSE,
    },
)
async def fail_in_transaction() -> None:
    """The cure: ``async with in_transaction()`` rolls back and releases even on error."""
    async with in_transaction() as conn:
        await conn.execute_query("SELECT count(*) FROM users")
        raise HTTPException(500, detail="failed half way; the transaction was rolled back")


@router.post("/unclosed-cursor", responses=UNAVAILABLE_RESPONSE)
async def unclosed_cursor() -> dict:
    """Open a server-side cursor and never close it, but release the connection properly.

    The cursor ends with its transaction (and asyncpg's reset on release runs
    CLOSE ALL besides), so an unclosed cursor alone leaks no connection.
    """
    async with _pool().acquire() as conn, conn.transaction():
        cursor = await conn.cursor("SELECT g FROM generate_series(1, 1000) AS g")
        first = await cursor.fetch(10)
    return {"fetched": len(first)}


@router.post("/forget-commit", responses=UNAVAILABLE_RESPONSE)
async def forget_commit(tag: str = Query(pattern=r"^[a-z0-9-]{1,40}$")) -> dict:
    """INSERT inside a transaction, forget COMMIT, but release the connection properly.

    No leak: asyncpg's reset on release sees the open transaction and runs ROLLBACK
    (and asks the event loop to log "Resetting connection with an active transaction").
    The handler answers as if it had saved the row; the row is silently gone.
    """
    conn = await _pool().acquire()
    try:
        await conn.execute("BEGIN")
        await conn.execute(
            "INSERT INTO users (email, name, created_at) VALUES ($1, $2, now())",
            f"{tag}@forgotten-commit.example.org",
            "Forgotten",
        )
        # ... and the handler returns without COMMIT
    finally:
        await _pool().release(conn)
    return {"saved": True, "tag": tag}
