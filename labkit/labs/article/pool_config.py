"""Section 1: the article's ``TORTOISE_ORM`` dict, initialised for real.

What pool does it build (sizes read from asyncpg), how its keys reach asyncpg, what
Tortoise does without them, whether the string port works, and whether ``maxsize`` 20
suits the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labkit.infra.blocking import run_blocking
from labkit.infra.results import record_result
from labkit.labs.article.evidence import Raised
from labkit.labs.article.snippets import ARTICLE_CREDENTIALS
from labkit.labs.article.tortoise_config import (
    article_tortoise_config,
    create_pool_kwargs,
    isolated,
    pool_of,
)
from labkit.labs.client_limits import Budget, connection_budget
from labkit.labs.tuning import rule_of_thumb


@dataclass(frozen=True)
class ConfigRun:
    """The article's config, initialised for real, and judged against the server."""

    create_pool_kwargs: dict[str, Any]  # what Tortoise handed to asyncpg.create_pool()
    min_size: int  # read from the asyncpg pool: get_min_size()
    max_size: int  # get_max_size()
    opened: int  # connections open after the first query: get_size()
    port_given: Any  # the article's "5432"
    port_used: Any  # what Tortoise made of it
    default_sizes: tuple[int, int]  # (min, max) of a pool initialised without minsize/maxsize
    bad_lifetime: Raised | None  # max_inactive_connection_lifetime=-1: who complains, and how
    rule_of_thumb: int  # connections the whole database server should serve at once
    budget: Budget  # workers × the article's maxsize against max_connections

    @property
    def workers_that_fit(self) -> int:
        """How many app workers with the article's maxsize the server can take."""
        return (self.budget.max_connections - self.budget.reserved) // self.budget.maxsize


def run_article_config(dsn: str, workers: int = 4) -> ConfigRun:
    """Initialise Tortoise with the article's dict and read the asyncpg pool it builds.

    Then again without ``minsize``/``maxsize`` (Tortoise's own defaults), and with
    ``max_inactive_connection_lifetime=-1`` (if asyncpg rejects it, the key reached
    asyncpg untouched); and size ``workers`` workers of maxsize 20 against the server.
    """
    found = run_blocking(_config(dsn))
    maxsize = ARTICLE_CREDENTIALS["maxsize"]
    run = ConfigRun(
        **found,
        rule_of_thumb=rule_of_thumb(),
        budget=connection_budget(workers=workers, maxsize=maxsize, dsn=dsn),
    )
    record_result(
        "07.article_config",
        maxsize=maxsize,
        rule_of_thumb=run.rule_of_thumb,
        max_connections=run.budget.max_connections,
        workers_that_fit=run.workers_that_fit,
    )
    return run


async def _config(dsn: str) -> dict[str, Any]:
    config = article_tortoise_config(dsn)
    async with isolated(config) as context:
        client = context.connections.get("default")
        await client.execute_query("SELECT 1")  # Tortoise opens its pool on the first query
        pool = pool_of(context)
        found = {
            "create_pool_kwargs": create_pool_kwargs(context),
            "min_size": pool.get_min_size(),
            "max_size": pool.get_max_size(),
            "opened": pool.get_size(),
            "port_given": config["connections"]["default"]["credentials"]["port"],
            "port_used": client.port,
        }
    async with isolated(article_tortoise_config(dsn, drop=("minsize", "maxsize"))) as context:
        await context.connections.get("default").execute_query("SELECT 1")
        pool = pool_of(context)
        found["default_sizes"] = (pool.get_min_size(), pool.get_max_size())
    found["bad_lifetime"] = None
    bad = article_tortoise_config(dsn, max_inactive_connection_lifetime=-1)
    async with isolated(bad) as context:
        try:
            await context.connections.get("default").execute_query("SELECT 1")
        except ValueError as exc:
            found["bad_lifetime"] = Raised.of(exc)
    return found
