"""Finding and ending the processes a kernel left behind (servers outlive kernels)."""

from __future__ import annotations

import contextlib

import psutil


def process_tree(pid: int, must_mention: str) -> list[psutil.Process]:
    """Process ``pid`` and its children, if its command line mentions ``must_mention``.

    A pid read from a file may have been reused by an unrelated process since, and a
    zombie still answers kill(pid, 0): both count as gone (an empty list).
    """
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return []
        if must_mention not in " ".join(process.cmdline()):
            return []
        return [process, *process.children(recursive=True)]
    except psutil.Error:
        return []


def end_processes(processes: list[psutil.Process], timeout: float = 10.0) -> None:
    """Wait up to ``timeout`` s for ``processes`` to exit after a polite request, then kill.

    The caller asks politely first (SIGTERM, ``pg_ctl stop``); whatever is still alive
    after ``timeout`` is killed, so nothing is left behind.
    """
    _, alive = psutil.wait_procs(processes, timeout=timeout)
    for process in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.kill()
    psutil.wait_procs(alive, timeout=5)


def terminate(processes: list[psutil.Process], timeout: float = 10.0) -> None:
    """SIGTERM each of ``processes``, then :func:`end_processes`."""
    for process in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            process.terminate()
    end_processes(processes, timeout)
