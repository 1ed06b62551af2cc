"""Where the graders mount a learner's handler, and clean up after it."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, HTTPException, Request
from tortoise import connections

from labkit.app.http_errors import ErrorMessage

router = APIRouter(prefix="/exercise", tags=["exercises"])


@router.get(
    "/run",
    responses={
        404: {"model": ErrorMessage, "description": "No exercise handler is mounted."},
        500: {"model": ErrorMessage, "description": "The learner's handler raised."},
    },
)
async def run_exercise(request: Request, fail: bool = False) -> dict:
    """Call the learner's ``handler(pool, fail)``; an exception is the expected 500."""
    handler = getattr(request.app.state, "exercise", None)
    if handler is None:
        raise HTTPException(404, detail="no exercise handler is mounted")
    try:
        await handler(connections.get("default").pool, fail)
    except Exception as exc:  # the learner's failure path: report it, keep serving
        raise HTTPException(500, detail=f"{type(exc).__name__}: {exc}") from exc
    return {"ok": True}


@router.post("/cleanup")
async def cleanup() -> dict:
    """Roll back and release every connection still out of the pool."""
    pool = connections.get("default").pool
    released = 0
    for proxy, _since in list(pool.checkouts.values()):
        try:
            if proxy.is_in_transaction():
                await proxy.execute("ROLLBACK")
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
            pass  # a connection the server closed: release() still takes it back
        await pool.release(proxy)
        released += 1
    return {"released": released}
