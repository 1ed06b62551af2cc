"""Stop what the kit leaves running outside the kernel: Prometheus, app workers, PgBouncer
and the embedded PostgreSQL.

They are separate processes on purpose (a kernel restart must not cost the
database; Ctrl-C must not kill a worker mid-lab), so something has to stop them
when the learner is done: ``labkit stop``
by hand, or, on a workshop hub, :mod:`labkit.workshop.serverext` when the
learner's Jupyter server stops. The example app needs nothing: it is a thread of
the kernel, and its socket closes with the kernel.
"""

from __future__ import annotations

from pathlib import Path


def stop_lab_services(home: Path | None = None) -> list[str]:
    """Stop what runs under ``home``, clients before the database; what was running.

    Prometheus first (it scrapes the apps), then app workers and PgBouncers whose
    kernel has ended (a live kernel's are its own: its exit stops them), then the
    embedded PostgreSQL. A database the kit does not manage (``LABKIT_DATABASE_URL``,
    compose) is left alone.
    """
    from labkit.infra.embedded import EmbeddedPostgres
    from labkit.infra.home import labkit_home
    from labkit.infra.processes import end_orphans
    from labkit.monitoring.prometheus import stop_prometheus

    home = home or labkit_home()
    stopped = []
    if stop_prometheus(home):
        stopped.append("prometheus")
    for folder, what in [("workers", "app workers"), ("pgbouncer", "pgbouncer")]:
        if (home / folder).is_dir() and end_orphans(home / folder):
            stopped.append(what)
    if EmbeddedPostgres(home).stop():
        stopped.append("postgres")
    return stopped
