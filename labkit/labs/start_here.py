"""Notebook 00's experiments: when a pool opens its connections, and requests borrowing them.

>>> lazy = lazy_pool(app.database.dsn, minsize=2, maxsize=5)      # doctest: +SKIP
>>> lazy.after_init, lazy.after_first_query                       # doctest: +SKIP
(0, 2)

>>> reading = hold_connections(app, requests=3, hold_ms=800)   # doctest: +SKIP
>>> reading.peak_in_use, reading.after["idle"]                  # doctest: +SKIP
(3, 3)
"""

from __future__ import annotations

import secrets
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from labkit.infra.blocking import run_blocking
from labkit.infra.results import record_result
from labkit.infra.sessions import fetch_sessions

__all__ = ["HoldReading", "LazyPool", "hold_connections", "lazy_pool"]

EXPERIMENT = "00.hold"  # the name quiz question 00-q4 reads its figure from


@dataclass(frozen=True)
class HoldReading:
    """The pool's state before, during (at the peak) and after requests held connections."""

    requests: int
    hold_ms: int
    before: dict
    during: dict
    after: dict
    statuses: list[int]

    @property
    def peak_in_use(self) -> int:
        """The most connections lent out at once while the requests ran."""
        return self.during["in_use"]


def hold_connections(app, requests: int = 3, hold_ms: int = 800) -> HoldReading:
    """Send ``requests`` concurrent requests that each hold a pooled connection ``hold_ms``,
    read ``/pool-status`` while they run and after, and record the peak ``in_use``.

    The reading polls until every request holds its connection (or they finish), so a
    slow machine still sees the peak instead of a moment before it.
    """
    before = app.pool_status()
    with ThreadPoolExecutor(max_workers=requests) as pool:
        holds = [
            pool.submit(httpx.get, f"{app.url}/lab/hold", params={"ms": hold_ms}, timeout=30)
            for _request in range(requests)
        ]
        during = app.pool_status()
        while during["in_use"] < requests and not all(h.done() for h in holds):
            time.sleep(0.02)
            now = app.pool_status()
            during = now if now["in_use"] >= during["in_use"] else during
        statuses = [h.result().status_code for h in holds]
    after = app.pool_status()
    reading = HoldReading(requests, hold_ms, before, during, after, statuses)
    record_result(
        EXPERIMENT,
        requests=requests,
        hold_ms=hold_ms,
        peak_in_use=reading.peak_in_use,
        size_during=during["size"],
        idle_after=after["idle"],
    )
    return reading


@dataclass(frozen=True)
class LazyPool:
    """Sessions PostgreSQL saw for a plain Tortoise app, before and after its first query."""

    minsize: int
    after_init: int
    after_first_query: int


def lazy_pool(dsn: str, minsize: int = 2, maxsize: int = 5) -> LazyPool:
    """Initialise plain Tortoise on ``dsn``, count its sessions, run one query, count again.

    It runs in an isolated ``TortoiseContext``, so the example app's own Tortoise
    state in this kernel is not touched.
    """
    lazy = run_blocking(_lazy_pool(dsn, minsize, maxsize))
    record_result(
        "00.lazy_pool",
        minsize=minsize,
        after_init=lazy.after_init,
        after_first_query=lazy.after_first_query,
    )
    return lazy


async def _lazy_pool(dsn: str, minsize: int, maxsize: int) -> LazyPool:
    from tortoise.context import TortoiseContext

    name = f"labkit-lazy-{secrets.token_hex(3)}"
    url = f"{dsn.replace('postgresql://', 'asyncpg://', 1)}?minsize={minsize}&maxsize={maxsize}"
    config = {
        "connections": {"default": url},
        # no models of its own: this module defines none, and the example app keeps its own
        "apps": {"lab": {"models": [__name__], "default_connection": "default"}},
    }
    async with TortoiseContext() as context:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*has no models")  # on purpose
            await context.init(config=config)
        client = context.connections.get("default")
        client.server_settings["application_name"] = name
        after_init = len(await fetch_sessions(dsn, name))
        await client.execute_query("SELECT 1")
        after_query = len(await fetch_sessions(dsn, name))
    return LazyPool(minsize, after_init, after_query)
