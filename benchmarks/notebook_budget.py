"""Each notebook's execution time and the memory it needs: prints figures, asserts nothing.

    python benchmarks/notebook_budget.py [notebooks/01_pool_principles.ipynb ...]

Runs each notebook headless as the test suite does, and samples every 0.2 s the
proportional set size (PSS) of the kernel (which runs the app too) and of all
postgres processes on the machine. The budgets are 60 s per notebook and 700 MB
for kernel, app and PostgreSQL together (notebooks 09 and 10, which start worker processes
and PgBouncer, have 90 s; their workers are counted with the kernel's children).

It also prints an estimate of a learner's time per notebook (the target is 15-25
minutes), from the notebook's text and cells; see
:func:`labkit.grading.lessons.learner_minutes` (tests/test_lesson_shape.py holds every
notebook to it).
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from pathlib import Path

import nbformat
import psutil
from nbclient import NotebookClient

from labkit.grading.lessons import learner_minutes

ROOT = Path(__file__).resolve().parent.parent


def rss_mb(processes: list[psutil.Process]) -> float:
    total = 0
    for proc in processes:
        with contextlib.suppress(psutil.Error):
            # PSS splits shared pages (PostgreSQL's shared buffers) among the processes
            # that map them, so the sum is not inflated by counting them once each.
            total += proc.memory_full_info().pss
    return total / 2**20


def postgres_processes() -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres"]


def run(path: Path) -> tuple[float, float, float]:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    peak = {"kernel": 0.0, "postgres": 0.0}
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            km = client.km
            if km is not None and km.has_kernel and km.provisioner is not None:
                pid = km.provisioner.pid
                kernel = psutil.Process(pid)
                peak["kernel"] = max(peak["kernel"], rss_mb([kernel, *kernel.children(True)]))
            peak["postgres"] = max(peak["postgres"], rss_mb(postgres_processes()))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - started
    done.set()
    watcher.join()
    return elapsed, peak["kernel"], peak["postgres"]


def main() -> None:
    paths = [Path(p) for p in sys.argv[1:]] or sorted((ROOT / "notebooks").glob("*.ipynb"))
    print(
        f"{'notebook':<34} {'seconds':>8} {'kernel+app MB':>14} {'postgres MB':>12} {'sum MB':>8}"
        f" {'learner min':>12}"
    )
    for path in paths:
        elapsed, kernel, postgres = run(path)
        print(
            f"{path.name:<34} {elapsed:8.1f} {kernel:14.0f} {postgres:12.0f} "
            f"{kernel + postgres:8.0f} {learner_minutes(path):12.0f}"
        )
    print_recorded_figures()


# experiment -> the figures worth reporting from it
HEADLINES = {
    "01.connect_cost": ["fresh_ms", "pooled_ms", "ratio"],
    "01.pooled_vs_unpooled": ["pooled_rps", "unpooled_rps", "ratio"],
    "02.knee": ["knee_maxsize", "knee_throughput_rps"],
    "02.littles_law": ["mean_in_use", "predicted_in_use", "error"],
    "02.cpu_bound": ["rule_of_thumb", "knee_maxsize", "best_throughput_rps"],
    "03.polling_staleness": ["wrong_fraction", "max_error", "max_staleness_s"],
    "04.exhaustion_no_timeout": ["peak_waiting", "count_200", "slowest_ms"],
    "04.exhaustion_timeout": ["peak_waiting", "count_200", "count_503"],
    "05.leak_detector": ["leaked_sessions_found", "idle_in_transaction_found"],
    "06.too_many_clients": ["needed", "max_connections", "pools_opened"],
    "07.article_config": ["rule_of_thumb", "max_connections", "workers_that_fit"],
    "08.article_users": ["duplicate_status_as_written", "down_status_as_meant", "down_status_kit"],
    "09.workers": ["maxsize", "connections_at_most_workers", "refused_at_workers"],
    "10.pgbouncer": [
        "default_pool_size",
        "client_connections",
        "server_connections_pgbouncer",
        "server_connections_direct",
        "direct_rps",
        "direct_p95_ms",
        "pgbouncer_rps",
        "pgbouncer_p95_ms",
    ],
    "10.queueing": ["utilisation", "predicted_mmc_ms", "measured_wait_ms"],
    "10.statement_cache": ["cached_us", "uncached_us", "ratio"],
}


def print_recorded_figures() -> None:
    """What the notebooks just measured, as they recorded it for the quizzes."""
    from labkit.infra.results import load_results

    results = load_results()
    print("\nfigures the notebooks recorded in this run:")
    for experiment, keys in HEADLINES.items():
        figures = results.get(experiment)
        if figures:
            shown = ", ".join(
                f"{k}={figures[k]:.3g}" if isinstance(figures[k], float) else f"{k}={figures[k]}"
                for k in keys
            )
            print(f"  {experiment:<26} {shown}")


if __name__ == "__main__":
    main()
