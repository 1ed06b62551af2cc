"""Notebook 02's experiments: find the knee, check Little's law, test the rule of thumb.

Every experiment lets database hold time dominate (20-100 ms per request), so the
highest rate it needs stays far below what the load generator can drive
(``benchmarks/load_ceiling.py``): the curves measure the pool, not the client.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass

import httpx

from labkit.infra.load import LoadResult, run_load
from labkit.infra.resources import usable_cores
from labkit.infra.results import record_result
from labkit.messages import N_, _

__all__ = [
    "LittlesLaw",
    "Sweep",
    "SweepPoint",
    "TuningRun",
    "check_littles_law",
    "rule_of_thumb",
    "run_tuning_lab",
    "sweep_cpu_bound",
    "sweep_maxsize",
]

KNEE_FRACTION = 0.9  # the knee: the smallest maxsize reaching 90% of the best throughput

# The titles and labels notebook 02 passes to labkit.plots, which says them in the learner's
# language: marked here so that `labkit translate extract` puts them in the catalog.
PLOT_TEXT = (
    N_("maxsize (connections)"),
    N_("knee"),
    N_("rule of thumb"),
    N_("8 clients, 50 ms per request: throughput and p95 against maxsize"),
    N_("CPU-bound queries, 16 clients: throughput and p95 against maxsize"),
)


@dataclass(frozen=True)
class SweepPoint:
    maxsize: int
    result: LoadResult

    @property
    def throughput_rps(self) -> float:
        return self.result.summary.throughput_rps

    @property
    def p95_ms(self) -> float:
        return self.result.summary.p95_ms

    @property
    def mean_in_use(self) -> float:
        samples = self.result.samples_during_load()
        return statistics.fmean(s.in_use for s in samples) if samples else 0.0


@dataclass(frozen=True)
class Sweep:
    """Throughput and latency for each maxsize, at one offered load."""

    path: str
    params: dict
    concurrency: int
    points: list[SweepPoint]

    @property
    def best(self) -> SweepPoint:
        return max(self.points, key=lambda p: p.throughput_rps)

    def table(self) -> str:
        """One line per maxsize: throughput, p95, mean in_use, and the time each request
        held its connection (Little's law backwards: mean in_use / throughput)."""
        line = _(
            "maxsize {maxsize:>2}: {rps:6.1f} req/s, p95 {p95_ms:6.1f} ms, "
            "mean in_use {in_use:4.1f}, holding a connection {hold_ms:5.0f} ms per request"
        )
        return "\n".join(
            line.format(
                maxsize=p.maxsize,
                rps=p.throughput_rps,
                p95_ms=p.p95_ms,
                in_use=p.mean_in_use,
                hold_ms=self.hold_ms(p),
            )
            for p in self.points
        )

    def hold_ms(self, point: SweepPoint) -> float:
        """How long each request held its connection at ``point`` (mean in_use / throughput)."""
        return 1000 * point.mean_in_use / point.throughput_rps

    @property
    def knee(self) -> SweepPoint:
        """The smallest maxsize whose throughput is within 10% of the best."""
        target = KNEE_FRACTION * self.best.throughput_rps
        return min((p for p in self.points if p.throughput_rps >= target), key=lambda p: p.maxsize)


def sweep_maxsize(
    app,
    sizes: tuple[int, ...] = (1, 2, 4, 8, 16),
    *,
    concurrency: int = 8,
    hold_ms: int = 50,
    path: str = "/lab/hold",
    params: dict | None = None,
    duration: float = 1.5,
    record_as: str | None = "02.knee",
) -> Sweep:
    """Restart the app with each maxsize and run the same load against it.

    The default holds a connection ``hold_ms`` inside the database (pg_sleep).
    """
    params = params if params is not None else {"ms": hold_ms}
    points = []
    for maxsize in sizes:
        app.restart(minsize=min(maxsize, concurrency), maxsize=maxsize, acquire_timeout=None)
        result = run_load(
            app, path, params=params, duration=duration, concurrency=concurrency, sample_hz=20
        )
        points.append(SweepPoint(maxsize, result))
    sweep = Sweep(path, params, concurrency, points)
    if record_as:
        record_result(
            record_as,
            knee_maxsize=sweep.knee.maxsize,
            knee_throughput_rps=sweep.knee.throughput_rps,
            best_throughput_rps=sweep.best.throughput_rps,
            concurrency=concurrency,
            path=path,
        )
    return sweep


@dataclass(frozen=True)
class LittlesLaw:
    """L = λ·W: connections in use = throughput × time each request holds one."""

    mean_in_use: float  # L, measured by sampling /pool-status
    throughput_rps: float  # λ, measured by the load generator
    hold_s: float  # W, the time each request holds its connection

    @property
    def predicted_in_use(self) -> float:
        return self.throughput_rps * self.hold_s

    @property
    def error(self) -> float:
        """Relative difference between measured and predicted L."""
        return abs(self.mean_in_use - self.predicted_in_use) / self.predicted_in_use


def check_littles_law(
    app, *, maxsize: int = 8, concurrency: int = 6, hold_ms: int = 50, duration: float = 2.0
) -> LittlesLaw:
    """Run a steady load and compare measured mean in_use with throughput × hold time."""
    app.restart(minsize=maxsize, maxsize=maxsize, acquire_timeout=None)
    result = run_load(
        app,
        "/lab/hold",
        params={"ms": hold_ms},
        duration=duration,
        concurrency=concurrency,
        sample_hz=50,
    )
    samples = result.samples_during_load()
    law = LittlesLaw(
        mean_in_use=statistics.fmean(s.in_use for s in samples),
        throughput_rps=result.summary.throughput_rps,
        hold_s=hold_ms / 1000,
    )
    record_result(
        "02.littles_law",
        mean_in_use=law.mean_in_use,
        throughput_rps=law.throughput_rps,
        hold_s=law.hold_s,
        predicted_in_use=law.predicted_in_use,
        error=law.error,
    )
    return law


def rule_of_thumb(effective_spindles: int = 0, cores: int | None = None) -> int:
    """The PostgreSQL wiki / HikariCP formula: (cores × 2) + effective spindles.

    It sizes the **total** connections the database should serve at once, across every
    pool of every app process, from the *database server's* cores. Here the database,
    the app and the load generator share one machine, so ``cores`` defaults to the CPUs
    this process may really use (affinity and container quota, not ``os.cpu_count()``).
    ``effective_spindles`` is 0 when the working set is cached in memory, as in these labs.
    """
    return (usable_cores() if cores is None else cores) * 2 + effective_spindles


def calibrate_cpu_work(app, target_ms: float = 20.0) -> int:
    """How many rows /lab/cpu-work must hash for one query to take about ``target_ms``."""
    app.restart(minsize=1, maxsize=2)
    rows = 20_000
    with httpx.Client(base_url=app.url, timeout=30) as client:
        client.get("/lab/cpu-work", params={"rows": rows})  # warm up
        for _attempt in range(3):  # scale until one query takes long enough to time well
            timings = []
            for _timing in range(3):
                began = time.perf_counter()
                client.get("/lab/cpu-work", params={"rows": rows}).raise_for_status()
                timings.append(time.perf_counter() - began)
            took_ms = min(timings) * 1000
            rows = max(1_000, int(rows * target_ms / took_ms))
            if abs(took_ms - target_ms) < 0.2 * target_ms:
                break
    return rows


def sweep_cpu_bound(
    app,
    sizes: tuple[int, ...] = (1, 2, 4, 8, 16),
    *,
    concurrency: int = 16,
    query_ms: float = 20.0,
    duration: float = 1.5,
) -> Sweep:
    """The maxsize sweep again, with real CPU work in each query instead of a sleep."""
    rows = calibrate_cpu_work(app, query_ms)
    sweep = sweep_maxsize(
        app,
        sizes,
        concurrency=concurrency,
        path="/lab/cpu-work",
        params={"rows": rows},
        duration=duration,
        record_as=None,
    )
    record_result(
        "02.cpu_bound",
        rule_of_thumb=rule_of_thumb(),
        knee_maxsize=sweep.knee.maxsize,
        best_throughput_rps=sweep.best.throughput_rps,
        largest_pool_throughput_rps=sweep.points[-1].throughput_rps,
    )
    return sweep


@dataclass(frozen=True)
class TuningRun:
    settings: dict
    result: LoadResult


def run_tuning_lab(
    minsize: int = 1,
    maxsize: int = 4,
    lifetime: float = 300.0,
    concurrency: int = 8,
    hold_ms: int = 50,
    duration: float = 2.0,
    *,
    app=None,
) -> TuningRun:
    """The tuning lab without widgets: restart the app with these settings and load it.

    The widget (:func:`labkit.widgets.tuning_lab`) calls this with its sliders' values.
    """
    from labkit.infra.runner import running_app

    app = running_app(app)
    app.restart(
        minsize=minsize,
        maxsize=maxsize,
        max_inactive_connection_lifetime=lifetime,
        acquire_timeout=None,
    )
    result = run_load(
        app,
        "/lab/hold",
        params={"ms": hold_ms},
        duration=duration,
        concurrency=concurrency,
        sample_hz=20,
    )
    settings = dict(
        minsize=minsize,
        maxsize=maxsize,
        lifetime=lifetime,
        concurrency=concurrency,
        hold_ms=hold_ms,
        duration=duration,
    )
    return TuningRun(settings, result)
