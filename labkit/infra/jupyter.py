"""The Jupyter server this kernel runs under, as the learner's browser sees it.

On a hosted session (Binder, a JupyterHub) the browser is not on the machine that
runs the kernel, so ``http://127.0.0.1:<port>`` opens nothing there. What the
browser *can* open is the Jupyter server it is already talking to, and
jupyter-server-proxy serves any local port under it at ``<base_url>proxy/<port>/``.

- On a hub, the single-user server's base URL is ``JUPYTERHUB_SERVICE_PREFIX``
  (``/user/alice/``); the public host is rarely known to the kernel, so links are
  absolute paths, which a browser resolves against the page it shows.
- Locally, the server that started this kernel is found in Jupyter's runtime
  folder (``jpserver-<pid>.json``, the file ``jupyter server list`` reads) by the
  pid of one of this process's ancestors.
- Outside any Jupyter server (a script, nbclient in the tests) there is none: the
  browser, if any, is on this machine and the direct address is the link.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psutil

# Names of the hosting services, by an environment variable each one sets.
HOSTS = (("BINDER_LAUNCH_HOST", "Binder"), ("JUPYTERHUB_SERVICE_PREFIX", "JupyterHub"))


@dataclass(frozen=True)
class JupyterServer:
    """Where the browser reaches the Jupyter server: ``origin`` + ``base_url``.

    ``origin`` is ``http://127.0.0.1:8888`` for a local server and empty on a hub,
    where links are absolute paths the browser completes with its own host.
    """

    base_url: str  # always starts and ends with "/"
    origin: str = ""
    hosted: str | None = None  # "Binder", "JupyterHub" or None (a local server)

    def url(self, path: str = "") -> str:
        """``path`` under the server's base URL, as the browser should open it."""
        return self.origin + self.base_url + path.lstrip("/")


def hosting_service() -> str | None:
    """ "Binder" or "JupyterHub" when this session is hosted, else None."""
    for variable, name in HOSTS:
        if os.environ.get(variable):
            return name
    return None


def _base_url(path: str) -> str:
    """``path`` with exactly one slash at each end: "/" or "/user/alice/"."""
    inner = path.strip("/")
    return f"/{inner}/" if inner else "/"


def _runtime_dir() -> Path:
    # jupyter_core's rule, without importing it: the kernel may not have it.
    if os.environ.get("JUPYTER_RUNTIME_DIR"):
        return Path(os.environ["JUPYTER_RUNTIME_DIR"])
    data = os.environ.get("JUPYTER_DATA_DIR") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "jupyter"
    )
    return Path(data) / "runtime"


def _ancestor_pids() -> set[int]:
    pids = set()
    with contextlib.suppress(psutil.Error):
        pids = {p.pid for p in psutil.Process().parents()}
    with contextlib.suppress(ValueError):
        pids.add(int(os.environ.get("JPY_PARENT_PID", "")))  # set by jupyter_client
    return pids


def _local_server() -> JupyterServer | None:
    """The running Jupyter server that started this process, from its runtime file."""
    ancestors = _ancestor_pids()
    for info_file in sorted(_runtime_dir().glob("jpserver-*.json")):
        with contextlib.suppress(OSError, ValueError):
            info = json.loads(info_file.read_text())
            if info.get("pid") in ancestors:
                base_url = _base_url(info.get("base_url", "/"))
                parts = urlsplit(info["url"])
                return JupyterServer(base_url, f"{parts.scheme}://{parts.netloc}")
    return None


def _hub_origin() -> str:
    """The hub's public scheme and host, when the hub tells its servers (else "")."""
    # JUPYTERHUB_PUBLIC_URL: set when the hub's public_url is configured;
    # JUPYTERHUB_HOST: set when each user's server has its own subdomain.
    for variable in ("JUPYTERHUB_PUBLIC_URL", "JUPYTERHUB_HOST"):
        parts = urlsplit(os.environ.get(variable, ""))
        if parts.scheme in ("http", "https") and parts.netloc:
            return f"{parts.scheme}://{parts.netloc}"
    return ""


def jupyter_server() -> JupyterServer | None:
    """The Jupyter server behind this kernel, or None when there is none.

    >>> jupyter_server()  # doctest: +SKIP
    JupyterServer(base_url='/user/alice/', origin='', hosted='JupyterHub')
    """
    prefix = os.environ.get("JUPYTERHUB_SERVICE_PREFIX")
    if prefix:
        return JupyterServer(_base_url(prefix), _hub_origin(), hosting_service())
    return _local_server()


def server_proxy_installed() -> bool:
    """True when jupyter-server-proxy can be imported (its server extension is then on)."""
    return importlib.util.find_spec("jupyter_server_proxy") is not None
