"""Lines from the embedded server's log: the server's own words, verbatim.

PostgreSQL tells a client little when it ends an idle session (the client is not
listening at that moment); the reason is in the server log. Only the embedded
server's log is readable from here; for other servers these return None.
"""

from __future__ import annotations

LOG_TAIL_LINES = 2000


def server_log_lines(
    pids: list[int] | None = None, contains: str | None = None
) -> list[str] | None:
    """Recent log lines about these backend ``pids`` and/or containing ``contains``.

    >>> server_log_lines([4242])  # doctest: +SKIP
    ['2026-11-25 15:22:02.937 UTC [4242] FATAL:  terminating connection due to ...']
    """
    from labkit.infra.database import find_database
    from labkit.infra.embedded import EmbeddedPostgres

    found = find_database()
    if found is None or found.kind != "embedded":
        return None
    lines = EmbeddedPostgres().log_tail(LOG_TAIL_LINES).splitlines()
    if pids is not None:
        lines = [line for line in lines if any(f"[{pid}]" in line for pid in pids)]
    if contains is not None:
        lines = [line for line in lines if contains in line]
    return lines
