"""Pool Lab's helper package: a real PostgreSQL, the example app, and the lab bench.

``import labkit`` is instant and needs no database: each name below is imported
on first use. The names in ``__all__`` are the public surface the notebooks use
(a test pins them, and fails if a notebook reaches anything else):

>>> import labkit
>>> app = labkit.start_app(maxsize=5)   # doctest: +SKIP
>>> from labkit.labs import exhaustion  # doctest: +SKIP
>>> from labkit import quiz             # doctest: +SKIP

The package is grouped by role: ``labkit.labs`` (each notebook's experiments),
``labkit.grading`` (quizzes, exercises, gradebook), ``labkit.monitoring``
(Prometheus or an in-kernel scraper), ``labkit.app`` (the example FastAPI app and
its metrics) and ``labkit.infra`` (the plumbing).
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS = {
    "start_app": "labkit.infra.runner",
    "current_app": "labkit.infra.runner",
    "BackgroundApp": "labkit.infra.runner",
    "ensure_database": "labkit.infra.database",
    "find_database": "labkit.infra.database",
    "database_status": "labkit.infra.database",
    "Database": "labkit.infra.database",
    "app_sessions": "labkit.infra.sessions",
    "Session": "labkit.infra.sessions",
    "run_load": "labkit.infra.load",
    "LoadResult": "labkit.infra.load",
    "server_log_lines": "labkit.infra.server_log",
    "pool_status": "labkit.pool",
    "PoolStatus": "labkit.pool",
    "PoolSample": "labkit.pool",
    "check_environment": "labkit.environment",
    "service_url": "labkit.urls",
    "links": "labkit.urls",
    "set_language": "labkit.language",
    "say": "labkit.messages",
    "usable_cpus": "labkit.infra.resources",
    "LabkitError": "labkit.errors",
    "DatabaseUnavailableError": "labkit.errors",
    "EmbeddedServerError": "labkit.errors",
    "AppStartError": "labkit.errors",
}

# public submodules: labkit.<name> -> the module, imported on first use too
_SUBMODULES = {
    "labs": "labkit.labs",
    "monitoring": "labkit.monitoring",
    "plots": "labkit.plots",
    "widgets": "labkit.widgets",
    "quiz": "labkit.grading.quiz",
    "exercises": "labkit.grading.exercises",
}

__all__ = sorted(_EXPORTS.keys() | _SUBMODULES.keys())
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        value = importlib.import_module(_SUBMODULES[name])
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'labkit' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
