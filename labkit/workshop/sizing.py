"""How many learners one host carries, from figures measured in a rehearsal.

Two limits, and the smaller one wins:

- **memory**: every learner's processes at their peak (PSS: the Jupyter server,
  the kernel with its app, app workers, PgBouncer, PostgreSQL, Prometheus) must fit
  beside the hub and the operating system: ``(RAM - os_reserve - hub) / learner_peak``;
- **CPU**: when a room presses "Run all" in the same minute, each learner keeps
  ``learner_cores`` busy on average for the notebook's length (its CPU-seconds
  divided by its seconds, measured alone). The labs time things (latency,
  throughput, queues), so the host should stay below ``cpu_share`` of its cores,
  or its own run queue shows up in every learner's figures:
  ``cpu_share x cores / learner_cores``.

>>> learners_per_host(2, 8, learner_peak_mb=300, learner_cores=0.2, hub_mb=150)
{'cores': 2, 'ram_gib': 8, 'memory_bound': 23, 'cpu_bound': 7, 'learners': 7, 'bound_by': 'cpu'}
"""

from __future__ import annotations

import math

OS_RESERVE_MB = 1024  # the kernel, sshd, page cache for the environment's files
CPU_SHARE = 0.7


def learners_per_host(
    cores: int,
    ram_gib: float,
    *,
    learner_peak_mb: float,
    learner_cores: float,
    hub_mb: float,
    os_reserve_mb: float = OS_RESERVE_MB,
    cpu_share: float = CPU_SHARE,
) -> dict:
    """The learners a ``cores``-core, ``ram_gib``-GiB host carries, and which limit binds."""
    if min(learner_peak_mb, learner_cores) <= 0:
        raise ValueError("the per-learner figures must be positive: measure them first")
    memory = max(math.floor((ram_gib * 1024 - os_reserve_mb - hub_mb) / learner_peak_mb), 0)
    # A hair under the exact quotient: 0.7 x 2 / 0.2 is 6.999... in binary floating point.
    cpu = math.floor(cpu_share * cores / learner_cores + 1e-9)
    return {
        "cores": cores,
        "ram_gib": ram_gib,
        "memory_bound": memory,
        "cpu_bound": cpu,
        "learners": min(memory, cpu),
        "bound_by": "memory" if memory < cpu else "cpu",
    }
