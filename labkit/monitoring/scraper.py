"""The in-kernel scraper: the notebook's monitoring views without a Prometheus binary.

It polls /metrics itself, parses it with prometheus_client's parser, and computes
the same gauges, rates and histogram quantiles as the PromQL in
:data:`labkit.monitoring.views.VIEWS`.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import defaultdict

import httpx
from prometheus_client.parser import text_string_to_metric_families

from labkit.monitoring.views import RATE_WINDOW_S, VIEWS, WAITERS_ALERT_FOR_S, Series


def rate(series: Series, t: float, window: float = RATE_WINDOW_S) -> float | None:
    """Per-second increase of a counter over the ``window`` seconds before ``t``.

    From the first and last samples inside the window, like PromQL's ``rate``, but
    without its extrapolation to the window's edges; None with fewer than two samples.
    """
    times = [p[0] for p in series]
    i, j = bisect.bisect_right(times, t) - 1, bisect.bisect_left(times, t - window)
    if i <= j:
        return None
    return (series[i][1] - series[j][1]) / (series[i][0] - series[j][0])


def bucket_quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """``histogram_quantile(q, ...)`` over cumulative ``(le, count)`` buckets, sorted by le.

    Linear interpolation inside the bucket that holds the rank, as Prometheus does;
    a rank in the +Inf bucket answers that bucket's lower bound.
    """
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return lower_bound
            return lower_bound + (le - lower_bound) * (rank - lower_count) / (
                count - lower_count or 1
            )
        lower_bound, lower_count = le, count
    return None


class InKernelScraper:
    """Polls /metrics every ``interval`` seconds in a thread and keeps every sample."""

    kind = "in-kernel scraper"

    def __init__(self, app, interval: float = 1.0) -> None:
        self.url = f"{app.url}/metrics"
        self.interval = interval
        # (sample name, sorted labels) -> [(time, value)]
        self.samples: dict[tuple[str, tuple], Series] = defaultdict(list)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="labkit-scraper", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=5) as client:
            while not self._stop.is_set():
                now = time.time()
                try:
                    response = client.get(self.url)
                    families = list(text_string_to_metric_families(response.text))
                except (httpx.HTTPError, ValueError):
                    families = []  # a missed scrape, as Prometheus would record it
                for family in families:
                    for sample in family.samples:
                        key = (sample.name, tuple(sorted(sample.labels.items())))
                        self.samples[key].append((now, sample.value))
                self._stop.wait(self.interval)

    def _sum(self, name: str, **match: str) -> Series:
        """Sum of every series called ``name`` whose labels include ``match``, per scrape."""
        totals: dict[float, float] = defaultdict(float)
        for (sample_name, labels), points in list(self.samples.items()):
            if sample_name == name and match.items() <= dict(labels).items():
                for t, v in points:
                    totals[t] += v
        return sorted(totals.items())

    def _quantile(self, q: float, bucket_name: str, t: float) -> float | None:
        """histogram_quantile(q, rate(bucket[5s])) at time ``t``."""
        bounds = sorted(
            {dict(labels)["le"] for name, labels in self.samples if name == bucket_name},
            key=float,
        )
        rates = [(float(le), rate(self._sum(bucket_name, le=le), t)) for le in bounds]
        return bucket_quantile(q, [(le, r) for le, r in rates if r is not None])

    def _value_at(self, name: str, t: float, **match: str) -> float | None:
        """The summed series ``name`` as last scraped at or before ``t``."""
        points = [v for at, v in self._sum(name, **match) if at <= t]
        return points[-1] if points else None

    def view(self, name: str, start: float, end: float, step: float = 1.0) -> Series:
        gauges = {
            "used": ("db_client_connections_usage", {"state": "used"}),
            "idle": ("db_client_connections_usage", {"state": "idle"}),
            "waiting": ("db_client_connection_pending_requests", {}),
        }
        if name in gauges:
            metric, match = gauges[name]
            return [(t, v) for t, v in self._sum(metric, **match) if start <= t <= end]
        points = []
        for t, _ in self._sum("db_client_connection_max"):
            if not start <= t <= end:
                continue
            if name == "request_rate":
                value = rate(self._sum("http_requests_total"), t)
            elif name == "latency_p95":
                value = self._quantile(0.95, "http_request_duration_seconds_bucket", t)
            elif name == "waits_over_50ms":
                value = self._value_at("db_client_connection_wait_time_seconds_count", t)
                within = self._value_at(
                    "db_client_connection_wait_time_seconds_bucket", t, le="0.05"
                )
                value = None if value is None or within is None else value - within
            elif name == "acquire_wait_p95":
                value = self._quantile(0.95, "db_client_connection_wait_time_seconds_bucket", t)
            else:
                raise KeyError(f"no view called {name!r}; choose one of {sorted(VIEWS)}")
            if value is not None:
                points.append((t, value))
        return points

    def alert_states(self, start: float, end: float) -> Series:
        """The waiters alert, evaluated here as Prometheus would: 0, 1 pending, 2 firing."""
        states, since = [], None
        for t, waiting in self.view("waiting", start, end):
            if waiting > 0:
                since = t if since is None else since
                states.append((t, 2.0 if t - since >= WAITERS_ALERT_FOR_S else 1.0))
            else:
                since = None
                states.append((t, 0.0))
        return states

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
