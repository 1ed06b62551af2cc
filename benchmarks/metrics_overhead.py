"""What /metrics costs: the instrumented app's throughput against the bare app's.

    python benchmarks/metrics_overhead.py [--rounds 5] [--requests 2000]

The app runs in this process, as in a notebook. Tortoise keeps one global
context per process, so the two variants cannot run side by side: we alternate
them in one run (bare, instrumented, bare, ...) with a restart between, so that
machine noise hits both alike. The instrumented app has the HTTP middleware and
the pool's acquire observer, and is scraped every second as Prometheus would.
Target: 5% overhead or less. Expect more on the trivial endpoints, where a
request is a fraction of a millisecond of pure Python and every microsecond of
middleware shows; and next to nothing where the database does real work.
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import threading
import time

import httpx

from labkit.infra.load import run_load
from labkit.infra.runner import start_app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

    app = start_app(minsize=4, maxsize=4)
    user = httpx.post(
        f"{app.url}/users", json={"email": f"bench-{time.time()}@example.org", "name": "Bench"}
    ).json()
    # The worst case (the cheapest query there is), a read by primary key, and a
    # request that holds its connection 20 ms, like most of the labs' requests.
    paths = ["/lab/ping-db", f"/users/{user['id']}", "/lab/hold?ms=20"]
    stop = threading.Event()

    def scrape() -> None:  # Prometheus's share of the cost: one scrape a second
        with httpx.Client() as client:
            while not stop.wait(1.0):
                if app.settings.metrics:
                    with contextlib.suppress(httpx.HTTPError):  # mid-restart
                        client.get(f"{app.url}/metrics")

    scraper = threading.Thread(target=scrape, daemon=True)
    scraper.start()
    rates = {(path, name): [] for path in paths for name in ("bare", "instrumented")}
    try:
        for _ in range(args.rounds):
            for name in ("bare", "instrumented"):
                app.restart(metrics=name == "instrumented")
                for path in paths:
                    run_load(app, path, requests=300, concurrency=8, progress=False)  # warm
                    count = args.requests // 4 if "hold" in path else args.requests
                    result = run_load(app, path, requests=count, concurrency=8, progress=False)
                    rates[path, name].append(result.summary.throughput_rps)
    finally:
        stop.set()
        scraper.join()
        app.stop()

    print(f"{args.requests} requests x {args.rounds} rounds per variant, concurrency 8")
    for path in paths:
        b = statistics.median(rates[path, "bare"])
        i = statistics.median(rates[path, "instrumented"])
        print(f"{path}")
        for name in ("bare", "instrumented"):
            values = rates[path, name]
            rounds = ", ".join(f"{v:.0f}" for v in values)
            print(f"  {name:<13} {statistics.median(values):7.0f} req/s  (rounds: {rounds})")
        print(f"  overhead      {100 * (1 - i / b):6.1f} %  (instrumented / bare = {i / b:.3f})")


if __name__ == "__main__":
    main()
