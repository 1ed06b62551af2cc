"""The monitoring views the notebook draws, as PromQL, and the monitor that asks a real Prometheus.

>>> monitor.view("waiting", start, end)       # doctest: +SKIP
[(1764084000.0, 0.0), (1764084001.0, 4.0), ...]
"""

from __future__ import annotations

from labkit.monitoring.prometheus import PrometheusServer

RATE_WINDOW_S = 5.0
WAITERS_ALERT = "PoolWaitersQueueing"
WAITERS_ALERT_FOR_S = 5.0  # must match alerts.yml

VIEWS = {
    "used": 'sum(db_client_connections_usage{state="used"})',
    "idle": 'sum(db_client_connections_usage{state="idle"})',
    "waiting": "sum(db_client_connection_pending_requests)",
    "request_rate": "sum(rate(http_requests_total[5s]))",
    "latency_p95": "histogram_quantile(0.95, sum by (le) "
    "(rate(http_request_duration_seconds_bucket[5s])))",
    "acquire_wait_p95": "histogram_quantile(0.95, sum by (le) "
    "(rate(db_client_connection_wait_time_seconds_bucket[5s])))",
    # Every acquire is counted when it ends, so no wait can slip between two scrapes:
    # the running total of acquires that waited longer than 50 ms.
    "waits_over_50ms": "sum(db_client_connection_wait_time_seconds_count) - "
    'sum(db_client_connection_wait_time_seconds_bucket{le="0.05"})',
}
Series = list[tuple[float, float]]


class PrometheusMonitor:
    """Views answered by PromQL on a real Prometheus."""

    kind = "prometheus"

    def __init__(self, server: PrometheusServer) -> None:
        self.server = server

    def view(self, name: str, start: float, end: float, step: float = 1.0) -> Series:
        result = self.server.query_range(VIEWS[name], start, end, step)
        if not result:
            return []
        return [(float(t), float(v)) for t, v in result[0]["values"] if v != "NaN"]

    def alert_states(self, start: float, end: float) -> Series:
        """The waiters alert over time: 0 inactive, 1 pending, 2 firing (from ALERTS)."""
        states: dict[float, float] = {}
        for series in self.server.query_range(
            f'ALERTS{{alertname="{WAITERS_ALERT}"}}', start, end, 0.5
        ):
            level = 2.0 if series["metric"]["alertstate"] == "firing" else 1.0
            for t, _ in series["values"]:
                key = round(float(t), 3)
                states[key] = max(states.get(key, 0.0), level)
        grid = [round(start + 0.5 * i, 3) for i in range(int((end - start) / 0.5) + 1)]
        return [(t, states.get(t, 0.0)) for t in grid]

    def stop(self) -> None:
        self.server.stop()
