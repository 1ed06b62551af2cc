"""Notebook 00's experiment: watch requests borrow pooled connections and give them back.

>>> reading = hold_connections(app, requests=3, hold_ms=800)   # doctest: +SKIP
>>> reading.peak_in_use, reading.after["idle"]                  # doctest: +SKIP
(3, 3)
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

from labkit.infra.results import record_result

__all__ = ["HoldReading", "hold_connections"]

EXPERIMENT = "00.hold"  # the name quiz question 00-q4 reads its figure from


@dataclass(frozen=True)
class HoldReading:
    """The pool's state before, during (at the peak) and after requests held connections."""

    requests: int
    hold_ms: int
    before: dict
    during: dict
    after: dict
    statuses: list[int]

    @property
    def peak_in_use(self) -> int:
        """The most connections lent out at once while the requests ran."""
        return self.during["in_use"]


def hold_connections(app, requests: int = 3, hold_ms: int = 800) -> HoldReading:
    """Send ``requests`` concurrent requests that each hold a pooled connection ``hold_ms``,
    read ``/pool-status`` while they run and after, and record the peak ``in_use``.

    The reading polls until every request holds its connection (or they finish), so a
    slow machine still sees the peak instead of a moment before it.
    """
    before = app.pool_status()
    with ThreadPoolExecutor(max_workers=requests) as pool:
        holds = [
            pool.submit(httpx.get, f"{app.url}/lab/hold", params={"ms": hold_ms}, timeout=30)
            for _ in range(requests)
        ]
        during = app.pool_status()
        while during["in_use"] < requests and not all(h.done() for h in holds):
            time.sleep(0.02)
            now = app.pool_status()
            during = now if now["in_use"] >= during["in_use"] else during
        statuses = [h.result().status_code for h in holds]
    after = app.pool_status()
    reading = HoldReading(requests, hold_ms, before, during, after, statuses)
    record_result(
        EXPERIMENT,
        requests=requests,
        hold_ms=hold_ms,
        peak_in_use=reading.peak_in_use,
        size_during=during["size"],
        idle_after=after["idle"],
    )
    return reading
