"""What /metrics costs: the bare app against the old and the new HTTP instrumentation.

    python benchmarks/metrics_overhead.py [--rounds 10] [--requests 1000]

Three variants of the example app:

- bare: no HTTP metrics, no acquire observer, nobody scraping /metrics;
- instrumentator: /metrics with the HTTP series recorded by
  prometheus-fastapi-instrumentator (the app's way before), same two series;
- middleware: /metrics as the app has it now (``labkit.app.http_metrics``).

Both instrumented variants have the pool's acquire observer (the same, cached
children) and are scraped every second, as Prometheus would; they differ only in
how HTTP requests are recorded.

All three are the SAME app in the same process, its ASGI middleware stack
swapped between runs (see :class:`Variants`): a process's hash seed and memory
layout alone move its speed by a few per cent (run one variant in three
processes and see), more than the difference measured here, so separate
processes per variant measured their luck as much as their metrics. The
variants' runs alternate (the order rotates from round to round), a second or
so each, so that whatever else the machine is doing hits them alike; every
--rounds-per-process rounds a fresh process takes over. Figures are medians
over the rounds, then each round's.

Two measures. Throughput (requests per second) is the target: 5% or less below
bare. It swings with other work on the machine, and the last line says how busy
other processes kept it. CPU time per request (the variant's process: app, load
generator and scraper, which share one GIL) swings less; when the process has a
core to itself, throughput is its inverse.

First, a micro-benchmark: what each way of recording costs per request with
no app and no network around it, and what a ``labels()`` lookup costs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import multiprocessing
import statistics
import sys
import threading
import time
import timeit
from collections.abc import Iterator
from multiprocessing.connection import Connection
from types import SimpleNamespace

import httpx
import psutil
from prometheus_client import CollectorRegistry, Counter
from prometheus_fastapi_instrumentator import metrics as instrumentator_metrics
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware
from starlette.middleware import Middleware

from labkit.app.http_metrics import HttpMetrics, HttpMetricsMiddleware
from labkit.app.metrics import LATENCY_BUCKETS
from labkit.infra.database import ensure_database
from labkit.infra.load import run_load
from labkit.infra.runner import start_app

VARIANTS = ("bare", "instrumentator", "middleware")
# The worst case (the cheapest query there is), a read by primary key, and a
# request that holds its connection 20 ms, like most of the labs' requests.
PATHS = ("/lab/ping-db", "/users/{user_id}", "/lab/hold?ms=20")


def instrumentator_options() -> dict:
    """The instrumentator as the app had it: the same two series, in a registry of its own
    (their names would clash with ours in the app's)."""
    registry = CollectorRegistry()
    return {
        "excluded_handlers": ["/metrics"],
        "registry": registry,
        "instrumentations": [
            instrumentator_metrics.requests(registry=registry),
            instrumentator_metrics.latency(
                buckets=LATENCY_BUCKETS, should_include_status=False, registry=registry
            ),
        ],
    }


# ------------------------------------------------------------------ micro-benchmark
def micro_benchmark(n: int = 20_000) -> None:
    """µs per request of each way of recording, around an app that answers at once."""
    from labkit.app.main import create_app
    from labkit.app.settings import AppSettings

    # The real app's route table, for the instrumentator to match against (no database
    # is touched: nothing here runs the app's lifespan).
    routes_app = create_app(AppSettings(database_url="postgresql://unused/none", metrics=False))
    route = SimpleNamespace(path="/users/{user_id}")  # stands in for the APIRoute routing picks

    async def answer(scope, receive, send) -> None:  # what routing leaves, then a 200
        scope["route"] = route
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message) -> None:
        pass

    def scope() -> dict:
        return {
            "type": "http", "method": "GET", "path": "/users/42", "raw_path": b"/users/42",
            "root_path": "", "query_string": b"", "headers": [], "app": routes_app,
        }  # fmt: skip

    old = PrometheusInstrumentatorMiddleware(answer, **instrumentator_options())
    new = HttpMetricsMiddleware(answer, metrics=HttpMetrics(CollectorRegistry()))

    async def per_request_us(asgi) -> float:
        best = float("inf")
        for _ in range(5):  # best of 5: the least disturbed by other work on the machine
            started = time.perf_counter()
            for _ in range(n):
                await asgi(scope(), receive, send)
            best = min(best, (time.perf_counter() - started) / n * 1e6)
        return best

    async def measure() -> dict[str, float]:
        variants = {"no middleware": answer, "instrumentator": old, "middleware": new}
        return {name: await per_request_us(asgi) for name, asgi in variants.items()}

    costs = asyncio.run(measure())
    base = costs.pop("no middleware")
    print(f"Recording one request, no app and no network around it ({n} calls, best of 5):")
    for name, us in costs.items():
        print(f"  {name:<15} {us - base:6.1f} µs per request")

    counter = Counter("c", "c", ["handler", "method", "status"], registry=CollectorRegistry())
    child = counter.labels("/users/{user_id}", "GET", "2xx")

    def look_up_and_inc() -> None:
        counter.labels("/users/{user_id}", "GET", "2xx").inc()

    lookup = min(timeit.repeat(look_up_and_inc, number=n, repeat=5)) / n * 1e6
    cached = min(timeit.repeat(child.inc, number=n, repeat=5)) / n * 1e6
    print(f"  labels(...).inc() {lookup:5.2f} µs, a cached child's .inc() {cached:5.2f} µs")


# ------------------------------------------------------------------ end to end
class Variants:
    """One app, three ways of serving it, swapped between runs in the same process.

    Comparing separate processes adds each process's own luck (hash seed, memory
    layout: a few per cent either way, more than what is measured here). So one
    app serves all three variants, and a run switches between ASGI stacks built
    from the same app:

    - bare: the app without the HTTP middleware, no acquire observer, not scraped;
    - instrumentator: prometheus-fastapi-instrumentator's middleware instead of ours;
    - middleware: the app as it ships.

    The instrumented variants are scraped every second, as Prometheus would.
    """

    def __init__(self, app) -> None:
        self.app = app
        # The benchmark reaches into the running app: no public API swaps its middleware.
        fastapi_app = app._fastapi_app
        shipped = list(fastapi_app.user_middleware)
        without_ours = [m for m in shipped if m.cls is not HttpMetricsMiddleware]
        assert len(without_ours) == len(shipped) - 1, "the app no longer has HttpMetricsMiddleware"
        instrumentator = Middleware(PrometheusInstrumentatorMiddleware, **instrumentator_options())
        at = shipped.index(next(m for m in shipped if m.cls is HttpMetricsMiddleware))
        self.stacks = {}
        for variant, middleware in (
            ("bare", without_ours),
            ("instrumentator", [*shipped[:at], instrumentator, *shipped[at + 1 :]]),
            ("middleware", shipped),
        ):
            fastapi_app.user_middleware = middleware
            self.stacks[variant] = fastapi_app.build_middleware_stack()
        fastapi_app.user_middleware = shipped
        self.observer = app.pool.acquire_observer
        self.scraping = threading.Event()

    def use(self, variant: str) -> None:
        """Serve the next requests the ``variant`` way (call between runs, never during one)."""
        self.app._fastapi_app.middleware_stack = self.stacks[variant]
        self.app.pool.acquire_observer = None if variant == "bare" else self.observer
        if variant == "bare":
            self.scraping.clear()
        else:
            self.scraping.set()

    def scrape_every_second(self, stop: threading.Event) -> None:
        """Prometheus's share of the cost, while an instrumented variant serves."""
        with httpx.Client() as client:
            while not stop.wait(1.0):
                if self.scraping.is_set():
                    with contextlib.suppress(httpx.HTTPError):  # a slow scrape: the next one
                        client.get(f"{self.app.url}/metrics")


def busy_cpu_s() -> float:
    """CPU seconds the whole machine has spent busy (all processes, all cores)."""
    times = psutil.cpu_times()
    return sum(
        getattr(times, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq", "steal")
    )


def measure(app, path: str, requests: int) -> tuple[float, float, float]:
    """Throughput (req/s), this process's CPU per request (µs), other processes' load (cores)."""
    machine, ours, wall = busy_cpu_s(), time.process_time(), time.perf_counter()
    result = run_load(app, path, requests=requests, concurrency=8, progress=False)
    wall, ours = time.perf_counter() - wall, time.process_time() - ours
    others = max(0.0, busy_cpu_s() - machine - ours) / wall
    return result.summary.throughput_rps, ours / result.summary.requests * 1e6, others


def serve_variants(dsn: str, orders: Connection) -> None:
    """In a process of its own, as in a notebook's kernel: the app and its load generator.

    Runs each ``(variant, path, requests)`` it is sent and answers the figures.
    """
    app = start_app(minsize=4, maxsize=4, database=dsn)
    user = httpx.post(
        f"{app.url}/users", json={"email": f"bench-{time.time_ns()}@example.org", "name": "B"}
    ).json()
    concrete = {path: path.replace("{user_id}", str(user["id"])) for path in PATHS}
    variants = Variants(app)
    stop = threading.Event()
    scraper = threading.Thread(target=variants.scrape_every_second, args=(stop,), daemon=True)
    scraper.start()
    try:
        for variant in VARIANTS:
            variants.use(variant)
            for path in PATHS:
                run_load(app, concrete[path], requests=300, concurrency=8, progress=False)  # warm
        orders.send("ready")
        while (order := orders.recv()) is not None:
            variant, path, requests = order
            variants.use(variant)
            # The other variants ran meanwhile: warm this one's caches again, briefly.
            run_load(app, concrete[path], requests=50, concurrency=8, progress=False)
            orders.send(measure(app, concrete[path], requests))
    finally:
        stop.set()
        scraper.join()
        app.stop()


def change(variant: list[float], bare: list[float], sign: int) -> tuple[float, float, list[float]]:
    """Per cent more (sign=+1) or less (sign=-1) than bare: of the medians, of the best
    rounds, and round by round.

    Other work on the machine only ever slows a round down, so the best round of
    each variant (fastest, or least CPU) is the least disturbed, as timeit's minimum.
    """
    best = max if sign < 0 else min
    of_medians = sign * 100 * (statistics.median(variant) / statistics.median(bare) - 1)
    of_bests = sign * 100 * (best(variant) / best(bare) - 1)
    per_round = [sign * 100 * (x / b - 1) for x, b in zip(variant, bare, strict=True)]
    return of_medians, of_bests, per_round


def listed(values: list[float], fmt: str) -> str:
    return ", ".join(f"{v:{fmt}}" for v in values)


def figures(values: list[float]) -> str:
    """The median, then every round's figure."""
    return f"{statistics.median(values):.0f} ({listed(values, '.0f')})"


@contextlib.contextmanager
def bench_process(dsn: str) -> Iterator[Connection]:
    """A fresh process serving the app's three variants; yields where to send it orders."""
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no Tortoise state
    ours, theirs = spawn.Pipe()
    process = spawn.Process(target=serve_variants, args=(dsn, theirs))
    process.start()
    try:
        if not ours.poll(120) or ours.recv() != "ready":
            sys.exit("the app did not start")
        yield ours
    finally:
        with contextlib.suppress(OSError):
            ours.send(None)
        process.join(30)
        if process.is_alive():
            process.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--requests", type=int, default=1000, help="per run (a quarter on hold)")
    parser.add_argument(
        "--rounds-per-process",
        type=int,
        default=5,
        help="start fresh processes after this many rounds (see the docstring)",
    )
    parser.add_argument("--skip-micro", action="store_true", help="only the end-to-end runs")
    args = parser.parse_args()

    if not args.skip_micro:
        micro_benchmark()
        print()

    database = ensure_database()
    # (path, variant) -> one figure per round
    rates: dict[tuple[str, str], list[float]] = {(p, v): [] for p in PATHS for v in VARIANTS}
    cpu_us: dict[tuple[str, str], list[float]] = {(p, v): [] for p in PATHS for v in VARIANTS}
    others: list[float] = []
    for first in range(0, args.rounds, args.rounds_per_process):
        with bench_process(database.dsn) as orders:
            for round_no in range(first, min(first + args.rounds_per_process, args.rounds)):
                order = VARIANTS[round_no % 3 :] + VARIANTS[: round_no % 3]
                for path in PATHS:
                    count = args.requests // 4 if "hold" in path else args.requests
                    for variant in order:
                        orders.send((variant, path, count))
                        rate, cpu, other = orders.recv()
                        rates[path, variant].append(rate)
                        cpu_us[path, variant].append(cpu)
                        others.append(other)

    print(
        f"{args.requests} requests ({args.requests // 4} on /lab/hold) x {args.rounds} rounds "
        "per variant, concurrency 8, the variants' runs alternating in rotating order,\n"
        f"fresh processes every {args.rounds_per_process} rounds. "
        "Figures: the median over the rounds (each round's in brackets).\n"
        "Overheads: from the medians (each round's; and from each variant's best round)."
    )
    for path in PATHS:
        print(path)
        for v in VARIANTS:
            print(
                f"  {v:<15} {figures(rates[path, v])} req/s, {figures(cpu_us[path, v])} µs CPU/req"
            )
        for v in VARIANTS[1:]:
            lost, lost_best, lost_rounds = change(rates[path, v], rates[path, "bare"], -1)
            extra, extra_best, extra_rounds = change(cpu_us[path, v], cpu_us[path, "bare"], +1)
            print(
                f"  {v} overhead: throughput {lost:.1f} % ({listed(lost_rounds, '.1f')}; "
                f"best rounds {lost_best:.1f} %)\n"
                f"  {' ' * len(v)}           CPU per request {extra:+.1f} % "
                f"({listed(extra_rounds, '+.1f')}; best rounds {extra_best:+.1f} %)"
            )
    print(
        f"Other processes kept {statistics.median(others):.1f} of the machine's "
        f"{psutil.cpu_count()} cores busy (median over the runs; max {max(others):.1f})."
    )


if __name__ == "__main__":
    main()
