"""'Too many clients': when every worker's pool together wants more connections than
PostgreSQL allows.

Each app worker (a uvicorn/gunicorn process, a replica) has its own pool, and
PostgreSQL counts them all against one ``max_connections``:

    workers × maxsize + reserved ≤ max_connections

>>> connection_budget(workers=4, maxsize=10, max_connections=30)   # doctest: +SKIP
Budget(workers=4, maxsize=10, reserved=0, needed=40, max_connections=30, fits=False)
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import asyncpg

from labkit.infra.blocking import run_blocking
from labkit.infra.results import record_result
from labkit.messages import _

__all__ = [
    "Budget",
    "ServerLimits",
    "TooManyClientsRun",
    "connection_budget",
    "lab_sessions_left",
    "server_limits",
    "too_many_clients_lab",
]

LAB_APPLICATION_NAME = "labkit-too-many-clients"


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int
    reserved: int  # superuser_reserved_connections + reserved_connections
    in_use: int  # client backends connected right now


async def _server_limits(dsn: str) -> ServerLimits:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        max_connections = int(await conn.fetchval("SHOW max_connections"))
        reserved = int(await conn.fetchval("SHOW superuser_reserved_connections"))
        # reserved_connections exists from PostgreSQL 16 on
        extra = await conn.fetchval(
            "SELECT setting::int FROM pg_settings WHERE name = 'reserved_connections'"
        )
        in_use = await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
        )
    finally:
        await conn.close()
    return ServerLimits(max_connections, reserved + (extra or 0), in_use)


def server_limits(dsn: str) -> ServerLimits:
    """max_connections, the reserved slots, and how many clients are connected now."""
    return run_blocking(_server_limits(dsn))


@dataclass(frozen=True)
class Budget:
    workers: int
    maxsize: int
    reserved: int
    max_connections: int

    @property
    def needed(self) -> int:
        return self.workers * self.maxsize + self.reserved

    @property
    def fits(self) -> bool:
        return self.needed <= self.max_connections

    @property
    def largest_maxsize(self) -> int:
        """The largest maxsize per worker that still fits."""
        return (self.max_connections - self.reserved) // self.workers

    def __str__(self) -> str:
        values = dict(
            workers=self.workers,
            maxsize=self.maxsize,
            reserved=self.reserved,
            needed=self.needed,
            max_connections=self.max_connections,
            largest=self.largest_maxsize,
        )
        if self.fits:
            return _(
                "{workers} workers × maxsize {maxsize} + {reserved} reserved = {needed} "
                "connections; max_connections is {max_connections}: fits. "
                "Largest maxsize that fits: {largest}."
            ).format(**values)
        return _(
            "{workers} workers × maxsize {maxsize} + {reserved} reserved = {needed} "
            "connections; max_connections is {max_connections}: does NOT fit. "
            "Largest maxsize that fits: {largest}."
        ).format(**values)


def connection_budget(
    workers: int,
    maxsize: int,
    max_connections: int | None = None,
    reserved: int | None = None,
    dsn: str | None = None,
) -> Budget:
    """Check workers × maxsize + reserved ≤ max_connections (read from ``dsn`` if not given)."""
    if workers < 1 or maxsize < 1:
        raise ValueError(_("workers and maxsize must both be at least 1"))
    if max_connections is None or reserved is None:
        if dsn is None:
            raise ValueError(_("give max_connections and reserved, or a dsn to read them from"))
        limits = server_limits(dsn)
        max_connections = limits.max_connections if max_connections is None else max_connections
        reserved = limits.reserved if reserved is None else reserved
    return Budget(workers, maxsize, reserved, max_connections)


@dataclass(frozen=True)
class TooManyClientsRun:
    budget: Budget
    opened: list[int]  # connections each worker's pool managed to open
    error: BaseException | None

    @property
    def error_text(self) -> str:
        """The error exactly as asyncpg raised it: module, class and message."""
        if self.error is None:
            return _("no error")
        kind = type(self.error)
        return f"{kind.__module__}.{kind.__qualname__}: {self.error}"


def too_many_clients_lab(dsn: str, workers: int = 4, maxsize: int = 10) -> TooManyClientsRun:
    """Open ``workers`` pools of ``min_size = max_size = maxsize`` one after another,
    standing in for app workers, until PostgreSQL refuses; then close them all.
    """
    limits = server_limits(dsn)
    budget = Budget(workers, maxsize, limits.reserved, limits.max_connections)

    async def scenario() -> TooManyClientsRun:
        pools: list[asyncpg.Pool] = []
        opened: list[int] = []
        error = None
        try:
            for worker in range(workers):
                try:
                    pool = await asyncpg.create_pool(
                        dsn,
                        min_size=maxsize,
                        max_size=maxsize,
                        server_settings={"application_name": f"{LAB_APPLICATION_NAME}-{worker}"},
                    )
                except asyncpg.TooManyConnectionsError as exc:
                    error = exc
                    break
                pools.append(pool)
                opened.append(pool.get_size())
        finally:
            await asyncio.gather(*(pool.close() for pool in pools))
        return TooManyClientsRun(budget, opened, error)

    run = run_blocking(scenario())
    record_result(
        "06.too_many_clients",
        workers=workers,
        pools_opened=len(run.opened),
        maxsize=maxsize,
        needed=budget.needed,
        max_connections=budget.max_connections,
        refused=run.error is not None,
    )
    return run


def lab_sessions_left(dsn: str) -> int:
    """How many of the lab's connections pg_stat_activity still lists."""

    async def count() -> int:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE $1",
                f"{LAB_APPLICATION_NAME}-%",
            )
        finally:
            await conn.close()

    return run_blocking(count())
