"""Section 3's ``@app.on_event("startup")``, as the installed FastAPI treats it."""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass

from fastapi import FastAPI

from labkit.infra.blocking import run_blocking
from labkit.labs.article.evidence import Warned


@dataclass(frozen=True)
class StartupHookRun:
    """What decorating a start-up handler the article's way does, and whether it runs."""

    warnings: list[Warned]  # emitted by the decorator
    ran_alone: bool  # the handler ran at start-up, in an app without a lifespan
    ran_beside_lifespan: bool  # ... in an app that also has a lifespan (the kit's way)
    lifespan_ran: bool


def run_article_startup_hook() -> StartupHookRun:
    """Decorate a start-up handler with ``@app.on_event("startup")``, start the app, see
    what ran. The second app also has ``lifespan=``, as the kit's ``create_app`` does
    (``labkit/app/main.py``).
    """
    return run_blocking(_on_event())


async def _on_event() -> StartupHookRun:
    ran: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        app = FastAPI()

        @app.on_event("startup")  # the article's decorator
        async def start() -> None:
            ran.append("alone")

    async with app.router.lifespan_context(app):  # what uvicorn runs at start-up
        pass

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ran.append("lifespan")
        yield

    both = FastAPI(lifespan=lifespan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # recorded above already

        @both.on_event("startup")
        async def start_too() -> None:
            ran.append("beside lifespan")

    async with both.router.lifespan_context(both):
        pass
    emitted = [Warned.of(w) for w in caught if "on_event" in str(w.message)]
    return StartupHookRun(emitted, "alone" in ran, "beside lifespan" in ran, "lifespan" in ran)
