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


# ----------------------------------------------------------------------------- answer keys
# No answer key lives in the repository. Tests that need right answers re-key a copy of
# the banks with a key drawn at random for this run, and grade against that key.
ROOT = Path(__file__).resolve().parent.parent


class Rekeyed:
    """A copy of the kit's banks re-keyed at random, and the key, both in a temp folder."""

    def __init__(self, folder: Path, rng) -> None:
        import yaml

        from labkit.grading.authoring import set_answer

        self.banks = folder / "banks"
        self.banks.mkdir()
        for path in sorted((ROOT / "quizzes").glob("*")):
            shutil.copyfile(path, self.banks / path.name)
        self.answers: dict[str, dict] = {}
        self.items: dict[str, dict] = {}
        for path in sorted(self.banks.glob("*.yaml")):
            for item in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]:
                self.items[item["id"]] = item
                spec = self._draw(item, rng)
                if spec is None:
                    continue
                self.answers[item["id"]] = spec
                set_answer(
                    path,
                    item["id"],
                    str(spec["answer"]),
                    tolerance=spec.get("tolerance", 0.0),
                    decimals=spec.get("decimals", 0),
                )
        self.key_path = folder / "key.yaml"
        self.key_path.write_text(yaml.safe_dump(self.answers), encoding="utf-8")

    @staticmethod
    def _draw(item: dict, rng) -> dict | None:
        options = sorted(item.get("options", {}))
        if item["type"] == "single":
            return {"answer": rng.choice(options)}
        if item["type"] == "multiple":  # at least one right and one wrong choice
            picked = rng.sample(options, rng.randint(1, len(options) - 1))
            return {"answer": ",".join(sorted(picked))}
        if item["type"] == "numeric":
            if rng.random() < 0.5:
                return {"answer": rng.randint(1, 99), "tolerance": 0.0, "decimals": 0}
            return {"answer": rng.randint(10, 990) / 10, "tolerance": 0.5, "decimals": 1}
        return None  # measured: graded against the learner's own figure

    def right(self, qid: str):
        """The key's answer to ``qid``."""
        return self.answers[qid]["answer"]

    def wrong(self, qid: str):
        """An answer to ``qid`` that earns nothing."""
        item, right = self.items[qid], self.right(qid)
        if item["type"] == "single":
            return next(o for o in sorted(item["options"]) if o != right)
        if item["type"] == "multiple":
            return next(o for o in sorted(item["options"]) if o not in right.split(","))
        return right + 10

    def questions(self, notebook: str, kind: str | None = None) -> list[str]:
        """The ids of a notebook's questions (of one ``kind``)."""
        return [
            qid
            for qid, item in self.items.items()
            if qid.startswith(f"{notebook}-") and kind in (None, item["type"])
        ]


@pytest.fixture
def rekeyed(tmp_path, monkeypatch) -> Rekeyed:
    """The banks re-keyed at random (in force through LABKIT_BANKS), with their key file."""
    import random

    made = Rekeyed(tmp_path, random.Random())
    monkeypatch.setenv("LABKIT_BANKS", str(made.banks))
    return made
