"""The article's ``async with in transaction():``, compiled; and ``in_transaction()``, run."""

from __future__ import annotations

import ast
import contextlib
import secrets
from dataclasses import dataclass, replace

from tortoise.transactions import in_transaction

from labkit.infra.blocking import run_blocking
from labkit.labs.article.evidence import Raised
from labkit.labs.article.models import Users
from labkit.labs.article.snippets import ARTICLE_TRANSACTION
from labkit.labs.article.tortoise_config import article_tortoise_config, isolated, pool_of


@dataclass(frozen=True)
class TransactionRun:
    """The article's transaction snippet compiled; the fixed one compiled, and run."""

    article_error: Raised | None  # compile() of the article's text
    line: int | None
    column: int | None
    fixed_compiles: bool  # the same text with in_transaction()
    committed: bool | None = None  # a row created in ``async with in_transaction()`` is kept
    rolled_back: bool | None = None  # a row created in a block that then raised is not
    all_released: bool | None = None  # every pool connection idle again after both blocks


def compile_article_transaction() -> TransactionRun:
    """Compile the article's snippet, and the one-character fix, as a notebook cell would.

    Jupyter allows ``async with`` at the top level of a cell; ``compile()`` needs
    ``ast.PyCF_ALLOW_TOP_LEVEL_AWAIT`` for that, so the only difference left is the typo.
    Nothing runs: ``committed``, ``rolled_back`` and ``all_released`` stay None.
    """
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    try:
        compile(ARTICLE_TRANSACTION, "<article: transaction>", "exec", flags=flags)
    except SyntaxError as exc:
        error, line, column = Raised.of(exc), exc.lineno, exc.offset
    else:
        error, line, column = None, None, None
    fixed = ARTICLE_TRANSACTION.replace("in transaction()", "in_transaction()")
    try:
        compile(fixed, "<fixed: transaction>", "exec", flags=flags)
    except SyntaxError:
        fixed_compiles = False
    else:
        fixed_compiles = True
    return TransactionRun(error, line, column, fixed_compiles)


def run_article_transaction(dsn: str) -> TransactionRun:
    """Compile the article's snippet, then run ``in_transaction()`` on the article's config:
    once to commit, once with an error inside the block. Rows are removed afterwards.
    """
    committed, rolled_back, released = run_blocking(_transactions(dsn))
    compiled = compile_article_transaction()
    return replace(compiled, committed=committed, rolled_back=rolled_back, all_released=released)


class _Abandon(Exception):
    """Raised inside a transaction, to see it rolled back."""


async def _transactions(dsn: str) -> tuple[bool, bool, bool]:
    kept = f"kept-{secrets.token_hex(4)}@example.org"
    undone = f"undone-{secrets.token_hex(4)}@example.org"
    async with isolated(article_tortoise_config(dsn)) as context:
        await context.generate_schemas()
        async with in_transaction():
            await Users.create(email=kept, name="Ada")
        with contextlib.suppress(_Abandon):
            async with in_transaction():
                await Users.create(email=undone, name="Grace")
                raise _Abandon
        pool = pool_of(context)
        released = pool.get_idle_size() == pool.get_size()
        committed = await Users.filter(email=kept).exists()
        rolled_back = not await Users.filter(email=undone).exists()
        await Users.filter(email__in=[kept, undone]).delete()
    return committed, rolled_back, released
