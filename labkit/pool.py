"""Reading an asyncpg pool's real state.

Use the pool's public readers: ``get_size()``, ``get_idle_size()``,
``get_min_size()`` and ``get_max_size()``. The source article reads private
attributes instead, and gets them wrong:

- ``pool._size`` does not exist on an asyncpg Pool (AttributeError);
- ``len(pool._holders)`` is one holder per slot, so it always equals max_size.
  It is not the number of idle connections.

Only the number of tasks waiting for a connection has no public reader; it is
wrapped in :func:`waiting_count`, the one place that reaches inside.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import asyncpg


@dataclass(frozen=True)
class PoolStatus:
    """One reading of a pool. ``in_use`` = connections checked out right now.

    ``database`` is whether the app could reach PostgreSQL when it was read
    ("reachable", or "unreachable" while requests are answered 503), with the reason.
    """

    size: int
    idle: int
    in_use: int
    waiting: int
    min_size: int
    max_size: int
    database: str = "reachable"
    database_error: str | None = None


@dataclass(frozen=True)
class PoolSample(PoolStatus):
    """The same reading, taken ``t_s`` seconds after a sampled run began."""

    t_s: float = 0.0

    @classmethod
    def from_reading(cls, t_s: float, reading: dict) -> PoolSample:
        """A sample from /pool-status's JSON (extra keys are ignored)."""
        return cls(
            t_s=t_s, **{f.name: reading[f.name] for f in fields(PoolStatus) if f.name in reading}
        )


def waiting_count(pool: asyncpg.Pool) -> int:
    """How many ``acquire()`` calls are queued, waiting for a free connection.

    asyncpg has no public reader for this. Its pool hands out connection holders
    from an ``asyncio.LifoQueue`` (``pool._queue``); a task that finds the queue
    empty parks a future in the queue's ``_getters`` deque until a holder is put
    back. Futures that were cancelled or timed out stay in the deque until the
    queue skips them, so we count only those still pending.
    """
    queue = getattr(pool, "_queue", None)
    if queue is None:  # pool not initialised yet, or closed
        return 0
    return sum(1 for getter in queue._getters if not getter.done())


def pool_status(pool: asyncpg.Pool) -> PoolStatus:
    """Read ``pool`` through its public API (plus :func:`waiting_count`).

    >>> pool_status(pool)  # doctest: +SKIP
    PoolStatus(size=3, idle=1, in_use=2, waiting=0, min_size=1, max_size=5)
    """
    size = pool.get_size()
    idle = pool.get_idle_size()
    return PoolStatus(
        size=size,
        idle=idle,
        in_use=size - idle,
        waiting=waiting_count(pool),
        min_size=pool.get_min_size(),
        max_size=pool.get_max_size(),
    )
