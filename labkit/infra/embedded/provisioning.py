"""The lab's role and database inside a fresh cluster, and the grants the labs need."""

from __future__ import annotations

import secrets

import asyncpg

APP_ROLE = "labkit"
APP_DATABASE = "labkit"


async def provision(admin_connect_kwargs: dict) -> str:
    """Create the lab role and database (idempotent) with a fresh password; return it.

    ``admin_connect_kwargs`` reach the superuser through the unix socket.
    """
    password = secrets.token_urlsafe(18)
    conn = await asyncpg.connect(**admin_connect_kwargs, timeout=10)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_roles WHERE rolname = $1", APP_ROLE)
        verb = "ALTER" if exists else "CREATE"
        # DDL takes no bind parameters; the password is URL-safe base64.
        await conn.execute(f"{verb} ROLE {APP_ROLE} LOGIN PASSWORD '{password}'")
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", APP_DATABASE):
            await conn.execute(f"CREATE DATABASE {APP_DATABASE} OWNER {APP_ROLE}")
    finally:
        await conn.close()
    conn = await asyncpg.connect(**{**admin_connect_kwargs, "database": APP_DATABASE}, timeout=10)
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
    return password
