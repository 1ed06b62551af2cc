"""Pool Lab's helper package: a real PostgreSQL, the example app, and the lab bench.

``import labkit`` is instant and needs no database: each name below is imported
on first use.

>>> import labkit
>>> app = labkit.start_app(maxsize=5)   # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

# public name -> module that defines it
_EXPORTS = {
    "start_app": "labkit.server",
    "current_app": "labkit.server",
    "BackgroundApp": "labkit.server",
    "ensure_database": "labkit.db",
    "find_database": "labkit.db",
    "database_status": "labkit.db",
    "Database": "labkit.db",
    "app_sessions": "labkit.sessions",
    "pool_status": "labkit.pool",
    "PoolStatus": "labkit.pool",
    "check_environment": "labkit.environment",
    "LabkitError": "labkit.errors",
    "DatabaseUnavailableError": "labkit.errors",
    "EmbeddedServerError": "labkit.errors",
    "AppStartError": "labkit.errors",
}

# submodules a notebook uses as labkit.<name>, imported on first use too
_SUBMODULES = {"quiz", "results", "exercises"}

__all__ = sorted(_EXPORTS.keys() | _SUBMODULES)
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"labkit.{name}")
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
