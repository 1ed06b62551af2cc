"""How long the lab takes to come up: prints figures, asserts nothing.

    python benchmarks/startup.py [--runs 3]

Measures, in a fresh LABKIT_HOME (so your own lab database is untouched):
- the embedded server's first start, initdb included;
- its start after a clean stop;
- reattaching to the running server;
- start_app() until the app's first 200;
- resident memory of this process (kernel stand-in + app) and of the postgres processes.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import psutil


def timed(fn) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return time.perf_counter() - started, result


def postgres_rss_mb(pid: int) -> float:
    parent = psutil.Process(pid)
    procs = [parent, *parent.children(recursive=True)]
    return sum(p.memory_info().rss for p in procs) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="labkit-bench-"))
    home.chmod(0o755)
    os.environ["LABKIT_HOME"] = str(home)
    from labkit.infra.database import Database
    from labkit.infra.embedded import EmbeddedPostgres
    from labkit.infra.runner import start_app

    server = EmbeddedPostgres(home)
    figures: dict[str, list[float]] = {
        "first start, initdb included (s)": [],
        "start after stop (s)": [],
        "reattach (ms)": [],
        "start_app() to first 200 (s)": [],
    }
    try:
        for _ in range(args.runs):
            server.stop()
            shutil.rmtree(server.pgdata, ignore_errors=True)
            server.state_file.unlink(missing_ok=True)
            first, _ = timed(server.start)
            server.stop()
            again, running = timed(server.start)
            reattach, _ = timed(server.start)
            figures["first start, initdb included (s)"].append(first)
            figures["start after stop (s)"].append(again)
            figures["reattach (ms)"].append(reattach * 1000)

            database = Database("embedded", server.dsn(running))
            app_start, app = timed(lambda: start_app(database=database))  # noqa: B023
            figures["start_app() to first 200 (s)"].append(app_start)
            app_rss = psutil.Process().memory_info().rss / 2**20
            pg_rss = postgres_rss_mb(running.pid)
            app.stop()

        print(f"runs: {args.runs} (median, min, max)")
        for name, values in figures.items():
            print(
                f"  {name:<36} {statistics.median(values):8.3f}"
                f" {min(values):8.3f} {max(values):8.3f}"
            )
        print(f"  {'python process RSS, app running (MB)':<36} {app_rss:8.1f}")
        print(f"  {'postgres processes RSS (MB)':<36} {pg_rss:8.1f}")
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
