"""The example app as N worker processes, each with its own pool, against the real database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
from conftest import fetch

from labkit.infra.load import run_load
from labkit.infra.processes import end_orphans
from labkit.infra.workers import FACTORY, WorkerStartError, start_workers
from labkit.labs.scale_out import connection_ladder, leftovers


def sessions_by_name(dsn: str, names: list[str]) -> dict[str, int]:
    rows = fetch(
        dsn,
        "SELECT application_name, count(*) AS n FROM pg_stat_activity "
        "WHERE application_name = ANY($1::text[]) GROUP BY 1",
        names,
    )
    return {row["application_name"]: row["n"] for row in rows}


def test_each_worker_holds_its_own_pool_and_stopping_leaves_nothing(database):
    group = start_workers(2, maxsize=3, minsize=3, database=database)
    try:
        assert len(group.urls) == 2 and len(set(group.urls)) == 2
        assert sessions_by_name(database.dsn, group.application_names) == {
            name: 3 for name in group.application_names
        }
        assert [w.pool_status()["size"] for w in group.workers] == [3, 3]
        pids = [w.process.pid for w in group.workers]
        folders = [w.folder for w in group.workers]
        names = group.application_names
    finally:
        group.stop()
    assert not any(
        psutil.pid_exists(pid) and psutil.Process(pid).status() != "zombie" for pid in pids
    )
    assert sessions_by_name(database.dsn, names) == {}
    assert not any(folder.exists() for folder in folders)
    assert group.workers == []


def test_load_is_spread_round_robin_over_the_workers(database):
    group = start_workers(2, maxsize=2, minsize=1, database=database)
    try:
        result: dict = {}
        runner = threading.Thread(
            target=lambda: result.update(
                run=run_load(group.urls, "/lab/hold", params={"ms": 600}, requests=2, concurrency=2)
            )
        )
        runner.start()
        time.sleep(0.35)  # both requests are inside pg_sleep now
        active = fetch(
            database.dsn,
            "SELECT application_name, count(*) AS n FROM pg_stat_activity "
            "WHERE application_name = ANY($1::text[]) AND state = 'active' GROUP BY 1",
            group.application_names,
        )
        runner.join()
        assert {row["application_name"]: row["n"] for row in active} == {
            name: 1 for name in group.application_names
        }
        assert result["run"].summary.statuses == {200: 2}
    finally:
        group.stop()


def test_adding_workers_reaches_too_many_clients_without_changing_the_pool(database):
    limit = int(fetch(database.dsn, "SHOW max_connections")[0][0])
    maxsize = limit // 2 + 1  # one worker fits, two do not
    group = start_workers(0, maxsize=maxsize, minsize=maxsize, database=database)
    try:
        ladder = connection_ladder(group, steps=(1, 2))
        one, two = ladder.steps
        assert one.refused is None and one.workers_sessions == maxsize == one.predicted
        assert two.refused == (
            "asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already"
        )
        assert two.running == 1 and ladder.refused_at == 2
        assert len(group.workers) == 1  # the worker that came up keeps running
    finally:
        group.stop()
    assert leftovers(database.dsn)["worker sessions"] == 0


def test_a_worker_that_cannot_start_says_why(database):
    bad_url = "postgresql://labkit:wrong@127.0.0.1:1/labkit"  # nothing listens on port 1
    with pytest.raises(WorkerStartError, match="did not start") as caught:
        start_workers(1, database=bad_url)
    assert caught.value.error_line.startswith("ConnectionRefusedError:")
    assert caught.value.error_line in str(caught.value)


def test_workers_left_by_a_killed_kernel_are_ended_by_the_next_start(database):
    # A "kernel" starts a worker, then dies by SIGKILL: its worker (a new session) lives on.
    code = (
        "import time\n"
        "from labkit.infra.workers import start_workers\n"
        "group = start_workers(1, maxsize=1, minsize=1)\n"
        "print(group.workers[0].process.pid, flush=True)\n"
        "time.sleep(120)\n"
    )
    kernel = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, text=True, env=dict(os.environ)
    )
    try:
        orphan = int(kernel.stdout.readline())
        os.kill(kernel.pid, signal.SIGKILL)
        kernel.wait(10)
        assert FACTORY in " ".join(psutil.Process(orphan).cmdline())
        group = start_workers(0, database=database)  # ends what the dead kernel left
        group.stop()
        assert not psutil.pid_exists(orphan) or psutil.Process(orphan).status() == "zombie"
    finally:
        if kernel.poll() is None:
            kernel.kill()


def test_a_live_owners_workers_are_left_alone(database):
    group = start_workers(1, maxsize=1, minsize=1, database=database)
    try:
        assert end_orphans(group.workers[0].folder.parent) == 0
        assert group.workers[0].running
    finally:
        group.stop()
