"""The article's advice, "set max_inactive_connection_lifetime to 300-600 s", checked.

Against the libraries: what leaving it unset means (asyncpg's default, if Tortoise
passes nothing). Against the path: a lifetime helps only if the pool retires an idle
connection *before* anything on the way (the server's ``idle_session_timeout``, a
proxy, a firewall) closes it. And against asyncpg 0.32: connections at or below
``min_size`` get no inactivity timer at all.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass

import asyncpg

from labkit.infra.blocking import run_blocking
from labkit.labs.article.snippets import ARTICLE_CREDENTIALS
from labkit.labs.article.tortoise_config import (
    article_tortoise_config,
    create_pool_kwargs,
    isolated,
    pool_of,
)
from labkit.messages import _

KEY = "max_inactive_connection_lifetime"


@dataclass(frozen=True)
class IdleLifetimeAdvice:
    """The article's 300-600 s advice, checked against the libraries and the path."""

    asyncpg_default_s: float  # create_pool()'s default, from the installed signature
    tortoise_names_it: bool  # does Tortoise's asyncpg client mention the key anywhere?
    passed_when_unset: bool  # did Tortoise pass it to create_pool() when the config omits it?
    article_value_s: float  # the article's own config
    idle_timeouts_s: dict[str, float]  # idle timeouts on the path that are on (0 = off: left out)
    advice_s: tuple[float, ...]
    minsize: int  # the article's floor
    burst_opened: int | None  # measured: connections a burst of queries opened ...
    floor_kept: int | None  # ... and how many stayed once the idle ones were retired

    @property
    def unset_means_s(self) -> float | None:
        """The lifetime a pool gets when the config leaves it out (None: Tortoise sets one)."""
        return None if self.passed_when_unset else self.asyncpg_default_s

    @property
    def shortest(self) -> tuple[str, float] | None:
        """The shortest idle timeout on the path, or None if nothing closes idle sessions."""
        if not self.idle_timeouts_s:
            return None
        name = min(self.idle_timeouts_s, key=self.idle_timeouts_s.__getitem__)
        return name, self.idle_timeouts_s[name]

    def safe(self, lifetime_s: float) -> bool:
        """The advice's condition: the pool retires idle connections before the path does.

        It holds for connections above ``minsize`` only: the floor is never retired.
        """
        shortest = self.shortest
        return shortest is None or 0 < lifetime_s < shortest[1]


def evaluate_idle_lifetime_advice(
    dsn: str,
    path_timeouts_s: dict[str, float] | None = None,
    advice_s: tuple[float, ...] = (300.0, 600.0),
    measure_floor: bool = True,
) -> IdleLifetimeAdvice:
    """Check the article's 300-600 s against asyncpg's default and the idle timeouts on
    the path: the server's ``idle_session_timeout`` (read from ``dsn``) plus any you give,
    e.g. ``{"proxy": 240}`` (seconds; 0 means off).

    With ``measure_floor`` the article's config runs once more with a 0.3 s lifetime:
    five queries at once open five connections, and we count how many stay open once
    the idle ones are retired (about a second).
    """
    given = dict(path_timeouts_s or {})
    for name, seconds in given.items():
        if seconds < 0:
            raise ValueError(
                _("{name}: an idle timeout is >= 0 seconds (0 = off), got {seconds}").format(
                    name=name, seconds=seconds
                )
            )
    return run_blocking(_evaluate(dsn, given, tuple(advice_s), measure_floor))


async def _evaluate(
    dsn: str, given: dict[str, float], advice_s: tuple[float, ...], measure_floor: bool
) -> IdleLifetimeAdvice:
    import tortoise.backends.asyncpg.client as asyncpg_client
    import tortoise.backends.base_postgres.client as base_client

    default = inspect.signature(asyncpg.create_pool).parameters[KEY].default
    names_it = any(KEY in inspect.getsource(module) for module in (asyncpg_client, base_client))
    async with isolated(article_tortoise_config(dsn, drop=(KEY,))) as context:
        await context.connections.get("default").execute_query("SELECT 1")
        passed = KEY in create_pool_kwargs(context)
    timeouts = {"server idle_session_timeout": await _server_idle_session_timeout_s(dsn), **given}
    opened, kept = await _floor(dsn) if measure_floor else (None, None)
    return IdleLifetimeAdvice(
        asyncpg_default_s=default,
        tortoise_names_it=names_it,
        passed_when_unset=passed,
        article_value_s=ARTICLE_CREDENTIALS[KEY],
        idle_timeouts_s={name: s for name, s in timeouts.items() if s > 0},
        advice_s=advice_s,
        minsize=ARTICLE_CREDENTIALS["minsize"],
        burst_opened=opened,
        floor_kept=kept,
    )


async def _server_idle_session_timeout_s(dsn: str) -> float:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:  # pg_settings gives it in its unit (ms); the row is missing before PostgreSQL 14
        setting = await conn.fetchval(
            "SELECT setting::float FROM pg_settings WHERE name = 'idle_session_timeout'"
        )
    finally:
        await conn.close()
    return (setting or 0.0) / 1000


async def _floor(dsn: str, lifetime_s: float = 0.3, burst: int = 5) -> tuple[int, int]:
    """Open ``burst`` connections at once, let them idle past ``lifetime_s``, count again."""
    async with isolated(article_tortoise_config(dsn, **{KEY: lifetime_s})) as context:
        client = context.connections.get("default")
        await asyncio.gather(*(client.execute_query("SELECT pg_sleep(0.1)") for _ in range(burst)))
        pool = pool_of(context)
        opened = pool.get_size()
        deadline = time.monotonic() + lifetime_s + 5  # generous: the machine may be busy
        while pool.get_size() > pool.get_min_size() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.sleep(3 * lifetime_s)  # three more lifetimes: does the floor stay?
        return opened, pool.get_size()
