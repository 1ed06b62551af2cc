"""An exhausted pool: 503 + Retry-After with an acquire timeout; a queue without one."""

from __future__ import annotations

import asyncio
import time

import asyncpg
import httpx
import pytest

from labkit.app.engine import AcquireTimeoutPool

HOLD_MS = 600


async def _burst(app, path: str, n: int, ms: int = HOLD_MS) -> list[tuple[httpx.Response, float]]:
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        started = time.perf_counter()

        async def one() -> tuple[httpx.Response, float]:
            response = await client.get(path, params={"ms": ms})
            return response, time.perf_counter() - started

        return await asyncio.gather(*(one() for _ in range(n)))


def test_with_acquire_timeout_surplus_requests_get_503_fast(start_app):
    app = start_app(maxsize=2, acquire_timeout=0.2)
    results = asyncio.run(_burst(app, "/lab/hold", 6))
    ok = [elapsed for r, elapsed in results if r.status_code == 200]
    refused = [(r, elapsed) for r, elapsed in results if r.status_code == 503]
    assert len(ok) == 2 and len(refused) == 4
    # Fast means: after the 0.2 s acquire timeout, before any connection came free
    # (the two 200s hold theirs HOLD_MS). Ordered against the 200s, not against a
    # clock, so a busy machine delays both sides alike.
    first_free = min(ok)
    for response, elapsed in refused:
        assert 0.2 <= elapsed < first_free, (
            f"503 after {elapsed:.3f} s, first 200 {first_free:.3f} s"
        )
        assert response.headers["Retry-After"] == "1"
        assert "pool exhausted" in response.json()["detail"]


def test_without_acquire_timeout_requests_queue_and_all_finish(start_app):
    app = start_app(maxsize=2, acquire_timeout=None)
    results = asyncio.run(_burst(app, "/lab/hold", 6, ms=300))
    assert [r.status_code for r, _ in results] == [200] * 6
    slowest = max(elapsed for _, elapsed in results)
    assert slowest >= 3 * 0.3 - 0.05  # three waves of two


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/lab/hold-in-transaction?ms=10", None),
        ("POST", "/users", {"email": "blocked@example.org", "name": "Blocked"}),
        ("GET", "/lab/ping-db", None),
    ],
)
def test_acquire_timeout_covers_every_orm_path(start_app, method, path, body):
    app = start_app(maxsize=1, acquire_timeout=0.2)

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            hog = asyncio.create_task(client.get("/lab/hold", params={"ms": 1500}))
            while (await client.get("/pool-status")).json()["in_use"] < 1:
                await asyncio.sleep(0.01)
            response = await client.request(method, path, json=body)
            await hog
            return response

    response = asyncio.run(scenario())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "1"


def test_release_does_not_reuse_the_short_acquire_timeout(database):
    """asyncpg applies the acquire timeout to the release's reset unless told otherwise.

    A reset slower than the acquire timeout makes plain asyncpg close a healthy
    connection; our pool keeps it.
    """

    async def slow_reset(connection):
        await asyncio.sleep(0.3)
        await connection.execute(connection.get_reset_query())

    async def backend_pids(pool: asyncpg.Pool) -> tuple[list[int], int]:
        pids, failed_releases = [], 0
        for _ in range(3):
            conn = await pool.acquire(timeout=0.1)
            pids.append(await conn.fetchval("SELECT pg_backend_pid()"))
            try:
                await pool.release(conn)
            except asyncio.TimeoutError:
                failed_releases += 1
        return pids, failed_releases

    async def scenario():
        plain = await asyncpg.create_pool(database.dsn, min_size=1, max_size=1, reset=slow_reset)
        ours = await AcquireTimeoutPool(
            database.dsn, min_size=1, max_size=1, reset=slow_reset, acquire_timeout=0.1
        )
        try:
            return await backend_pids(plain), await backend_pids(ours)
        finally:
            plain.terminate()
            ours.terminate()

    (plain_pids, plain_failures), (our_pids, our_failures) = asyncio.run(scenario())
    # Plain asyncpg cut each reset at 0.1 s and threw the connection away...
    assert plain_failures == 3 and len(set(plain_pids)) == 3
    # ...ours let the reset finish and reused one healthy connection throughout.
    assert our_failures == 0 and len(set(our_pids)) == 1
