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
    language_check,
    package_check,
    ports_check,
    python_check,
    resources_check,
    server_proxy_check,
    widgets_extension_check,
)
from labkit.messages import _, display_width

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
        # Kept in English in every language: scripts and the tests grep for "[FIX]".
        return "ok " if check.ok else ("FIX" if check.required else "opt")

    def __str__(self) -> str:
        lines = []
        names = [_(c.name) for c in self.checks]
        for c, name in zip(self.checks, names, strict=True):
            # Chinese characters take two columns on a terminal: pad by display width.
            padding = " " * max(0, 26 - display_width(name))
            lines.append(f"[{self._mark(c)}] {name}{padding} {c.detail}")
            if not c.ok:
                lines.append(f"      -> {c.fix}")
        verdict = (
            _("all is well")
            if self.ok and not self.notes
            else _("{problems} problem(s), {notes} optional item(s) missing").format(
                problems=len(self.problems), notes=len(self.notes)
            )
        )
        return "\n".join([*lines, verdict])

    def _repr_html_(self) -> str:
        icons = {"ok ": "✅", "FIX": "❌", "opt": "➖"}
        rows = "".join(
            f"<tr><td>{icons[self._mark(c)]}</td><td>{html.escape(_(c.name))}</td>"
            f"<td>{html.escape(c.detail)}</td><td><code>{html.escape(c.fix)}</code></td></tr>"
            for c in self.checks
        )
        head = "".join(f"<th>{_(h)}</th>" for h in ("check", "found", "how to fix"))
        legend = _("❌ the labs need it; ➖ one lab falls back without it and says so.")
        return f"<table><tr><th></th>{head}</tr>{rows}</table><p><small>{legend}</small></p>"


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
            _("notebook 03 uses an in-kernel scraper instead"),
            _(
                "apt-get install prometheus (Debian/Ubuntu; Binder: apt.txt), or "
                "conda install -c conda-forge prometheus"
            ),
        ),
        binary_check(
            "promtool",
            _("notebook 03 skips `promtool check metrics`"),
            _("apt-get install prometheus (it ships promtool)"),
        ),
        binary_check(
            "pgbouncer",
            _("needed only by a PgBouncer lab"),
            _("apt-get install pgbouncer, or conda install -c conda-forge pgbouncer"),
            find=pgbouncer_binary,
        ),
        *resources_check(),
        hosted_check(),
        language_check(),
    ]
    return EnvironmentReport(checks)
