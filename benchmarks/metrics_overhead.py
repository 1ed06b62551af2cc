"""What /metrics costs: the bare app against the old and the new HTTP instrumentation.

    python benchmarks/metrics_overhead.py [--rounds 10] [--requests 1000]

Three variants of the example app:

- bare: no /metrics at all (``metrics=False``);
- instrumentator: /metrics with the HTTP series recorded by
  prometheus-fastapi-instrumentator (the app's way before), same two series;
- middleware: /metrics as the app has it now (``labkit.app.http_metrics``).

Both instrumented variants have the pool's acquire observer (the same, cached
children) and are scraped every second, as Prometheus would; they differ only in
how HTTP requests are recorded.

Tortoise keeps one global context per process, so each variant runs in a
process of its own, with its load generator beside it as in a notebook's
kernel. Their runs alternate (the order rotates from round to round), a second
or so each, so that whatever else the machine is doing hits them alike. Every
--rounds-per-process rounds, three fresh processes take over: a process's hash
seed and memory layout alone move its speed by a few per cent (run the same
variant three times and see), and that must average out too. Figures are
medians over the rounds, then each round's.

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
from unittest import mock

import httpx
import psutil
from prometheus_client import CollectorRegistry, Counter
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as instrumentator_metrics
from prometheus_fastapi_instrumentator.middleware import PrometheusInstrumentatorMiddleware

from labkit.app import observability
from labkit.app.http_metrics import HttpMetrics, HttpMetricsMiddleware
from labkit.app.metrics import LATENCY_BUCKETS
from labkit.infra.database import ensure_database
from labkit.infra.load import run_load
from labkit.infra.runner import start_app

VARIANTS = ("bare", "instrumentator", "middleware")
# The worst case (the cheapest query there is), a read by primary key, and a
# request that holds its connection 20 ms, like most of the labs' requests.
PATHS = ("/lab/ping-db", "/users/{user_id}", "/lab/hold?ms=20")


def instrument_with_instrumentator(app, registry: CollectorRegistry) -> None:
    """The app's HTTP metrics before: the instrumentator, with the same two series."""
    instrumentator = Instrumentator(registry=registry, excluded_handlers=["/metrics"])
    instrumentator.add(instrumentator_metrics.requests(registry=registry))
    instrumentator.add(
        instrumentator_metrics.latency(
            buckets=LATENCY_BUCKETS, should_include_status=False, registry=registry
        )
    )
    instrumentator.instrument(app)


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

    old_registry = CollectorRegistry()
    old = PrometheusInstrumentatorMiddleware(
        answer,
        excluded_handlers=["/metrics"],
        registry=old_registry,
        instrumentations=[
            instrumentator_metrics.requests(registry=old_registry),
            instrumentator_metrics.latency(
                buckets=LATENCY_BUCKETS, should_include_status=False, registry=old_registry
            ),
        ],
    )
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
@contextlib.contextmanager
def http_instrumentation(variant: str):
    """While the app is (re)built, record its HTTP metrics the ``variant`` way."""
    if variant == "instrumentator":
        with mock.patch.object(observability, "instrument_http", instrument_with_instrumentator):
            yield
    else:
        yield


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


def serve_variant(variant: str, dsn: str, orders: Connection) -> None:
    """In a process of its own, as in a notebook's kernel: the app as ``variant``, and its
    load generator, which runs each ``(path, requests)`` it is sent and answers the figures."""
    with http_instrumentation(variant):
        app = start_app(minsize=4, maxsize=4, database=dsn)
    if variant == "bare":
        app.restart(metrics=False)
    user = httpx.post(
        f"{app.url}/users", json={"email": f"bench-{time.time_ns()}@example.org", "name": "B"}
    ).json()
    concrete = {path: path.replace("{user_id}", str(user["id"])) for path in PATHS}
    stop = threading.Event()

    def scrape() -> None:  # Prometheus's share of the cost: one scrape a second
        with httpx.Client() as client:
            while not stop.wait(1.0):
                with contextlib.suppress(httpx.HTTPError):  # a slow scrape: try the next one
                    client.get(f"{app.url}/metrics")

    scraper = threading.Thread(target=scrape, daemon=True)
    if app.settings.metrics:
        scraper.start()
    try:
        for path in PATHS:
            run_load(app, concrete[path], requests=300, concurrency=8, progress=False)  # warm
        orders.send("ready")
        while (order := orders.recv()) is not None:
            path, requests = order
            # The other variants ran meanwhile: warm this one's caches again, briefly.
            run_load(app, concrete[path], requests=50, concurrency=8, progress=False)
            orders.send(measure(app, concrete[path], requests))
    finally:
        stop.set()
        if scraper.is_alive():
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
def variant_processes(dsn: str) -> Iterator[dict[str, Connection]]:
    """One process per variant, each serving its app; yields where to send each its orders."""
    spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no Tortoise state
    workers = {}
    try:
        for variant in VARIANTS:
            ours, theirs = spawn.Pipe()
            process = spawn.Process(target=serve_variant, args=(variant, dsn, theirs))
            process.start()
            workers[variant] = (process, ours)
        for variant, (_, orders) in workers.items():
            if not orders.poll(120) or orders.recv() != "ready":
                sys.exit(f"the {variant} app did not start")
        yield {variant: orders for variant, (_, orders) in workers.items()}
    finally:
        for _, orders in workers.values():
            with contextlib.suppress(OSError):
                orders.send(None)
        for process, _ in workers.values():
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
        with variant_processes(database.dsn) as workers:
            for round_no in range(first, min(first + args.rounds_per_process, args.rounds)):
                order = VARIANTS[round_no % 3 :] + VARIANTS[: round_no % 3]
                for path in PATHS:
                    count = args.requests // 4 if "hold" in path else args.requests
                    for variant in order:
                        workers[variant].send((path, count))
                        rate, cpu, other = workers[variant].recv()
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
