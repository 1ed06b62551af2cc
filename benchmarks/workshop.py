"""A workshop's cost per learner: one learner alone, then N at once, on a real JupyterHub.

    sudo .venv/bin/python benchmarks/workshop.py [--notebook NAME ...] [--learners 3]
                                                 [--json workshop.json]

Root: it makes throw-away learner accounts (removed after) and reads their
processes' memory. Each learner first starts their database (the first start's
initdb is not the notebook's cost). Then, for each notebook named (default: 02
to 10), learner 1 runs it alone; the heaviest in memory and the one that keeps
the most cores busy are each run by all N learners at the same time. The
sizing takes the worst figure of any notebook for each limit: the highest peak
memory, and the most cores kept busy on average (CPU-seconds / seconds).
Prints per-learner peak PSS, CPU seconds and notebook time, alone and at once,
the host's load, and the learners-per-host arithmetic of docs/workshop.md for a
2-core 8 GB host, a 16-core 64 GB host and this one.
Asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import psutil

from labkit.workshop.rehearsal import rehearsal
from labkit.workshop.remote import printed
from labkit.workshop.sizing import learners_per_host
from labkit.workshop.usage import pss_bytes

ROOT = Path(__file__).resolve().parent.parent
# 00 and 01 are short and light; these are the contenders.
DEFAULT_NOTEBOOKS = [
    "02_parameter_tuning.ipynb",
    "03_prometheus_monitoring.ipynb",
    "04_pool_exhaustion.ipynb",
    "05_connection_leaks.ipynb",
    "06_too_many_clients_and_keepalive.ipynb",
    "07_article_config.ipynb",
    "08_article_code.ipynb",
    "09_scaling_out.ipynb",
    "10_pgbouncer_under_load.ipynb",
]
HOSTS = [(2, 8), (16, 64)]


def hub_pss_mb(hub) -> float:
    """The hub, its proxy and its services (the culler), together.

    The learners' servers are the hub's children too, under their own accounts:
    only the processes running as the hub's own user count here.
    """
    process = psutil.Process(hub.process.pid)
    uid = process.uids().real
    own = [p for p in [process, *process.children(recursive=True)] if p.uids().real == uid]
    return pss_bytes(own) / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebook", action="append", help="notebooks/NAME; repeatable")
    parser.add_argument("--learners", type=int, default=3)
    parser.add_argument("--json", help="also write every figure to this file")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("run as root: it creates learner accounts and reads their memory", file=sys.stderr)
        return 2
    candidates = args.notebook or DEFAULT_NOTEBOOKS
    figures: dict = {"learners": args.learners, "alone": {}, "host_cpus": psutil.cpu_count()}

    with rehearsal(ROOT, learners=args.learners) as class_:
        names = class_.names
        figures["servers_ready_s"] = round(class_.api.start_servers(names), 1)
        started = time.perf_counter()
        for name in names:  # everyone's first start (initdb) before anything is timed
            print(printed(class_.execute(name, "import labkit; print(labkit.ensure_database())")))
        figures["first_database_starts_s"] = round(time.perf_counter() - started, 1)
        figures["hub_pss_mb"] = round(hub_pss_mb(class_.hub), 1)

        for notebook in candidates:
            nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
            report, _ = class_.run_notebooks({names[0]: nb})
            figures["alone"][notebook] = report
            alone = report["learners"][names[0]]
            print(
                f"alone   {notebook:<34} {alone['notebook_s']:6.1f} s  "
                f"peak {alone['peak_pss_mb']:6.0f} MB  cpu {alone['cpu_s']:5.1f} s "
                f"({alone['cpu_s'] / alone['notebook_s']:.2f} cores)  "
                f"load1 {report['peak_load1']:.2f}",
                flush=True,
            )

        def alone(name: str) -> dict:
            return figures["alone"][name]["learners"][names[0]]

        # The heaviest two ways, each run by every learner at once: the most memory,
        # and the most cores kept busy (the same notebook when one is both).
        heaviest = list(
            dict.fromkeys(
                [
                    max(candidates, key=lambda n: alone(n)["peak_pss_mb"]),
                    max(candidates, key=lambda n: alone(n)["cpu_s"] / alone(n)["notebook_s"]),
                ]
            )
        )
        figures["at_once"] = {}
        for notebook in heaviest:
            nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
            report, _ = class_.run_notebooks({name: nb for name in names})
            figures["at_once"][notebook] = report
            for name in names:
                row = report["learners"][name]
                print(
                    f"at once {notebook:<34} {row['notebook_s']:6.1f} s  "
                    f"peak {row['peak_pss_mb']:6.0f} MB  cpu {row['cpu_s']:5.1f} s   ({name})"
                )
            print(
                f"at once: peak total {report['peak_total_pss_mb']:.0f} MB, peak load1 "
                f"{report['peak_load1']:.2f} on {report['cpus']} CPUs, host CPU "
                f"{report['host_cpu_percent']:.0f}% (other work on the host included)",
                flush=True,
            )

    alone_rows = {n: a["learners"][names[0]] for n, a in figures["alone"].items()}
    at_once_rows = [r for a in figures["at_once"].values() for r in a["learners"].values()]
    # Memory: the largest peak of any notebook alone or of any learner at once.
    peak_mb = max(
        *(r["peak_pss_mb"] for r in at_once_rows), *(r["peak_pss_mb"] for r in alone_rows.values())
    )
    busiest = max(alone_rows, key=lambda n: alone_rows[n]["cpu_s"] / alone_rows[n]["notebook_s"])
    cores = alone_rows[busiest]["cpu_s"] / alone_rows[busiest]["notebook_s"]
    figures["sizing_inputs"] = {
        "learner_peak_mb": peak_mb,
        "learner_cores": round(cores, 3),
        "busiest_notebook": busiest,
        "hub_mb": figures["hub_pss_mb"],
    }
    this_host = (psutil.cpu_count(), round(psutil.virtual_memory().total / 2**30, 1))
    figures["hosts"] = [
        learners_per_host(
            host_cores,
            ram,
            learner_peak_mb=peak_mb,
            learner_cores=cores,
            hub_mb=figures["hub_pss_mb"],
        )
        for host_cores, ram in [*HOSTS, this_host]
    ]
    print(
        f"\nper learner, the worst of every run: peak {peak_mb:.0f} MB; {cores:.2f} cores busy "
        f"on average through {busiest} alone; the hub {figures['hub_pss_mb']:.0f} MB"
    )
    for host in figures["hosts"]:
        print(
            f"{host['cores']:>2} cores {host['ram_gib']:>3} GiB: memory allows "
            f"{host['memory_bound']}, CPU allows {host['cpu_bound']} -> {host['learners']} "
            f"learners ({host['bound_by']} binds)"
        )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
