"""The article's ``TORTOISE_ORM`` dict pointed at the lab database, and Tortoise run in
a context of its own, so the example app in this kernel keeps its own state and pool.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable
from typing import Any
from urllib.parse import unquote, urlsplit

import asyncpg
from tortoise.context import TortoiseContext

from labkit.labs.article.snippets import ARTICLE_CREDENTIALS
from labkit.messages import _

MODELS_MODULE = "labkit.labs.article.models"  # the article's ``models``


def article_tortoise_config(dsn: str, *, drop: Iterable[str] = (), **changes: Any) -> dict:
    """The article's ``TORTOISE_ORM`` dict, pointed at the database ``dsn``.

    Only *where* to connect is replaced (host, user, password, database, and the port,
    kept a string as the article writes it), and its ``models`` module is ours.
    ``changes`` set credentials (``minsize=1``, ``timeout=0.2``...) and ``drop`` removes
    some, so an experiment states exactly what it changed from the article.
    """
    url = urlsplit(dsn)
    if url.scheme not in ("postgres", "postgresql") or not url.hostname:
        raise ValueError(
            _(
                "expected a PostgreSQL URL like postgresql://user:password@host:port/db, got "
                "{dsn!r}; pass app.database.dsn"
            ).format(dsn=dsn)
        )
    credentials = {
        **ARTICLE_CREDENTIALS,
        "host": url.hostname,
        "port": str(url.port or 5432),
        "user": unquote(url.username or "postgres"),
        "password": unquote(url.password or ""),
        "database": url.path.lstrip("/") or "postgres",
        **changes,
    }
    for key in drop:
        if key not in credentials:
            raise ValueError(
                _("{key!r} is not in the article's credentials: {known}").format(
                    key=key, known=sorted(credentials)
                )
            )
        del credentials[key]
    return {
        "connections": {
            "default": {"engine": "tortoise.backends.asyncpg", "credentials": credentials}
        },
        "apps": {"models": {"models": [MODELS_MODULE], "default_connection": "default"}},
    }


@contextlib.asynccontextmanager
async def isolated(config: dict) -> AsyncIterator[TortoiseContext]:
    """Tortoise initialised with ``config`` in a context of its own, closed on exit.

    No global fallback: the example app owns Tortoise's global context, and a second
    one would fail with "Global context fallback is already enabled".
    """
    async with TortoiseContext() as context:
        await context.init(config=config, _enable_global_fallback=False)
        yield context


def pool_of(context: TortoiseContext) -> asyncpg.Pool | None:
    """The asyncpg pool behind the context's "default" connection (None until first use)."""
    # Tortoise's asyncpg client has no public reader for its pool (the kit's engine adds
    # one, ``LabAsyncpgClient.pool``); the article's own code reads ``_pool`` too.
    return context.connections.get("default")._pool


def create_pool_kwargs(context: TortoiseContext) -> dict[str, Any]:
    """The pool settings Tortoise passed to ``asyncpg.create_pool()`` (no password)."""
    # AsyncpgDBClient.create_connection() builds these keyword arguments in ``_template``
    # and calls create_pool(password=..., **_template); there is no public view of them.
    template = context.connections.get("default")._template
    shown = ("host", "port", "min_size", "max_size", "max_inactive_connection_lifetime", "timeout")
    return {key: template[key] for key in shown if key in template}
