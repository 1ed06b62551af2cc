"""How many learners one host carries, from figures measured in a rehearsal.

Two limits, and the smaller one wins:

- **memory**: every learner's processes at their peak (PSS: the Jupyter server,
  the kernel with its app, PostgreSQL, Prometheus) must fit beside the hub and
  the operating system: ``(RAM - os_reserve - hub) / learner_peak``;
- **CPU**: when a room presses "Run all" in the same minute, N learners ask for
  ``N x cpu_s`` CPU-seconds within about one notebook's duration. The labs time
  things (latency, queueing), so the host should stay below ``cpu_share`` of its
  cores, or the host's own queue shows up in every learner's measurements:
  ``cpu_share x cores x notebook_s / cpu_s``.

>>> learners_per_host(2, 8, learner_peak_mb=300, learner_cpu_s=10, notebook_s=50, hub_mb=150)
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
    learner_cpu_s: float,
    notebook_s: float,
    hub_mb: float,
    os_reserve_mb: float = OS_RESERVE_MB,
    cpu_share: float = CPU_SHARE,
) -> dict:
    """The learners a ``cores``-core, ``ram_gib``-GiB host carries, and which limit binds."""
    if min(learner_peak_mb, learner_cpu_s, notebook_s) <= 0:
        raise ValueError("the per-learner figures must be positive: measure them first")
    memory = math.floor((ram_gib * 1024 - os_reserve_mb - hub_mb) / learner_peak_mb)
    cpu = math.floor(cpu_share * cores * notebook_s / learner_cpu_s)
    return {
        "cores": cores,
        "ram_gib": ram_gib,
        "memory_bound": max(memory, 0),
        "cpu_bound": cpu,
        "learners": max(min(memory, cpu), 0),
        "bound_by": "memory" if memory < cpu else "cpu",
    }
