"""What each learner costs the host: memory (PSS), CPU seconds, and the host's load.

PSS (proportional set size) divides each shared page among the processes that
map it, so the sum over a learner's processes counts PostgreSQL's shared buffers
and the shared libraries once, not once per process as RSS would. Reading
another account's PSS needs root.

>>> with UsageSampler({"ada": 1001, "alan": 1002}) as usage:     # doctest: +SKIP
...     run_the_workshop()
>>> usage.report()["ada"]["peak_pss_mb"]                          # doctest: +SKIP
412.3
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field

import psutil

from labkit.workshop.accounts import processes_of


def pss_bytes(processes: list[psutil.Process]) -> int:
    total = 0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += process.memory_full_info().pss
    return total


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """CPU time of the live processes, plus that of their children already reaped.

    PostgreSQL's backends come and go with connections; their time lands in the
    postmaster's children_* fields when it reaps them, so it is not lost.
    """
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            t = process.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


@dataclass
class UsageSampler:
    """Samples, every ``interval`` s in a thread, each learner's PSS and the load average."""

    uids: dict[str, int]
    interval: float = 0.5
    peak_pss: dict[str, int] = field(default_factory=dict)
    peak_total_pss: int = 0
    cpu_start: dict[str, float] = field(default_factory=dict)
    cpu_end: dict[str, float] = field(default_factory=dict)
    peak_load1: float = 0.0
    samples: int = 0
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def __enter__(self) -> UsageSampler:
        self.started = time.monotonic()
        psutil.cpu_percent()  # starts the host-wide CPU counter
        self.cpu_start = {n: cpu_seconds(processes_of(u)) for n, u in self.uids.items()}
        self._thread = threading.Thread(target=self._run, name="usage-sampler", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self.seconds = time.monotonic() - self.started
        self.host_cpu_percent = psutil.cpu_percent()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for name, uid in self.uids.items():
                processes = processes_of(uid)
                pss = pss_bytes(processes)
                total += pss
                self.peak_pss[name] = max(self.peak_pss.get(name, 0), pss)
                # CPU is cumulative: the last reading before a learner's processes end.
                self.cpu_end[name] = max(self.cpu_end.get(name, 0.0), cpu_seconds(processes))
            self.peak_total_pss = max(self.peak_total_pss, total)
            self.peak_load1 = max(self.peak_load1, os.getloadavg()[0])
            self.samples += 1
            self._stop.wait(self.interval)

    def report(self) -> dict:
        """Per learner: peak PSS (MB) and CPU seconds; and the host's figures."""
        learners = {
            name: {
                "peak_pss_mb": round(self.peak_pss.get(name, 0) / 2**20, 1),
                "cpu_s": round(self.cpu_end.get(name, 0.0) - self.cpu_start.get(name, 0.0), 1),
            }
            for name in self.uids
        }
        return {
            "learners": learners,
            "peak_total_pss_mb": round(self.peak_total_pss / 2**20, 1),
            "peak_load1": round(self.peak_load1, 2),
            "host_cpu_percent": round(self.host_cpu_percent, 1),
            "seconds": round(self.seconds, 1),
            "samples": self.samples,
            "cpus": psutil.cpu_count(),
        }
