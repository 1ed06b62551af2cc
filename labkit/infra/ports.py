"""TCP ports on 127.0.0.1: the one place that binds, probes and picks them.

Every server the kit starts (the example app, the embedded PostgreSQL,
Prometheus) listens on loopback only, so nothing is exposed to the network.
"""

from __future__ import annotations

import socket
import warnings

from labkit.messages import _


def bind_tcp(port: int = 0, *, warn_if_busy: bool = True) -> socket.socket:
    """A TCP socket bound to 127.0.0.1:``port``, or to a free port if that one is busy.

    SO_REUSEADDR, as every server sets it (PostgreSQL and uvicorn included): a port
    whose last connections sit in TIME_WAIT after a restart is free to listen on
    again. Without it such a port looks busy for a minute, and a restarted server
    would move to another port under the feet of the clients that knew the old one.
    """
    # IPPROTO_TCP, not the default 0: asyncio sets TCP_NODELAY only on sockets whose
    # proto says TCP, and accepted sockets inherit it. Without it, uvicorn's separate
    # header and body writes meet Nagle + delayed ACK: a 40 ms stall per response.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError:
        if port == 0:
            sock.close()
            raise
        if warn_if_busy:
            warnings.warn(
                _("port {port} is busy; a free port is used instead").format(port=port),
                stacklevel=3,
            )
        sock.bind(("127.0.0.1", 0))
    return sock


def free_port(preferred: int = 0) -> int:
    """``preferred`` if a server could listen on it now, else a free port chosen by the OS.

    >>> free_port() > 1024
    True
    """
    with bind_tcp(preferred, warn_if_busy=False) as sock:
        return sock.getsockname()[1]
