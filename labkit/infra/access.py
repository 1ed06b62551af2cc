"""Who may talk to the example app and Prometheus: nobody but their owner, on a shared host.

Both listen on 127.0.0.1. On your own laptop only you are there, so they ask for
nothing. On a shared host (a workshop's JupyterHub with its local-process spawner)
every other learner's account can reach 127.0.0.1 too, and the app's lab
endpoints leak and hold connections on request: one curious neighbour could
empty your pool. There each service gets a random secret per start, and asks for
it with HTTP Basic authentication, the way the database asks for its password.

The secret travels inside the URL, exactly as the database's password does in
its DSN (``postgresql://labkit:secret@127.0.0.1:5432/labkit``):

>>> with_credentials("http://127.0.0.1:8000", "s3cret")
'http://labkit:s3cret@127.0.0.1:8000'

httpx turns the user and password of a URL into an ``Authorization: Basic``
header, so every ``httpx.get(f"{app.url}/...")`` in the notebooks works unchanged.

The hub's configuration turns this on by setting ``LABKIT_SHARED_HOST=1`` in each
learner's environment; ``docs/workshop.md`` says why it is a switch and not a guess.
"""

from __future__ import annotations

import base64
import os
import secrets
from urllib.parse import quote, unquote, urlsplit, urlunsplit

ENV_VAR = "LABKIT_SHARED_HOST"
USERNAME = "labkit"  # the one user name both services accept; the secret is the password


def shared_host() -> bool:
    """True when other accounts share this host's loopback: protect the services.

    ``LABKIT_SHARED_HOST`` decides: ``1``/``true``/``yes``/``on`` turns protection on;
    unset, empty or ``0``/``false``/``no``/``off`` leaves it off.
    """
    value = os.environ.get(ENV_VAR, "").strip().lower()
    if value in {"", "0", "false", "no", "off"}:
        return False
    if value in {"1", "true", "yes", "on"}:
        return True
    raise ValueError(
        f"{ENV_VAR}={os.environ[ENV_VAR]!r} is neither on nor off: set it to 1 on a host where "
        "other accounts can reach 127.0.0.1 (a shared JupyterHub), or to 0 (or unset it)."
    )


def new_secret() -> str:
    """A fresh random secret: 128 bits, URL-safe, so it needs no escaping in a URL."""
    return secrets.token_urlsafe(16)


def with_credentials(url: str, secret: str | None) -> str:
    """``url`` with ``labkit:secret@`` in front of its host (unchanged when secret is None)."""
    if secret is None:
        return url
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    netloc = f"{USERNAME}:{quote(secret, safe='')}@{host}"
    return urlunsplit(parts._replace(netloc=netloc))


def split_credentials(url: str) -> tuple[str, tuple[str, str] | None]:
    """``(url without user and password, (user, password) or None)``.

    >>> split_credentials("http://labkit:s3cret@127.0.0.1:8000/metrics")
    ('http://127.0.0.1:8000/metrics', ('labkit', 's3cret'))
    """
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url, None
    bare = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
    return bare, (unquote(parts.username or ""), unquote(parts.password or ""))


def basic_authorization(user: str, password: str) -> str:
    """The value of an ``Authorization`` header for HTTP Basic authentication (RFC 7617)."""
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return f"Basic {token}"
