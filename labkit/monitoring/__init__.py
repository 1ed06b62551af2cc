"""Watching the example app's pool over time: a real Prometheus, or an in-kernel scraper.

>>> monitor = start_monitoring(app)          # doctest: +SKIP
>>> monitor.kind                              # doctest: +SKIP
'prometheus'
>>> monitor.view("waiting", start, end)       # doctest: +SKIP

- :mod:`.prometheus` runs the ``prometheus`` binary (no Docker) with the kit's alert rules;
- :mod:`.views` holds the notebook's views as PromQL, answered by that Prometheus;
- :mod:`.scraper` computes the same views in the kernel when there is no binary.

The metrics themselves (the pool collector read at scrape time) belong to the
app that registers them: :mod:`labkit.app.metrics`.
"""

from __future__ import annotations

from labkit.monitoring.views import VIEWS

__all__ = ["VIEWS", "mean_between", "promtool_check", "start_monitoring"]


def start_monitoring(app, prefer_prometheus: bool = True):
    """A real Prometheus when its binary is here, else the in-kernel scraper."""
    from labkit.monitoring.prometheus import start_prometheus
    from labkit.monitoring.scraper import InKernelScraper
    from labkit.monitoring.views import PrometheusMonitor

    server = start_prometheus(app) if prefer_prometheus else None
    if server is not None:
        return PrometheusMonitor(server)
    return InKernelScraper(app)


def mean_between(series: list[tuple[float, float]], start: float, end: float) -> float:
    """The mean of a view's values between two times (NaN when none fall inside).

    >>> mean_between([(1.0, 2.0), (2.0, 4.0), (9.0, 0.0)], 0, 5)
    3.0
    """
    values = [v for t, v in series if start <= t <= end]
    return sum(values) / len(values) if values else float("nan")


def promtool_check(text: str) -> str:
    """What ``promtool check metrics`` says of an exposition ``text`` (or why it did not run)."""
    from labkit.monitoring import prometheus

    return prometheus.promtool_check(text)
