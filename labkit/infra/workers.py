"""The example app as N worker processes, each with its own pool.

In production one app runs as several processes (uvicorn ``--workers``, gunicorn,
replicas behind a load balancer), and each process has its own pool. PostgreSQL
counts all of their connections against one ``max_connections``.

Each worker here is its own process,

    LABKIT_APP_DATABASE_URL=... LABKIT_APP_MAXSIZE=10 \\
        python -m uvicorn labkit.app.main:create_app_from_env --factory --port N

on its own port. One port per worker, rather than one shared port with
``--workers N``, lets a lab read each worker's ``/pool-status`` and spread its load
evenly, as a round-robin load balancer would: with a shared port the kernel hands
each new connection to whichever process accepts first, often the same one.

>>> group = start_workers(2, maxsize=5)              # doctest: +SKIP
>>> group.urls                                        # doctest: +SKIP
['http://127.0.0.1:40101', 'http://127.0.0.1:40102']
>>> run_load(group.urls, "/lab/hold", params={"ms": 50}, requests=100)  # doctest: +SKIP
>>> group.stop()          # no process and no session of theirs is left  # doctest: +SKIP
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from labkit.errors import AppStartError
from labkit.infra.access import new_secret, shared_host, with_credentials
from labkit.infra.blocking import run_blocking
from labkit.infra.database import Database, dsn_of
from labkit.infra.home import labkit_home
from labkit.infra.ports import free_port
from labkit.infra.processes import end_orphans, process_tree, terminate, write_run_file
from labkit.messages import _

__all__ = ["Worker", "WorkerGroup", "WorkerStartError", "start_workers", "stop_all_workers"]

START_TIMEOUT_S = 60.0  # a cold Python start on a busy 2-core machine can take several seconds
STOP_TIMEOUT_S = 10.0
FACTORY = "labkit.app.main:create_app_from_env"

# The last line of a Python traceback: "package.module.SomeError: message".
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit)\w*(?::\s.*)?$")


class WorkerStartError(AppStartError):
    """A worker process did not come up.

    ``error_lines`` are the exceptions in its log, verbatim, in order (a chained
    exception first, then the one it caused); ``error_line`` is the last of them.
    """

    def __init__(self, message: str, error_lines: list[str]) -> None:
        super().__init__(message)
        self.error_lines = error_lines

    @property
    def error_line(self) -> str | None:
        return self.error_lines[-1] if self.error_lines else None


@dataclass(eq=False)
class Worker:
    """One worker process of the example app, serving on ``url``."""

    index: int
    port: int
    application_name: str  # every connection of this worker's pool carries it
    process: subprocess.Popen = field(repr=False)
    folder: Path = field(repr=False)
    # On a shared host the worker asks every request for this (labkit.infra.access).
    secret: str | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """Where it serves; on a shared host with its secret in it, as ``app.url``."""
        return with_credentials(f"http://127.0.0.1:{self.port}", self.secret)

    @property
    def log_file(self) -> Path:
        return self.folder / "worker.log"

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def pool_status(self) -> dict:
        """GET /pool-status of this worker, as a dict."""
        response = httpx.get(f"{self.url}/pool-status", timeout=10)
        response.raise_for_status()
        return response.json()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def error_lines(self) -> list[str]:
        """Each distinct exception line in the worker's log ("module.Error: message")."""
        try:
            text = self.log_file.read_text(errors="replace")
        except OSError:
            return []
        found = [ln.strip() for ln in text.splitlines() if _EXCEPTION_LINE.match(ln.strip())]
        return list(dict.fromkeys(found))  # distinct, in order


def _workers_home() -> Path:
    home = labkit_home() / "workers"
    home.mkdir(parents=True, exist_ok=True)
    return home


@dataclass
class WorkerGroup:
    """N worker processes with the same pool settings; grow it with :meth:`add`.

    ``dsn`` is where the workers' pools connect (PostgreSQL, or a PgBouncer in front
    of it); ``server_dsn`` is the PostgreSQL itself, where their sessions are counted.
    """

    dsn: str
    server_dsn: str
    settings: dict  # LABKIT_APP_* settings every worker gets (maxsize, minsize, ...)
    name: str  # every worker's application_name starts with it
    workers: list[Worker] = field(default_factory=list)
    # One per group on a shared host: every worker asks for it (labkit.infra.access).
    secret: str | None = field(default=None, repr=False)

    @property
    def urls(self) -> list[str]:
        return [w.url for w in self.workers]

    @property
    def application_names(self) -> list[str]:
        return [w.application_name for w in self.workers]

    @property
    def through_pooler(self) -> bool:
        """True when the workers reach PostgreSQL through a pooler such as PgBouncer."""
        return self.dsn != self.server_dsn

    def add(self, count: int = 1) -> list[Worker]:
        """Start ``count`` more workers and wait until each answers.

        The first worker of a group starts alone (it may create the app's tables;
        two processes creating the same table at once can collide), the others
        together. A worker that fails is stopped and left out of the group, and
        :class:`WorkerStartError` says why, with the exception from its log.
        """
        if count < 1:
            raise ValueError(_("count must be at least 1, got {count}").format(count=count))
        started: list[Worker] = []
        batches = [1, count - 1] if not self.workers else [count]
        for size in (b for b in batches if b > 0):
            batch = [self._launch(len(self.workers) + len(started) + i) for i in range(size)]
            failures = self._wait_until_answering(batch)
            started += [w for w in batch if w not in failures]
            if failures:
                self.workers += started
                raise failures[next(iter(failures))]
        self.workers += started
        return started

    def _launch(self, index: int) -> Worker:
        port = free_port()
        folder = _workers_home() / f"{self.name}-{index}"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        application_name = f"{self.name}-{index}"
        env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "LABKIT_APP_DATABASE_URL": self.dsn,
            "LABKIT_APP_APPLICATION_NAME": application_name,
            **{f"LABKIT_APP_{key.upper()}": str(value) for key, value in self.settings.items()},
        }
        if self.secret is not None:
            # In the environment, not the command line: only its owner can read it.
            env["LABKIT_APP_ACCESS_SECRET"] = self.secret
        args = ["--factory", "--host", "127.0.0.1", "--port", str(port)]
        command = [sys.executable, "-m", "uvicorn", FACTORY, *args]
        command += ["--log-level", "warning", "--no-access-log", "--timeout-graceful-shutdown", "3"]
        with open(folder / "worker.log", "w") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # Ctrl-C in the notebook must not kill it mid-lab
            )
        write_run_file(folder, process.pid, must_mention=f"{FACTORY} {' '.join(args)}")
        return Worker(index, port, application_name, process, folder, self.secret)

    def _wait_until_answering(self, batch: list[Worker]) -> dict[Worker, WorkerStartError]:
        deadline = time.monotonic() + START_TIMEOUT_S
        waiting, failures = list(batch), {}
        while waiting:
            for worker in list(waiting):
                if not worker.running or time.monotonic() > deadline:
                    errors, tail = worker.error_lines(), worker.log_tail(8)
                    self._end(worker)
                    reason = errors[-1] if errors else None
                    if reason is None:
                        reason = _("no answer within {timeout:.0f} s").format(
                            timeout=START_TIMEOUT_S
                        )
                    failures[worker] = WorkerStartError(
                        _(
                            "worker {index} ({name}) did not start: {reason}\n"
                            "Its log ends with:\n{tail}"
                        ).format(
                            index=worker.index,
                            name=worker.application_name,
                            reason=reason,
                            tail=tail,
                        ),
                        errors,
                    )
                    waiting.remove(worker)
                    continue
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{worker.url}/pool-status", timeout=2).status_code == 200:
                        waiting.remove(worker)
            time.sleep(0.05)
        return failures

    def _end(self, worker: Worker) -> None:
        if worker.process.poll() is None:
            worker.process.terminate()  # uvicorn shuts down gracefully: the pool closes
        try:
            worker.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            terminate(process_tree(worker.process.pid, FACTORY), timeout=0)
            worker.process.wait(5)
        shutil.rmtree(worker.folder, ignore_errors=True)

    def stop(self) -> None:
        """Stop every worker, and wait until PostgreSQL lists none of their sessions.

        Behind a pooler the server sessions belong to the pooler, not to the workers:
        stopping the pooler ends them.
        """
        for worker in self.workers:
            if worker.process.poll() is None:
                worker.process.terminate()
        for worker in self.workers:
            self._end(worker)
        names = self.application_names
        self.workers = []
        with contextlib.suppress(ValueError):
            _live_groups.remove(self)
        if not self.through_pooler and names:
            wait_for_sessions_to_end(self.server_dsn, names)

    def __enter__(self) -> WorkerGroup:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in self.settings.items())
        return f"<WorkerGroup {self.name}: {len(self.workers)} workers, {settings}>"


def wait_for_sessions_to_end(dsn: str, application_names: list[str], timeout: float = 5.0) -> int:
    """Wait until pg_stat_activity lists no session named in ``application_names``.

    A closed connection's backend leaves pg_stat_activity a moment later. Returns how
    many are still listed when the time is up (0: all gone).
    """
    from labkit.infra.sessions import count_sessions

    deadline = time.monotonic() + timeout
    while True:
        left = run_blocking(count_sessions(dsn, application_names))
        if left == 0 or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


_live_groups: list[WorkerGroup] = []
_live_lock = threading.Lock()


def start_workers(
    count: int,
    *,
    maxsize: int = 5,
    minsize: int = 1,
    database: Database | str | None = None,
    server_dsn: str | None = None,
    statement_cache_size: int | None = None,
    acquire_timeout: float | None = None,
    reset_on_release: bool = True,
    metrics: bool = False,
) -> WorkerGroup:
    """Start ``count`` worker processes of the example app (``count`` may be 0).

    ``database`` is where their pools connect: a :class:`Database`, a DSN (a
    PgBouncer's, say; then give ``server_dsn``, the PostgreSQL behind it), or None
    for the kit's database. ``statement_cache_size``, ``acquire_timeout`` and
    ``reset_on_release`` are the pool settings of :class:`~labkit.app.settings.AppSettings`.
    ``metrics`` is off by default: every worker shares the machine's cores with the load
    generator, and /metrics is not needed here.
    """
    if count < 0:
        raise ValueError(_("count must be 0 or more, got {count}").format(count=count))
    dsn = dsn_of(database)
    end_orphans(_workers_home())  # workers a dead kernel left behind
    settings = {"maxsize": maxsize, "minsize": minsize, "metrics": metrics}
    if statement_cache_size is not None:
        settings["statement_cache_size"] = statement_cache_size
    if acquire_timeout is not None:
        settings["acquire_timeout"] = acquire_timeout
    if not reset_on_release:
        settings["reset_on_release"] = False
    group = WorkerGroup(
        dsn=dsn,
        server_dsn=server_dsn or dsn,
        settings=settings,
        name=f"labkit-worker-{secrets.token_hex(3)}",
        secret=new_secret() if shared_host() else None,
    )
    with _live_lock:
        _live_groups.append(group)
    if count:
        try:
            group.add(count)
        except BaseException:
            group.stop()
            raise
    return group


def stop_all_workers() -> None:
    """Stop every worker group this process started (also run when the kernel exits)."""
    for group in list(_live_groups):
        group.stop()


atexit.register(stop_all_workers)
