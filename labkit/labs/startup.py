"""Notebook 00's lab: when does a Tortoise pool open its connections?

>>> lazy = lazy_pool(app.database.dsn, minsize=2, maxsize=5)   # doctest: +SKIP
>>> lazy.after_init, lazy.after_first_query                      # doctest: +SKIP
(0, 2)

Plain Tortoise opens its pool **lazily**: ``Tortoise.init()`` only records the
configuration, and the pool (with its ``minsize`` connections) is created by the
first query. The kit's example app runs one query at start-up on purpose, so that
its pool is open before the first request; this lab shows plain Tortoise beside it,
counting the sessions PostgreSQL itself sees.
"""

from __future__ import annotations

import secrets
import warnings
from dataclasses import dataclass

from labkit.infra.blocking import run_blocking
from labkit.infra.results import record_result
from labkit.infra.sessions import fetch_sessions

__all__ = ["LazyPool", "lazy_pool"]


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
