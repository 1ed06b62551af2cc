"""Finding and ending the processes a kernel left behind (servers outlive kernels)."""

from __future__ import annotations

import contextlib
import shutil
from pathlib import Path

import psutil

from labkit.infra.jsonfile import read_json, write_json


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


# ------------------------------------------------------------ processes a kernel owns
# The kit starts some servers as separate processes (app workers, PgBouncer) in a new
# session, so that Ctrl-C in a notebook does not kill them mid-lab. A kernel that dies
# without stopping them would leave them running: each one therefore gets a folder with
# a run file naming it and the kernel that owns it, and the next start ends orphans.
RUN_FILE = "run.json"


def write_run_file(folder: Path, pid: int, must_mention: str) -> None:
    """Note in ``folder`` that this process (the owner) started process ``pid``."""
    me = psutil.Process()
    write_json(
        folder / RUN_FILE,
        {
            "pid": pid,
            "must_mention": must_mention,
            "owner": me.pid,
            "owner_started": me.create_time(),
        },
    )


def _owner_alive(run: dict) -> bool:
    try:
        owner = psutil.Process(run["owner"])
        # A pid is reused after its process dies: the start time tells them apart.
        return abs(owner.create_time() - run["owner_started"]) < 1.0
    except (psutil.Error, KeyError, TypeError):
        return False


def end_orphans(parent: Path) -> int:
    """End every process under ``parent`` whose owner has died; remove its folder.

    Returns how many processes were ended. Folders of a live owner (another kernel
    of this user, say) are left alone.
    """
    ended = 0
    for run_file in sorted(parent.glob(f"*/{RUN_FILE}")):
        run = read_json(run_file, {})
        if _owner_alive(run):
            continue
        processes = process_tree(int(run.get("pid", 0)), run.get("must_mention", "\0"))
        terminate(processes, timeout=5)
        ended += len(processes)
        shutil.rmtree(run_file.parent, ignore_errors=True)
    return ended
