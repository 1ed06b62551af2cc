"""Notebook 03's lab: the article's polling loop against a gauge read at scrape time.

>>> stale = measure_polling_staleness(app, interval_s=5.0)   # doctest: +SKIP
>>> stale["wrong_fraction"]                                   # doctest: +SKIP
0.66
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx
from prometheus_client.parser import text_string_to_metric_families

from labkit.infra.load import run_load
from labkit.infra.results import record_result

__all__ = ["ShortPeak", "measure_polling_staleness", "short_peak"]

Series = list[tuple[float, float]]


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


@dataclass(frozen=True)
class ShortPeak:
    """A burst shorter than the scrape interval, as the gauge and the histogram saw it."""

    true_peak: int  # the most requests waiting at once, sampled from /pool-status at 50 Hz
    gauge_max: float  # the most any scrape of the `waiting` gauge saw
    waits_counted: float  # acquires that waited > 50 ms, from the histogram's counts
    scrapes: int  # scrapes that happened while the burst ran or just after
    burst_s: float  # how long the burst lasted


def short_peak(
    app, monitor, maxsize: int = 2, concurrency: int = 6, hold_ms: int = 150
) -> ShortPeak:
    """One short exhaustion burst between scrapes: what a gauge shows, what a histogram counts.

    Restarts the app with ``maxsize``; ``monitor`` comes from
    :func:`labkit.monitoring.start_monitoring` (Prometheus or the in-kernel scraper).
    """
    app.restart(minsize=maxsize, maxsize=maxsize)
    time.sleep(2.5)  # a couple of scrapes of the quiet pool first
    began = time.time()
    run = run_load(
        app,
        "/lab/hold",
        params={"ms": hold_ms},
        requests=concurrency,
        concurrency=concurrency,
        sample_hz=50,
        progress=False,
    )
    ended = time.time()
    time.sleep(2.5)  # and a couple after, so the counters have been scraped
    gauge = monitor.view("waiting", began - 1.0, ended + 2.0)
    counted = monitor.view("waits_over_50ms", began - 2.0, ended + 2.5)
    peak = ShortPeak(
        true_peak=max((s.waiting for s in run.samples), default=0),
        gauge_max=max((v for _, v in gauge), default=0.0),
        waits_counted=(counted[-1][1] - counted[0][1]) if len(counted) >= 2 else float("nan"),
        scrapes=len(gauge),
        burst_s=ended - began,
    )
    record_result("03.short_peak", **{k: float(v) for k, v in peak.__dict__.items()})
    return peak
