"""The app's own sessions, as PostgreSQL sees them in ``pg_stat_activity``.

Every connection the example app opens carries the app's ``application_name``,
so these queries find exactly its sessions and nobody else's.
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from labkit.infra.blocking import run_blocking

_SESSIONS_SQL = """
SELECT pid,
       state,
       extract(epoch FROM now() - xact_start)  AS transaction_age_s,
       extract(epoch FROM now() - state_change) AS state_age_s,
       query
  FROM pg_stat_activity
 WHERE application_name = $1
 ORDER BY pid
"""


@dataclass(frozen=True)
class Session:
    """One backend of the app: its pid, state, and the last query it ran."""

    pid: int
    state: str | None
    transaction_age_s: float | None
    state_age_s: float | None
    query: str


async def fetch_sessions(dsn: str, application_name: str) -> list[Session]:
    """The sessions carrying ``application_name``, read on a connection of our own."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        rows = await conn.fetch(_SESSIONS_SQL, application_name)
    finally:
        await conn.close()
    return [
        Session(
            pid=row["pid"],
            state=row["state"],
            transaction_age_s=_seconds(row["transaction_age_s"]),
            state_age_s=_seconds(row["state_age_s"]),
            query=row["query"],
        )
        for row in rows
    ]


async def count_sessions(dsn: str, application_names: list[str]) -> int:
    """How many sessions carry one of ``application_names`` (read on a connection of our own)."""
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = ANY($1::text[])",
            list(application_names),
        )
    finally:
        await conn.close()


def _seconds(value) -> float | None:
    return None if value is None else round(float(value), 3)


def app_sessions(app) -> list[Session]:
    """The running app's sessions in pg_stat_activity.

    >>> [s.state for s in app_sessions(app)]  # doctest: +SKIP
    ['idle', 'idle']
    """
    return run_blocking(fetch_sessions(app.database.dsn, app.application_name))
