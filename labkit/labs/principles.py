"""Notebook 01's experiments: what a pool saves, and its three parameters, measured live.

Each function runs one experiment, records its key figures for the quizzes
(:mod:`labkit.infra.results`) and returns what it measured.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import dataclass

import asyncpg

from labkit.infra.blocking import run_blocking
from labkit.infra.load import LoadResult, run_load, run_load_async
from labkit.infra.results import record_result
from labkit.infra.sampler import PoolSampler
from labkit.messages import N_
from labkit.pool import PoolSample

__all__ = [
    "ClientHeadroom",
    "ColdVsWarm",
    "ConnectCost",
    "IdleLifetime",
    "PooledVsUnpooled",
    "cold_vs_warm",
    "compare_http_clients",
    "compare_pooled_unpooled",
    "measure_connect_cost",
    "watch_idle_lifetime",
    "watch_maxsize_cap",
]

# The titles and labels notebook 01 passes to labkit.plots, which says them in the learner's
# language: marked here so that `labkit translate extract` puts them in the catalog.
PLOT_TEXT = (
    N_("fresh connection"),
    N_("pooled connection"),
    N_("median time per query (ms)"),
    N_("SELECT 1 with asyncpg: connect each time vs borrow from a pool"),
    N_("pooled (/lab/ping-db)"),
    N_("unpooled (/lab/unpooled)"),
    N_("Same query, same load (4 concurrent clients)"),
    N_("The first six simultaneous requests after start-up"),
    N_("maxsize=4, 12 concurrent clients, 100 ms per request"),
    N_("Pool size after a burst, max_inactive_connection_lifetime = 2 s"),
)


@dataclass(frozen=True)
class ConnectCost:
    """Mean milliseconds per query: on a fresh connection vs on a pooled one."""

    fresh_ms: float
    pooled_ms: float
    rounds: int

    @property
    def ratio(self) -> float:
        return self.fresh_ms / self.pooled_ms


def measure_connect_cost(dsn: str, rounds: int = 30) -> ConnectCost:
    """Time ``SELECT 1`` with connect/close around it, then with acquire/release from a pool.

    Uses asyncpg directly, with a small pool of its own (not the app's), closed afterwards.
    """

    async def measure() -> ConnectCost:
        fresh = []
        for _round in range(rounds):
            began = time.perf_counter()
            conn = await asyncpg.connect(dsn)
            await conn.fetchval("SELECT 1")
            await conn.close()
            fresh.append(time.perf_counter() - began)
        pooled = []
        async with asyncpg.create_pool(dsn, min_size=1, max_size=1) as pool:
            for _round in range(rounds):
                began = time.perf_counter()
                async with pool.acquire() as conn:
                    await conn.fetchval("SELECT 1")
                pooled.append(time.perf_counter() - began)
        return ConnectCost(
            fresh_ms=statistics.median(fresh) * 1000,
            pooled_ms=statistics.median(pooled) * 1000,
            rounds=rounds,
        )

    cost = run_blocking(measure())
    record_result(
        "01.connect_cost", fresh_ms=cost.fresh_ms, pooled_ms=cost.pooled_ms, ratio=cost.ratio
    )
    return cost


@dataclass(frozen=True)
class PooledVsUnpooled:
    pooled: LoadResult
    unpooled: LoadResult

    @property
    def ratio(self) -> float:
        """How many times more requests per second the pooled endpoint served."""
        return self.pooled.summary.throughput_rps / self.unpooled.summary.throughput_rps


def compare_pooled_unpooled(app, requests: int = 400, concurrency: int = 4) -> PooledVsUnpooled:
    """The same query over HTTP: /lab/ping-db (pooled) and /lab/unpooled, same load."""
    pooled = run_load(app, "/lab/ping-db", requests=requests, concurrency=concurrency)
    unpooled = run_load(app, "/lab/unpooled", requests=requests, concurrency=concurrency)
    comparison = PooledVsUnpooled(pooled, unpooled)
    record_result(
        "01.pooled_vs_unpooled",
        ratio=comparison.ratio,
        pooled_rps=pooled.summary.throughput_rps,
        unpooled_rps=unpooled.summary.throughput_rps,
        pooled_p50_ms=pooled.summary.p50_ms,
        unpooled_p50_ms=unpooled.summary.p50_ms,
    )
    return comparison


@dataclass(frozen=True)
class ColdVsWarm:
    """First-wave latencies (ms) of ``burst`` simultaneous requests, per minsize."""

    burst: int
    cold_ms: list[float]
    warm_ms: list[float]
    cold_opened: int = 0  # connections the minsize=1 pool opened during its first wave


def cold_vs_warm(app, burst: int = 6) -> ColdVsWarm:
    """Fire ``burst`` simultaneous requests at a pool that holds 1 connection, then ``burst``.

    With minsize=1 most of the first wave must open a connection first; with
    minsize=burst they are all open before the first request arrives.
    """

    def first_wave(minsize: int) -> tuple[list[float], int]:
        app.restart(minsize=minsize, maxsize=burst)
        before = app.pool_status()["size"]
        result = run_load(app, "/lab/ping-db", requests=burst, concurrency=burst, progress=False)
        opened = app.pool_status()["size"] - before
        return sorted(r.latency_s * 1000 for r in result.records), opened

    (cold, opened), (warm, _warm_opened) = first_wave(1), first_wave(burst)
    comparison = ColdVsWarm(burst, cold_ms=cold, warm_ms=warm, cold_opened=opened)
    record_result(
        "01.cold_vs_warm",
        burst=burst,
        cold_max_ms=max(comparison.cold_ms),
        warm_max_ms=max(comparison.warm_ms),
    )
    return comparison


def watch_maxsize_cap(
    app, maxsize: int = 4, concurrency: int = 12, hold_ms: int = 100, requests: int = 72
) -> LoadResult:
    """More concurrent requests than maxsize: in_use stops at maxsize and the rest wait."""
    app.restart(minsize=1, maxsize=maxsize)
    result = run_load(
        app,
        "/lab/hold",
        params={"ms": hold_ms},
        requests=requests,
        concurrency=concurrency,
        sample_hz=20,
    )
    record_result(
        "01.maxsize_cap",
        maxsize=maxsize,
        concurrency=concurrency,
        peak_in_use=max(s.in_use for s in result.samples),
        peak_waiting=max(s.waiting for s in result.samples),
    )
    return result


@dataclass(frozen=True)
class IdleLifetime:
    lifetime_s: float
    minsize: int
    burst_ends_s: float  # when the last request of the burst finished
    samples: list[PoolSample]

    def shrink_time_s(self) -> float | None:
        """Seconds from the end of the burst until the pool was back at minsize."""
        for sample in self.samples:
            if sample.t_s > self.burst_ends_s and sample.size <= self.minsize:
                return sample.t_s - self.burst_ends_s
        return None


def watch_idle_lifetime(
    app, lifetime_s: float = 2.0, burst: int = 8, hold_ms: int = 100, watch_s: float = 4.0
) -> IdleLifetime:
    """Grow the pool with a burst, then watch idle connections close after ``lifetime_s``."""
    app.restart(minsize=1, maxsize=burst, max_inactive_connection_lifetime=lifetime_s)

    async def experiment() -> tuple[float, list[PoolSample]]:
        started = time.perf_counter()
        async with PoolSampler(app, hz=10, started_at=started) as sampler:
            await run_load_async(
                app,
                "/lab/hold",
                params={"ms": hold_ms},
                requests=burst * 2,
                concurrency=burst,
                progress=False,
            )
            burst_ends = time.perf_counter() - started  # on the sampler's clock
            await asyncio.sleep(watch_s)
        return burst_ends, sampler.samples

    burst_ends, samples = run_blocking(experiment())
    outcome = IdleLifetime(lifetime_s, 1, burst_ends, samples)
    record_result(
        "01.idle_lifetime",
        lifetime_s=lifetime_s,
        peak_size=max(s.size for s in samples),
        shrink_time_s=outcome.shrink_time_s() or -1.0,
    )
    return outcome


@dataclass(frozen=True)
class ClientHeadroom:
    """Requests per second two HTTP clients drove against the same endpoint, same load."""

    labkit_rps: float
    httpx_rps: float

    @property
    def ratio(self) -> float:
        return self.labkit_rps / self.httpx_rps


def compare_http_clients(
    app, path: str = "/lab/ping-db", requests: int = 300, concurrency: int = 4
) -> ClientHeadroom:
    """labkit's load generator against httpx.AsyncClient, back to back on one endpoint.

    The app, the client and the kernel share one Python process, so the client's own
    cost per request caps what any experiment can measure.
    """
    import httpx

    ours = run_load(app, path, requests=requests, concurrency=concurrency, progress=False)

    async def with_httpx() -> float:
        async with httpx.AsyncClient(base_url=app.url) as client:

            async def worker(count: int) -> None:
                for _request in range(count):
                    (await client.get(path)).raise_for_status()

            began = time.perf_counter()
            await asyncio.gather(
                *(worker(requests // concurrency) for _worker in range(concurrency))
            )
            return (requests // concurrency) * concurrency / (time.perf_counter() - began)

    headroom = ClientHeadroom(ours.summary.throughput_rps, run_blocking(with_httpx()))
    record_result(
        "01.client_headroom", labkit_rps=headroom.labkit_rps, httpx_rps=headroom.httpx_rps
    )
    return headroom
