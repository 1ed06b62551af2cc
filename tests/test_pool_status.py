"""/pool-status tells the truth: checked against held connections and pg_stat_activity."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from conftest import wait_until

from labkit.infra.sessions import app_sessions, fetch_sessions

MAXSIZE = 4
HOLD_MS = 1500


async def _hold_and_read(app, holders: int) -> tuple[dict, int]:
    """Start ``holders`` concurrent /lab/hold requests; read the pool while they hold."""
    async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
        holds = [
            asyncio.create_task(client.get("/lab/hold", params={"ms": HOLD_MS}))
            for _ in range(holders)
        ]
        in_use_target = min(holders, MAXSIZE)
        waiting_target = max(0, holders - MAXSIZE)

        status: dict = {}

        async def settled() -> bool:
            status.update((await client.get("/pool-status")).json())
            return status["in_use"] == in_use_target and status["waiting"] == waiting_target

        # Keep the reading that settled, not a later one: a busy machine may take a
        # while to get every request in, and the holds end HOLD_MS after they began.
        await wait_until(settled, timeout=HOLD_MS / 1000 * 0.8)
        backends = len(await fetch_sessions(app.database.dsn, app.application_name))
        responses = await asyncio.gather(*holds)
    assert all(r.status_code == 200 for r in responses)
    return status, backends


@pytest.mark.parametrize("held", range(MAXSIZE + 1))
def test_in_use_equals_held_and_size_equals_backends(start_app, held):
    app = start_app(minsize=1, maxsize=MAXSIZE)
    status, backends = asyncio.run(_hold_and_read(app, held))
    assert status["in_use"] == held
    assert status["waiting"] == 0
    assert status["size"] == backends
    assert status["idle"] == status["size"] - held
    assert (status["min_size"], status["max_size"]) == (1, MAXSIZE)


@pytest.mark.parametrize("surplus", [1, 3])
def test_waiting_equals_the_surplus_over_maxsize(start_app, surplus):
    app = start_app(maxsize=MAXSIZE)
    status, backends = asyncio.run(_hold_and_read(app, MAXSIZE + surplus))
    assert status["in_use"] == MAXSIZE
    assert status["waiting"] == surplus
    assert status["size"] == backends == MAXSIZE


def test_minsize_connections_are_open_before_the_first_request(start_app):
    app = start_app(minsize=3, maxsize=5)
    status = app.pool_status()
    assert status["size"] == 3
    assert len(app_sessions(app)) == 3
