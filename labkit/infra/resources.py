"""What this process may really use: CPUs and memory, container quotas included.

``os.cpu_count()`` is the host's count. A JupyterHub or Binder container usually gets
fewer: an affinity mask (the CPUs the scheduler lets us run on) and a cgroup CPU quota
(``cpu.max`` in cgroup v2, ``cpu.cfs_quota_us`` / ``cpu.cfs_period_us`` in v1).
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def _cgroup_cpu_quota() -> float | None:
    """CPUs allowed by the cgroup quota (e.g. 1.5), or None when there is no quota."""
    try:  # cgroup v2: "max 100000" or "150000 100000"
        quota, period = (CGROUP / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1
        quota = int((CGROUP / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((CGROUP / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def usable_cpus() -> float:
    """The CPUs this process may use: affinity mask and cgroup quota, whichever is smaller.

    >>> usable_cpus() > 0
    True
    """
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    counts = [c for c in (allowed, _cgroup_cpu_quota(), os.cpu_count()) if c]
    return min(counts) if counts else 1.0


def usable_cores() -> int:
    """:func:`usable_cpus` rounded up to whole cores (a 1.5-CPU quota can run 2 at once)."""
    return max(1, math.ceil(usable_cpus() - 1e-9))


def memory_limit_bytes() -> int | None:
    """The cgroup memory limit, or None when there is none (then the host's RAM applies)."""
    for path in (CGROUP / "memory.max", CGROUP / "memory" / "memory.limit_in_bytes"):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text == "max" or not text.isdigit() or int(text) >= 1 << 60:
            return None
        return int(text)
    return None
