"""Shared fixtures. Every test runs against a real PostgreSQL, never a mock.

The session always runs in a fresh LABKIT_HOME, whichever database it uses, so the
suite never overwrites a learner's results.json or quiz progress. Unless
LABKIT_DATABASE_URL points elsewhere, that home holds the session's own embedded
server, stopped at the end, so the suite leaves no server running.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from labkit.infra.blocking import run_blocking


def make_home(prefix: str) -> Path:
    """A LABKIT_HOME the embedded server's system user can reach, also as root."""
    home = Path(tempfile.mkdtemp(prefix=prefix))
    home.chmod(0o755)  # mkdtemp makes 0700; root's server runs as another user
    return home


_SESSION_HOME = make_home("labkit-test-")
os.environ["LABKIT_HOME"] = str(_SESSION_HOME)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from labkit.infra.embedded import EmbeddedPostgres

    EmbeddedPostgres(_SESSION_HOME).stop()  # a no-op when no embedded server was started
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def database():
    from labkit.infra.database import ensure_database

    return ensure_database()


@pytest.fixture
def start_app(database) -> Iterator:
    """``start_app(**settings)`` for a test; every app it started is stopped after."""
    from labkit.infra.runner import start_app as _start_app

    started = []

    def start(**settings):
        app = _start_app(database=database, **settings)
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


async def _fetch(dsn: str, query: str, *args):
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def fetch(dsn: str, query: str, *args) -> list[asyncpg.Record]:
    """Run one query on a fresh connection of its own (never the app's pool)."""
    return run_blocking(_fetch(dsn, query, *args))


async def wait_until(predicate, timeout: float = 5.0, interval: float = 0.02) -> bool:
    """Poll an async predicate until it is true or the timeout passes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval)
    return await predicate()
