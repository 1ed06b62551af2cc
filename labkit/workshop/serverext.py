"""A Jupyter server extension: when a learner's server stops, stop their lab services too.

The embedded PostgreSQL and Prometheus outlive the kernel by design (a kernel
restart must not cost the learner their database). On a shared host that would
leave every learner's database running after their server was stopped by hand,
by the hub or by the idle culler. This extension runs in the learner's server,
as the learner, and on the server's shutdown:

1. shuts the kernels down (each one's example app closes its pool and socket),
2. stops Prometheus and the embedded PostgreSQL (:func:`labkit.infra.shutdown.stop_lab_services`).

JupyterHub's local-process spawner stops a server with SIGINT first. Jupyter
Server handles SIGINT only when its stdin is a terminal, which a spawned
server's is not: Python's default handler then raises KeyboardInterrupt, the
server prints "Interrupted..." and exits without any cleanup (no kernel is shut
down, no extension is told). So the extension also makes SIGINT stop the server
the way SIGTERM does, when stdin is not a terminal.

Why here and not in the hub: it works under any spawner (local processes,
systemd, Kubernetes), needs no privilege, and the next start simply starts the
database again (its data stays). The hub's environment enables it in
``etc/jupyter/jupyter_server_config.d/labkit-workshop.json``.
A server killed with SIGKILL runs no hook at all; its learner's next
``start_app()`` reattaches to the database it left (see ``docs/workshop.md``).
"""

from __future__ import annotations

import asyncio
import signal
import sys

from jupyter_core.utils import ensure_async
from jupyter_server.extension.application import ExtensionApp


class StopLabServices(ExtensionApp):
    """Stops the learner's database and Prometheus when the Jupyter server stops."""

    name = "labkit_workshop"

    def initialize_settings(self) -> None:
        # Runs in the main thread while the server starts: the one place a handler can be set.
        if sys.stdin is None or not sys.stdin.isatty():
            signal.signal(signal.SIGINT, self._stop_server)

    def _stop_server(self, signum: int, frame: object) -> None:
        self.log.info("labkit: received SIGINT, stopping the server and its lab services")
        self.serverapp.stop(from_signal=True)

    async def stop_extension(self) -> None:
        from labkit.infra.shutdown import stop_lab_services

        # Kernels first: their apps hold pooled connections to the database.
        await ensure_async(self.serverapp.kernel_manager.shutdown_all())
        try:
            stopped = await asyncio.to_thread(stop_lab_services)
        except Exception:  # a failed stop must not stop the server's own shutdown
            self.log.exception("labkit: could not stop the lab's services")
            return
        self.log.info("labkit: stopped %s", ", ".join(stopped) or "nothing (none was running)")


def _jupyter_server_extension_points() -> list[dict]:
    return [{"module": __name__, "app": StopLabServices}]
