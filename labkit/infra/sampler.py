"""Sample the app's ``/pool-status`` many times a second, as a time series.

>>> samples = sample_pool(app, seconds=3, hz=10)       # doctest: +SKIP
>>> max(s.size for s in samples)                        # doctest: +SKIP
5
"""

from __future__ import annotations

import asyncio
import json
import time

from labkit.infra.blocking import run_blocking
from labkit.infra.http_client import KeepAliveConnection
from labkit.pool import PoolSample


def base_url(target) -> str:
    """Accept a running app (anything with ``.url``) or a URL string."""
    return getattr(target, "url", target)


class PoolSampler:
    """Poll /pool-status at ``hz`` until stopped; read ``samples`` afterwards.

    Runs as a task on the caller's event loop, beside the load it observes.
    /pool-status needs no database connection, so sampling does not disturb the pool.
    """

    def __init__(
        self,
        target,
        hz: float = 20.0,
        started_at: float | None = None,
        samples: list[PoolSample] | None = None,
    ) -> None:
        if hz <= 0:
            raise ValueError(f"hz must be positive, got {hz}")
        self.url = base_url(target)
        self.interval = 1.0 / hz
        self.started_at = time.perf_counter() if started_at is None else started_at
        self.samples: list[PoolSample] = [] if samples is None else samples
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def __aenter__(self) -> PoolSampler:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _run(self) -> None:
        conn = KeepAliveConnection(self.url)
        try:
            while True:
                await self._sample(conn)
                try:
                    await asyncio.wait_for(self._stop.wait(), self.interval)
                except asyncio.TimeoutError:
                    continue
                await self._sample(conn)  # one last reading as the run ends
                return
        finally:
            await conn.close()

    async def _sample(self, conn: KeepAliveConnection) -> None:
        response = await conn.get("/pool-status")
        reading = json.loads(response.body)
        self.samples.append(PoolSample.from_reading(time.perf_counter() - self.started_at, reading))


def sample_pool(target, seconds: float, hz: float = 20.0) -> list[PoolSample]:
    """Watch the pool for ``seconds`` with no load of our own (e.g. idle connections expiring)."""

    async def watch() -> list[PoolSample]:
        async with PoolSampler(target, hz) as sampler:
            await asyncio.sleep(seconds)
        return sampler.samples

    return run_blocking(watch())
