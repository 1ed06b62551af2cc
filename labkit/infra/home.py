"""Where labkit keeps its state: the embedded database, results and logs.

- ``LABKIT_HOME`` wins when set.
- As root, ``/var/lib/labkit``. The embedded server then runs as the wheel's own
  system user, which must be able to reach the data directory; keeping it out of
  ``/root`` means no private home directory has to be opened up for it.
- Otherwise the user's cache dir (``~/.cache/labkit`` on Linux), so two users on
  one host never share a data directory, a port or a socket.
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ROOT_HOME = Path("/var/lib/labkit")


def is_root() -> bool:
    """True when running as the superuser (CI runs as root; Binder does not)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def labkit_home() -> Path:
    """The folder that holds labkit's state, created if missing.

    >>> labkit_home()  # doctest: +SKIP
    PosixPath('/home/jovyan/.cache/labkit')
    """
    override = os.environ.get("LABKIT_HOME")
    if override:
        home = Path(override).expanduser().resolve()
    elif is_root():
        home = ROOT_HOME
    else:
        home = platformdirs.user_cache_path("labkit")
    # 0o755 as root: the server's system user must be able to traverse it.
    home.mkdir(parents=True, exist_ok=True, mode=0o755 if is_root() else 0o700)
    return home
