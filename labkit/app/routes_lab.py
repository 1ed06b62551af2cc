"""Endpoints the labs drive: pool state, holding a connection, pooled vs unpooled queries."""

from __future__ import annotations

from dataclasses import replace

import asyncpg
from fastapi import APIRouter, Query, Request
from tortoise import connections
from tortoise.transactions import in_transaction

from labkit.app.http_errors import UNAVAILABLE_RESPONSE
from labkit.pool import PoolStatus, pool_status

router = APIRouter(tags=["lab"])

# The labs hold a connection for at most a second or two. A minute is plenty for
# any experiment; a longer hold would only tie up the pool (and a test run).
MAX_HOLD_MS = 60_000
# Five million rows take about a second; the labs calibrate to ~20 ms (~20,000 rows).
MAX_CPU_ROWS = 5_000_000


def _client():
    return connections.get("default")


@router.get("/pool-status", response_model=PoolStatus)
async def get_pool_status(request: Request) -> PoolStatus:
    """The pool's real state, read through asyncpg's public API.

    ``size`` = ``get_size()``, ``idle`` = ``get_idle_size()``, ``in_use`` = size - idle,
    ``min_size``/``max_size`` = ``get_min_size()``/``get_max_size()``, and ``waiting``
    = requests queued for a free connection (see ``labkit.pool.waiting_count``).
    The source article reads ``pool._size``, which does not exist on an asyncpg Pool,
    and takes ``len(pool._holders)`` for the idle count, but it is always max_size.
    It needs no database connection, so it answers while the database is down, and
    ``database`` says whether the app can reach it.
    """
    return replace(pool_status(_client().pool), **request.app.state.health.as_dict())


@router.get("/lab/hold", responses=UNAVAILABLE_RESPONSE)
async def hold(
    ms: int = Query(ge=0, le=MAX_HOLD_MS, description="how long to hold, in ms"),
) -> dict:
    """Hold one pooled connection for ``ms`` milliseconds inside the database."""
    await _client().execute_query("SELECT pg_sleep($1)", [ms / 1000])
    return {"held_ms": ms}


@router.get("/lab/hold-in-transaction", responses=UNAVAILABLE_RESPONSE)
async def hold_in_transaction(
    ms: int = Query(ge=0, le=MAX_HOLD_MS, description="how long to hold, in ms"),
) -> dict:
    """Like /lab/hold, inside ``async with in_transaction()``: the ORM's transaction path."""
    async with in_transaction() as conn:
        await conn.execute_query("SELECT pg_sleep($1)", [ms / 1000])
    return {"held_ms": ms}


@router.get("/lab/ping-db", responses=UNAVAILABLE_RESPONSE)
async def ping_db() -> dict:
    """One trivial query through the pool."""
    _, rows = await _client().execute_query("SELECT 1 AS one")
    return {"one": rows[0]["one"]}


@router.get("/lab/cpu-work", responses=UNAVAILABLE_RESPONSE)
async def cpu_work(
    rows: int = Query(ge=1, le=MAX_CPU_ROWS, description="how many numbers to hash"),
) -> dict:
    """Real CPU work inside PostgreSQL, no sleeping: md5-hash ``rows`` numbers."""
    _, result = await _client().execute_query(
        "SELECT count(*) AS hits FROM generate_series(1, $1::int) AS g "
        "WHERE md5(g::text) LIKE '0%'",
        [rows],
    )
    return {"rows": rows, "hits": result[0]["hits"]}


@router.get("/lab/unpooled", responses=UNAVAILABLE_RESPONSE)
async def unpooled(request: Request) -> dict:
    """The same query on a connection opened and closed for this request alone."""
    settings = request.app.state.settings
    conn = await asyncpg.connect(
        settings.database_url,
        server_settings={"application_name": settings.application_name},
    )
    try:
        one = await conn.fetchval("SELECT 1")
    finally:
        await conn.close()
    return {"one": one}
