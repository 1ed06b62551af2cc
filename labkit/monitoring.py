"""The same monitoring views from a real Prometheus or, without one, an in-kernel scraper.

>>> monitor = start_monitoring(app)          # doctest: +SKIP
>>> monitor.kind                              # doctest: +SKIP
'prometheus'
>>> monitor.view("waiting", start, end)       # doctest: +SKIP
[(1764084000.0, 0.0), (1764084001.0, 4.0), ...]

With Prometheus, each view is the PromQL expression in :data:`VIEWS`. The
scraper polls /metrics itself, parses it with prometheus_client's parser, and
computes the same gauges, rates and histogram quantiles in Python.
"""

from __future__ import annotations

import bisect
import math
import threading
import time
from collections import defaultdict

import httpx
from prometheus_client.parser import text_string_to_metric_families

from labkit.prometheus import PrometheusServer, start_prometheus

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

    def _rate(self, series: Series, t: float) -> float | None:
        times = [p[0] for p in series]
        i, j = bisect.bisect_right(times, t) - 1, bisect.bisect_left(times, t - RATE_WINDOW_S)
        if i <= j:
            return None
        return (series[i][1] - series[j][1]) / (series[i][0] - series[j][0])

    def _quantile(self, q: float, bucket_name: str, t: float) -> float | None:
        """histogram_quantile(q, rate(bucket[5s])) at time ``t``, as Prometheus computes it."""
        bounds = sorted(
            {dict(labels)["le"] for name, labels in self.samples if name == bucket_name},
            key=float,
        )
        rates = [(float(le), self._rate(self._sum(bucket_name, le=le), t)) for le in bounds]
        rates = [(le, r) for le, r in rates if r is not None]
        if not rates or rates[-1][1] <= 0:
            return None
        rank = q * rates[-1][1]
        lower_bound, lower_count = 0.0, 0.0
        for le, count in rates:
            if count >= rank:
                if math.isinf(le):
                    return lower_bound
                return lower_bound + (le - lower_bound) * (rank - lower_count) / (
                    count - lower_count or 1
                )
            lower_bound, lower_count = le, count
        return None

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
                value = self._rate(self._sum("http_requests_total"), t)
            elif name == "latency_p95":
                value = self._quantile(0.95, "http_request_duration_seconds_bucket", t)
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


def start_monitoring(app, prefer_prometheus: bool = True):
    """A real Prometheus when its binary is here, else the in-kernel scraper."""
    server = start_prometheus(app) if prefer_prometheus else None
    if server is not None:
        return PrometheusMonitor(server)
    return InKernelScraper(app)


def _metric_value(text: str, name: str, **match: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and match.items() <= sample.labels.items():
                return sample.value
    return None


def measure_polling_staleness(
    app, interval_s: float = 5.0, duration_s: float = 7.0, hz: float = 10.0
) -> dict:
    """Run the article's polling loop beside the scrape-time collector and compare them.

    Connections are held in waves while /metrics is read ``hz`` times a second.
    Returns the two series and how stale the polled value was: at each reading,
    the time since the true in_use last had the value the polled gauge shows.
    """
    from labkit.load import run_load
    from labkit.results import record_result

    app.restart(minsize=1, maxsize=4, legacy_polling_s=interval_s)
    truth: Series = []
    polled: Series = []
    stop = threading.Event()

    def waves() -> None:  # 4 connections held 1.5 s, then 1 s of quiet, until told to stop
        while not stop.is_set():
            run_load(
                app, "/lab/hold", params={"ms": 1500}, requests=4, concurrency=4, progress=False
            )
            stop.wait(1.0)

    load = threading.Thread(target=waves, daemon=True)
    started = time.time()
    load.start()
    with httpx.Client(base_url=app.url, timeout=5) as client:
        while time.time() - started < duration_s:
            text = client.get("/metrics").text
            now = time.time() - started
            truth.append((now, _metric_value(text, "db_client_connections_usage", state="used")))
            polled.append((now, _metric_value(text, "db_connections_in_use")))
            time.sleep(1 / hz)
    stop.set()
    load.join()
    app.restart(legacy_polling_s=None)

    staleness = []
    for i, (t, value) in enumerate(polled):
        last_equal = next((tt for tt, v in reversed(truth[: i + 1]) if v == value), 0.0)
        staleness.append(t - last_equal)
    wrong = sum(p != q for (_, p), (_, q) in zip(polled, truth, strict=True)) / len(polled)
    figures = {
        "interval_s": interval_s,
        "max_staleness_s": max(staleness),
        "mean_staleness_s": sum(staleness) / len(staleness),
        "wrong_fraction": wrong,
        "max_error": max(abs(p - q) for (_, p), (_, q) in zip(polled, truth, strict=True)),
    }
    record_result("03.polling_staleness", **figures)
    return {"truth": truth, "polled": polled, **figures}
