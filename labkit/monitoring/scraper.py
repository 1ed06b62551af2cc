"""The in-kernel scraper: the notebook's monitoring views without a Prometheus binary.

It polls /metrics itself, parses it with prometheus_client's parser, and computes
the same gauges, rates and histogram quantiles as the PromQL in
:data:`labkit.monitoring.views.VIEWS`, with Prometheus's own arithmetic:
:func:`rate` is PromQL's ``rate`` (``extrapolatedRate`` in Prometheus's
``promql/functions.go``) and :func:`bucket_quantile` is ``histogram_quantile``
over classic buckets (``bucketQuantile`` in ``promql/quantile.go``).
``tests/test_scraper_maths.py`` feeds the same samples to a real Prometheus and
compares the answers.
"""

from __future__ import annotations

import bisect
import itertools
import math
import threading
import time
from collections import defaultdict
from collections.abc import Iterable

import httpx
from prometheus_client.parser import text_string_to_metric_families

from labkit.messages import _
from labkit.monitoring.views import RATE_WINDOW_S, VIEWS, WAITERS_ALERT_FOR_S, Series

# Prometheus extrapolates to a window edge only when the first (last) sample lies
# within 110% of the average sample spacing of it; farther away, it assumes the
# series started (ended) half a spacing beyond that sample.
EXTRAPOLATION_THRESHOLD = 1.1
# Bucket counts that differ by less than this relative amount are float noise
# from summing rates, not a real decrease (correctPrecisionErrors in quantile.go).
PRECISION_TOLERANCE = 1e-12


def rate(series: Series, t: float, window: float = RATE_WINDOW_S) -> float | None:
    """PromQL's ``rate(x[window])`` evaluated at time ``t``, for one counter series.

    ``series`` is ``[(time_s, value), ...]`` sorted by time. Like Prometheus 3:

    - the window is ``(t - window, t]``: a sample exactly at ``t - window`` is out;
    - a drop in value is a counter reset: the counter restarted from 0, so the value
      before the drop is added to the increase;
    - the increase between the first and last samples in the window is extrapolated
      to the window's edges, but at most half a sample spacing beyond a sample that
      is more than 1.1 spacings away from its edge, and never back past the time
      the counter would have been 0;
    - fewer than two samples in the window give no value (None here).

    Two differences from older Prometheus releases, both rare with real scrape
    times: Prometheus 2 puts a sample exactly at ``t - window`` inside the window;
    and releases from before prometheus/prometheus#13725 (2024; Debian 12's 2.42 is
    one) extrapolate back to the counter's zero point when it lies between half a
    spacing and 1.1 spacings before the first sample, where this stops at half a
    spacing (their ``rate`` comes out a little higher there).
    """
    if window <= 0:
        raise ValueError(
            _("window must be a positive number of seconds, got {window}").format(window=window)
        )
    times = [point[0] for point in series]
    inside = series[bisect.bisect_right(times, t - window) : bisect.bisect_right(times, t)]
    if len(inside) < 2:
        return None
    (first_t, first_v), (last_t, last_v) = inside[0], inside[-1]
    sampled = last_t - first_t
    if sampled <= 0:
        return None  # two samples at one instant: no time passed, no rate
    increase = last_v - first_v
    for (_t0, before), (_t1, after) in itertools.pairwise(inside):
        if after < before:  # the counter restarted from 0 (the process restarted)
            increase += before

    spacing = sampled / (len(inside) - 1)
    to_start, to_end = first_t - (t - window), t - last_t
    if to_start >= EXTRAPOLATION_THRESHOLD * spacing:
        to_start = spacing / 2
    if increase > 0 and first_v >= 0:
        # Extrapolating back past the point where the counter was 0 would invent
        # requests from before the counter existed.
        to_start = min(to_start, sampled * first_v / increase)
    if to_end >= EXTRAPOLATION_THRESHOLD * spacing:
        to_end = spacing / 2
    return increase * (sampled + to_start + to_end) / sampled / window


def sum_of_rates(series: Iterable[Series], t: float, window: float = RATE_WINDOW_S) -> float | None:
    """``sum(rate(x[window]))`` at ``t``: None when no series has a rate there.

    Summing rates, not rating a sum: a series that appears or restarts changes
    the sum of raw counters, but not the sum of their rates.
    """
    rates = [r for points in series if (r := rate(points, t, window)) is not None]
    return math.fsum(rates) if rates else None


def bucket_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """``histogram_quantile(q, ...)`` over classic cumulative ``(le, count)`` buckets.

    Prometheus's ``bucketQuantile``, step by step:

    - buckets are sorted by ``le``; without a ``+Inf`` bucket, fewer than two
      buckets, or no observations, there is no answer (Prometheus's NaN, None here);
    - buckets with the same ``le`` are merged, and a count lower than the bucket
      below it is raised to that count (bucket counts can only grow with ``le``);
    - the rank ``q x total`` is found in the first bucket whose count reaches it,
      and the answer interpolated linearly inside that bucket;
    - the first bucket starts at 0, unless its ``le`` is 0 or less: then that ``le``
      is the answer;
    - a rank in the ``+Inf`` bucket answers the highest finite ``le``.

    ``q`` below 0 gives -inf, above 1 gives +inf, NaN gives None, as in Prometheus.
    """
    ordered = sorted(buckets)
    if not ordered or math.isnan(q):
        return None
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    if not math.isinf(ordered[-1][0]):
        return None
    bounds: list[float] = []
    counts: list[float] = []
    for le, count in ordered:
        if bounds and le == bounds[-1]:
            counts[-1] += count
        else:
            bounds.append(le)
            counts.append(count)
    _ignore_float_noise(counts)
    for i in range(1, len(counts)):
        counts[i] = max(counts[i], counts[i - 1])
    if len(counts) < 2 or counts[-1] == 0:
        return None

    rank = q * counts[-1]
    # The first finite bucket that reaches the rank; none means the +Inf bucket.
    b = bisect.bisect_left(counts, rank, hi=len(counts) - 1)
    if b == len(counts) - 1:
        return bounds[-2]
    if b == 0 and bounds[0] <= 0:
        return bounds[0]
    start, below = (bounds[b - 1], counts[b - 1]) if b > 0 else (0.0, 0.0)
    in_bucket = counts[b] - below
    if in_bucket == 0:
        return None  # q = 0 and an empty first bucket: 0/0, NaN in Prometheus
    return start + (bounds[b] - start) * (rank - below) / in_bucket


def _ignore_float_noise(counts: list[float]) -> None:
    """Treat a count within PRECISION_TOLERANCE of the last distinct one as equal to it."""
    previous = counts[0]
    for i in range(1, len(counts)):
        delta = abs(counts[i] - previous)
        if delta == 0:
            continue
        # Relative to this bucket's count; an empty bucket (division by 0 in
        # Prometheus gives +Inf) is never noise.
        if counts[i] != 0 and delta / counts[i] <= PRECISION_TOLERANCE:
            counts[i] = previous
        else:
            previous = counts[i]


def quantile_of_rates(
    q: float, buckets: dict[float, list[Series]], t: float, window: float = RATE_WINDOW_S
) -> float | None:
    """``histogram_quantile(q, sum by (le) (rate(x_bucket[window])))`` at ``t``.

    ``buckets`` maps each ``le`` to the bucket series carrying it (one per label set).
    """
    summed = ((le, sum_of_rates(series, t, window)) for le, series in buckets.items())
    return bucket_quantile(q, [(le, r) for le, r in summed if r is not None])


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

    def _series(self, name: str, **match: str) -> list[Series]:
        """Every series called ``name`` whose labels include ``match``, one list each."""
        return [
            list(points)
            for (sample_name, labels), points in list(self.samples.items())
            if sample_name == name and match.items() <= dict(labels).items()
        ]

    def _sum(self, name: str, **match: str) -> Series:
        """Sum of every series called ``name`` whose labels include ``match``, per scrape."""
        totals: dict[float, float] = defaultdict(float)
        for points in self._series(name, **match):
            for t, v in points:
                totals[t] += v
        return sorted(totals.items())

    def _quantile(self, q: float, bucket_name: str, t: float) -> float | None:
        """histogram_quantile(q, sum by (le) (rate(bucket[5s]))) at time ``t``."""
        bounds = {dict(labels)["le"] for name, labels in list(self.samples) if name == bucket_name}
        buckets = {float(le): self._series(bucket_name, le=le) for le in bounds}
        return quantile_of_rates(q, buckets, t)

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
        for t, _value in self._sum("db_client_connection_max"):
            if not start <= t <= end:
                continue
            if name == "request_rate":
                value = sum_of_rates(self._series("http_requests_total"), t)
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
                raise KeyError(
                    _("no view called {name!r}; choose one of {views}").format(
                        name=name, views=sorted(VIEWS)
                    )
                )
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
