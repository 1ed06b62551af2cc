"""Section 4: the article's ``POST /users``, run as written, as meant, and the kit's.

As written it names ``logger`` and ``HTTPException`` without importing them, and calls
pydantic v1's ``user.dict()``. As meant (those two defined) its ``except Exception``
answers 400 for everything, the database being down included. The kit's route
(``labkit/app/routes_users.py``) answers 409 for a duplicate and, through
``labkit.app.health``, 503 with Retry-After while the database is unreachable.
"""

from __future__ import annotations

import logging
import secrets
import socket
import threading
import warnings
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException

from labkit.infra.blocking import run_blocking
from labkit.infra.results import record_result
from labkit.labs.article.evidence import Raised, Warned, raised_or_none
from labkit.labs.article.models import Users
from labkit.labs.article.snippets import ARTICLE_USERS_ROUTE, run_snippet
from labkit.labs.article.tortoise_config import MODELS_MODULE, article_tortoise_config, isolated
from labkit.messages import _, display_width

SNIPPET_LABEL = "users route"


@dataclass(frozen=True)
class Answer:
    """What a client got back from a route, and what the app raised behind it, if anything."""

    status: int
    body: str
    retry_after: str | None = None
    raised: Raised | None = None  # an exception that escaped the route (the client sees 500)
    while_handling: Raised | None = None  # the exception being handled when it escaped


@dataclass(frozen=True)
class UsersRouteRun:
    """The article's /users route against a working and an unreachable database, and the kit's."""

    created: Answer  # a new user, as written
    dict_warning: Warned | None  # what pydantic v2 says about user.dict()
    duplicate: Answer  # the same email again, as written
    down: Answer  # the database unreachable, as written
    intended_down: Answer  # ... with logger and HTTPException defined, as the article meant
    intended_log: list[str]  # what its logger.error() wrote
    kit_created: Answer  # labkit/app/routes_users.py, the same three requests
    kit_duplicate: Answer
    kit_down: Answer


def run_article_users_route(dsn: str) -> UsersRouteRun:
    """POST to the article's /users route as written, then as meant, then to the kit's.

    "Database down" is a port nothing listens on, so every connect is refused; the
    real database is never stopped. Rows created here are deleted again. The statuses
    are recorded for the quiz as ``08.article_users``.
    """
    run = run_blocking(_users_route(dsn))
    record_result(
        "08.article_users",
        duplicate_status_as_written=run.duplicate.status,
        down_status_as_written=run.down.status,
        down_status_as_meant=run.intended_down.status,
        duplicate_status_kit=run.kit_duplicate.status,
        down_status_kit=run.kit_down.status,
    )
    return run


def _closed_port() -> int:
    """A local port nothing listens on (bound for a moment, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _article_app(**defined: Any) -> FastAPI:
    """A FastAPI app with the article's router; its ``from models import`` reads ours."""
    source = ARTICLE_USERS_ROUTE.replace("from models import", f"from {MODELS_MODULE} import")
    app = FastAPI()
    app.include_router(run_snippet(source, SNIPPET_LABEL, **defined)["router"])
    return app


async def _post(app: Any, path: str, payload: dict) -> Answer:
    """POST in-process and keep what the app raised (Starlette answers 500, then re-raises)."""
    escaped: list[BaseException] = []

    async def recording(scope, receive, send):
        try:
            await app(scope, receive, send)
        except Exception as exc:
            escaped.append(exc)
            raise

    transport = httpx.ASGITransport(app=recording, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://article") as client:
        response = await client.post(path, json=payload)
    exc = escaped[0] if escaped else None
    return Answer(
        response.status_code,
        response.text,
        response.headers.get("retry-after"),
        raised_or_none(exc),
        raised_or_none(exc.__context__ if exc is not None else None),
    )


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


async def _users_route(dsn: str) -> UsersRouteRun:
    user = {"email": f"ada-{secrets.token_hex(4)}@example.org", "name": "Ada"}
    # Every call of the article's route warns about user.dict(); keep them all, show one.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        article = await _article_route(dsn, user)
    ours = [w for w in caught if w.filename == f"<article: {SNIPPET_LABEL}>"]
    kit = await _kit_route(dsn, article["dead_port"], user)
    return UsersRouteRun(
        article["created"],
        Warned.of(ours[0]) if ours else None,
        article["duplicate"],
        article["down"],
        article["intended_down"],
        article["intended_log"],
        *kit,
    )


async def _article_route(dsn: str, user: dict) -> dict[str, Any]:
    as_written = _article_app()
    async with isolated(article_tortoise_config(dsn)) as context:
        await context.generate_schemas()
        created = await _post(as_written, "/users", user)
        duplicate = await _post(as_written, "/users", user)
        await Users.filter(email=user["email"]).delete()
    # What the article meant: the two names it forgot, defined. Its log lines are kept
    # for the result rather than printed into the notebook.
    logger = logging.getLogger(f"{__name__}.article")
    logger.propagate = False
    collected = _Collect()
    logger.addHandler(collected)
    as_meant = _article_app(logger=logger, HTTPException=HTTPException)
    dead_port = _closed_port()
    try:
        async with isolated(article_tortoise_config(dsn, port=str(dead_port))):
            down = await _post(as_written, "/users", user)
            intended_down = await _post(as_meant, "/users", user)
    finally:
        logger.removeHandler(collected)
    return {
        "created": created,
        "duplicate": duplicate,
        "down": down,
        "intended_down": intended_down,
        "intended_log": collected.messages,
        "dead_port": dead_port,
    }


class _KeepThisThreadsRecords(logging.Filter):
    """Holds back the records this thread logs; the example app's (another thread) pass.

    Both log to ``labkit.app``: the lab's "database unreachable" line is about a port
    nobody listens on and must not look like news about the example app.
    """

    def __init__(self) -> None:
        super().__init__()
        self.thread = threading.get_ident()

    def filter(self, record: logging.LogRecord) -> bool:
        return record.thread != self.thread


async def _kit_route(dsn: str, dead_port: int, user: dict) -> tuple[Answer, Answer, Answer]:
    """The kit's route and 503 handlers, on the same requests and the same two databases."""
    from labkit.app import health, routes_users
    from labkit.app.models import User

    def kit_app(state: health.DatabaseHealth) -> FastAPI:
        app = FastAPI()
        app.include_router(routes_users.router)
        health.install(app, state)
        return app

    models = {"models": {"models": ["labkit.app.models"], "default_connection": "default"}}
    up, down = health.DatabaseHealth(), health.DatabaseHealth()
    quiet = _KeepThisThreadsRecords()
    logging.getLogger("labkit.app").addFilter(quiet)
    try:
        async with isolated({**article_tortoise_config(dsn), "apps": models}) as context:
            await context.generate_schemas()
            created = await _post(kit_app(up), "/users", user)
            duplicate = await _post(kit_app(up), "/users", user)
            await User.filter(email=user["email"]).delete()
        unreachable = {**article_tortoise_config(dsn, port=str(dead_port)), "apps": models}
        async with isolated(unreachable):
            refused = await _post(kit_app(down), "/users", user)
    finally:
        logging.getLogger("labkit.app").removeFilter(quiet)
        await up.close()  # removes the log filter health.install() added
        await down.close()
    return created, duplicate, refused


def status_table(run: UsersRouteRun) -> str:
    """The status each version of ``POST /users`` answered, one row per situation.

    Columns: the article's route as written, as its author meant it, and the kit's. Padded
    by display width, so the Chinese headers (two columns a character) line up too.
    """
    rows = [
        (_("request"), _("as written"), _("as meant"), _("the kit's")),
        (_("new user"), run.created.status, "", run.kit_created.status),
        (_("duplicate email"), run.duplicate.status, "", run.kit_duplicate.status),
        (_("database unreachable"), run.down.status, run.intended_down.status, run.kit_down.status),
    ]
    lines = []
    for label, *cells in rows:
        line = label + " " * (22 - display_width(label))
        for cell, width in zip(cells, (12, 10, 10), strict=True):
            line += " " * (width - display_width(str(cell))) + str(cell)
        lines.append(line)
    return "\n".join(lines)
