"""Check the learner's environment before the labs: ``labkit doctor`` and notebook 00.

Python, the packages, the database and that it answers, loopback ports, the
ipywidgets frontend extension, jupyter-server-proxy, the Prometheus and PgBouncer
programs, the CPUs and memory this process may use, and whether the session is
hosted. The checks themselves are in :mod:`labkit.infra.checks`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass

from labkit.infra.checks import (
    REQUIRED,
    Check,
    binary_check,
    database_check,
    hosted_check,
    package_check,
    ports_check,
    python_check,
    resources_check,
    server_proxy_check,
    widgets_extension_check,
)

__all__ = ["Check", "EnvironmentReport", "check_environment"]


@dataclass(frozen=True, repr=False)
class EnvironmentReport:
    """The checks, shown as a table in Jupyter and as plain lines elsewhere.

    ``ok`` is True when nothing required is missing; ``problems`` are the required
    checks that failed, ``notes`` the optional ones (a lab falls back without them).
    """

    checks: list[Check]

    def __repr__(self) -> str:
        return str(self)

    @property
    def problems(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and c.required]

    @property
    def notes(self) -> list[Check]:
        return [c for c in self.checks if not c.ok and not c.required]

    @property
    def ok(self) -> bool:
        return not self.problems

    @staticmethod
    def _mark(check: Check) -> str:
        return "ok " if check.ok else ("FIX" if check.required else "opt")

    def __str__(self) -> str:
        lines = []
        for c in self.checks:
            lines.append(f"[{self._mark(c)}] {c.name:<26} {c.detail}")
            if not c.ok:
                lines.append(f"      -> {c.fix}")
        verdict = (
            "all is well"
            if self.ok and not self.notes
            else f"{len(self.problems)} problem(s), {len(self.notes)} optional item(s) missing"
        )
        return "\n".join([*lines, verdict])

    def _repr_html_(self) -> str:
        icons = {"ok ": "✅", "FIX": "❌", "opt": "➖"}
        rows = "".join(
            f"<tr><td>{icons[self._mark(c)]}</td><td>{html.escape(c.name)}</td>"
            f"<td>{html.escape(c.detail)}</td><td><code>{html.escape(c.fix)}</code></td></tr>"
            for c in self.checks
        )
        return (
            "<table><tr><th></th><th>check</th><th>found</th><th>how to fix</th></tr>"
            f"{rows}</table><p><small>❌ the labs need it; ➖ one lab falls back without it "
            "and says so.</small></p>"
        )


def check_environment(database: bool = True) -> EnvironmentReport:
    """Check everything the labs need; ``database=False`` skips finding a PostgreSQL.

    With ``database=True`` the embedded server is started if no other PostgreSQL
    answers, as the labs would. ``labkit doctor`` prints the same report.

    >>> print(check_environment())  # doctest: +SKIP
    [ok ] Python                     3.11.7 (CPython) at /srv/poollab/.venv/bin/python
    ...
    """
    from labkit.infra.pgbouncer import pgbouncer_binary  # the lab's own search (/usr/sbin)

    checks = [python_check(), *(package_check(dist) for dist in REQUIRED)]
    if database:
        checks.append(database_check())
    checks += [
        ports_check(),
        widgets_extension_check(),
        server_proxy_check(),
        binary_check(
            "prometheus",
            "notebook 03 uses an in-kernel scraper instead",
            "apt-get install prometheus (Debian/Ubuntu; Binder: apt.txt), or "
            "conda install -c conda-forge prometheus",
        ),
        binary_check(
            "promtool",
            "notebook 03 skips `promtool check metrics`",
            "apt-get install prometheus (it ships promtool)",
        ),
        binary_check(
            "pgbouncer",
            "needed only by a PgBouncer lab",
            "apt-get install pgbouncer, or conda install -c conda-forge pgbouncer",
            find=pgbouncer_binary,
        ),
        *resources_check(),
        hosted_check(),
    ]
    return EnvironmentReport(checks)
