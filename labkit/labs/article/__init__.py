"""The source article's code, run as written: what each snippet really does, then the fix.

>>> run = article.run_article_config(app.database.dsn)   # doctest: +SKIP
>>> run.min_size, run.max_size, run.default_sizes        # doctest: +SKIP
(3, 20, (1, 5))

The article ("FastAPI数据库连接池配置与监控") shows code in its sections 1-4 and under
"常见报错处理"; :mod:`.snippets` keeps it verbatim. Each function below runs one
snippet against the lab database and returns a small dataclass of what really
happened: the exception's class and message (:class:`Raised`), the warnings
(:class:`Warned`), sizes read from real asyncpg pools, HTTP answers (:class:`Answer`).
Notebooks print those values; nothing is typed in by hand.

Every run uses its own ``TortoiseContext`` without Tortoise's global fallback, so the
example app running in the kernel keeps its own state and pool.

- section 1, the ``TORTOISE_ORM`` dict: :func:`run_article_config`, :func:`run_article_timeout`
  (:mod:`.pool_config`, :mod:`.connect_timeout`);
- section 4, ``POST /users``: :func:`run_article_users_route` (:mod:`.users_route`);
- section 3, ``@app.on_event``: :func:`run_article_startup_hook` (:mod:`.startup_hook`);
- section 3, the metrics code: :func:`run_article_metrics_snippet`,
  :func:`run_task_reference_demo` (:mod:`.metrics_snippet`, :mod:`.task_reference`);
- "常见报错处理", ``async with in transaction()``: :func:`compile_article_transaction`,
  :func:`run_article_transaction` (:mod:`.transaction`);
- its advice of 300-600 s idle lifetime: :func:`evaluate_idle_lifetime_advice`
  (:mod:`.idle_lifetime`).
"""

from labkit.labs.article.connect_timeout import TimeoutRun, run_article_timeout
from labkit.labs.article.evidence import Raised, Warned
from labkit.labs.article.idle_lifetime import IdleLifetimeAdvice, evaluate_idle_lifetime_advice
from labkit.labs.article.metrics_snippet import MetricsRun, run_article_metrics_snippet
from labkit.labs.article.pool_config import ConfigRun, run_article_config
from labkit.labs.article.snippets import (
    ARTICLE_CREDENTIALS,
    ARTICLE_METRICS,
    ARTICLE_TRANSACTION,
    ARTICLE_USERS_ROUTE,
)
from labkit.labs.article.startup_hook import StartupHookRun, run_article_startup_hook
from labkit.labs.article.task_reference import TaskReferenceRun, run_task_reference_demo
from labkit.labs.article.tortoise_config import article_tortoise_config
from labkit.labs.article.transaction import (
    TransactionRun,
    compile_article_transaction,
    run_article_transaction,
)
from labkit.labs.article.users_route import (
    Answer,
    UsersRouteRun,
    run_article_users_route,
    status_table,
)

__all__ = [
    "ARTICLE_CREDENTIALS",
    "ARTICLE_METRICS",
    "ARTICLE_TRANSACTION",
    "ARTICLE_USERS_ROUTE",
    "Answer",
    "ConfigRun",
    "IdleLifetimeAdvice",
    "MetricsRun",
    "Raised",
    "StartupHookRun",
    "TaskReferenceRun",
    "TimeoutRun",
    "TransactionRun",
    "UsersRouteRun",
    "Warned",
    "article_tortoise_config",
    "compile_article_transaction",
    "evaluate_idle_lifetime_advice",
    "run_article_config",
    "run_article_metrics_snippet",
    "run_article_startup_hook",
    "run_article_timeout",
    "run_article_transaction",
    "run_article_users_route",
    "run_task_reference_demo",
    "status_table",
]
