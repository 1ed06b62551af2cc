"""Prometheus metrics for the pool, read when scraped.

Names follow OpenTelemetry's ``db.client.connection.*`` conventions in Prometheus
form, with one deliberate exception: connections by state are
``db_client_connections_usage`` (OpenTelemetry's name before v1.26) rather than
``db_client_connection_count``, because a ``_count`` suffix is reserved for
histograms and summaries and ``promtool check metrics`` rejects it.

| series | kind | OpenTelemetry name |
|---|---|---|
| ``db_client_connections_usage{state="idle"|"used"}`` | gauge | db.client.connections.usage |
| ``db_client_connection_max`` | gauge | db.client.connection.max |
| ``db_client_connection_idle_min`` | gauge | db.client.connection.idle.min |
| ``db_client_connection_pending_requests`` | gauge | db.client.connection.pending_requests |
| ``db_client_connection_wait_time_seconds`` | histogram | db.client.connection.wait_time |
| ``db_client_connection_timeouts_total`` | counter | db.client.connection.timeouts |
| ``labkit_app_sessions{state}`` | gauge | (the app's sessions in pg_stat_activity) |
| ``labkit_app_idle_in_transaction_max_age_seconds`` | gauge | (oldest open, idle transaction) |
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import asyncpg
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from labkit.pool import pool_status

POOL_NAME = "default"  # Tortoise's connection name: stable across app restarts
# Seconds. Dense between 50 ms and 1 s, where the labs' waits fall, so that a
# histogram_quantile lands within a few per cent rather than a whole coarse bucket.
LATENCY_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75,
    1.0, 1.5, 2.5, 5.0, 10.0,
)  # fmt: skip
SESSION_STATES = ("active", "idle", "idle in transaction")


class PoolCollector(Collector):
    """Reads the pool each time Prometheus scrapes: no background loop, never stale."""

    def __init__(self, get_pool: Callable[[], asyncpg.Pool | None], pool_name: str = POOL_NAME):
        self._get_pool = get_pool
        self._pool_name = pool_name

    def _families(self) -> dict[str, GaugeMetricFamily]:
        return {
            "usage": GaugeMetricFamily(
                "db_client_connections_usage",
                "Connections in the pool, by state (idle or used).",
                labels=["pool_name", "state"],
            ),
            "max": GaugeMetricFamily(
                "db_client_connection_max",
                "The most connections the pool may open (maxsize).",
                labels=["pool_name"],
            ),
            "min": GaugeMetricFamily(
                "db_client_connection_idle_min",
                "Connections the pool keeps open even when idle (minsize).",
                labels=["pool_name"],
            ),
            "pending": GaugeMetricFamily(
                "db_client_connection_pending_requests",
                "Requests waiting for a free connection.",
                labels=["pool_name"],
            ),
        }

    def describe(self) -> Iterator[GaugeMetricFamily]:
        return iter(self._families().values())

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self._get_pool()
        if pool is None:
            return iter(())
        status = pool_status(pool)
        families = self._families()
        name = self._pool_name
        families["usage"].add_metric([name, "idle"], status.idle)
        families["usage"].add_metric([name, "used"], status.in_use)
        families["max"].add_metric([name], status.max_size)
        families["min"].add_metric([name], status.min_size)
        families["pending"].add_metric([name], status.waiting)
        return iter(families.values())


class AcquireMetrics:
    """Events the pool reports as they happen: how long each acquire waited, and timeouts."""

    def __init__(self, registry: CollectorRegistry, pool_name: str = POOL_NAME) -> None:
        self.pool_name = pool_name
        self.wait_time = Histogram(
            "db_client_connection_wait_time_seconds",
            "Time a request waited to get a connection from the pool.",
            ["pool_name"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.timeouts = Counter(
            "db_client_connection_timeouts",
            "Acquires that gave up after the acquire timeout.",
            ["pool_name"],
            registry=registry,
        )
        # Create the labelled children now, so the series exist (at 0) from the first
        # scrape, and keep them: labels() on every acquire would validate and lock again.
        self._wait_time = self.wait_time.labels(pool_name)
        self._timeouts = self.timeouts.labels(pool_name)

    def observe(self, waited_s: float, timed_out: bool) -> None:
        """Record one acquire (the pool calls this after each one, as its acquire_observer)."""
        self._wait_time.observe(waited_s)
        if timed_out:
            self._timeouts.inc()


class SessionMetrics:
    """The app's sessions by state, read from pg_stat_activity just before each scrape.

    A dedicated connection (not one from the pool, which it must not disturb) runs
    the query; its application_name ends in ``:monitor`` so it is not counted.
    """

    QUERY = """
        SELECT state, count(*) AS sessions,
               max(extract(epoch FROM now() - state_change))
                   FILTER (WHERE state = 'idle in transaction') AS oldest_idle_xact_s
          FROM pg_stat_activity
         WHERE application_name = $1
         GROUP BY state
    """

    def __init__(self, registry: CollectorRegistry, dsn: str, application_name: str) -> None:
        self.dsn = dsn
        self.application_name = application_name
        self.connection: asyncpg.Connection | None = None
        # Two scrapes at once (Prometheus and a notebook, say) must take turns on the
        # one connection: asyncpg refuses a second query while one is in progress.
        self._lock = asyncio.Lock()
        self.sessions = Gauge(
            "labkit_app_sessions",
            "The app's sessions in pg_stat_activity, by state.",
            ["state"],
            registry=registry,
        )
        self.oldest_idle_transaction = Gauge(
            "labkit_app_idle_in_transaction_max_age_seconds",
            "How long the oldest of the app's idle-in-transaction sessions has been idle.",
            registry=registry,
        )

    async def refresh(self) -> None:
        async with self._lock:
            await self._refresh()

    async def _refresh(self) -> None:
        if self.connection is None or self.connection.is_closed():
            self.connection = await asyncpg.connect(
                self.dsn,
                timeout=5,
                server_settings={"application_name": f"{self.application_name}:monitor"[:63]},
            )
        rows = await self.connection.fetch(self.QUERY, self.application_name)
        counts = {row["state"]: row["sessions"] for row in rows}
        for state in SESSION_STATES:
            self.sessions.labels(state).set(counts.get(state, 0))
        oldest = max((row["oldest_idle_xact_s"] or 0.0 for row in rows), default=0.0)
        self.oldest_idle_transaction.set(float(oldest))

    async def close(self) -> None:
        if self.connection is not None:
            await self.connection.close()
            self.connection = None
