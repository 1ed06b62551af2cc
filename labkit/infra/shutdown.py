"""Stop what the kit leaves running outside the kernel: Prometheus and the embedded PostgreSQL.

Both are separate processes on purpose (a kernel restart must not cost the
database), so something has to stop them when the learner is done: ``labkit stop``
by hand, or, on a workshop hub, :mod:`labkit.workshop.serverext` when the
learner's Jupyter server stops. The example app needs nothing: it is a thread of
the kernel, and its socket closes with the kernel.
"""

from __future__ import annotations

from pathlib import Path


def stop_lab_services(home: Path | None = None) -> list[str]:
    """Stop Prometheus, then the embedded PostgreSQL, under ``home``; what was running.

    Prometheus first: it scrapes an app whose pool talks to that database.
    A database the kit does not manage (``LABKIT_DATABASE_URL``, compose) is left alone.
    """
    from labkit.infra.embedded import EmbeddedPostgres
    from labkit.infra.home import labkit_home
    from labkit.monitoring.prometheus import stop_prometheus

    home = home or labkit_home()
    stopped = []
    if stop_prometheus(home):
        stopped.append("prometheus")
    if EmbeddedPostgres(home).stop():
        stopped.append("postgres")
    return stopped
