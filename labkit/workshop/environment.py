"""The hub's environment: JupyterHub, JupyterLab, labkit and the proxy, for every learner.

Learners' servers run under their own accounts, so the single-user command must be
executable by them. A virtualenv made from a Python that lives in a private
folder (pyenv under /root, say) fails to spawn with ``Permission denied``: its
``bin/python`` is a link into that folder. So the environment is built from the
system-wide Python (``/usr/bin/python3``) into a folder that everyone can read.

Building takes a minute or two; the result is kept under a key made from the
requirements and labkit's ``pyproject.toml``, and only labkit itself is
reinstalled when its code changed.

>>> env = build_hub_environment(Path("."))          # doctest: +SKIP
>>> env.command("jupyterhub")                       # doctest: +SKIP
'/opt/poollab-hub/3f2a.../bin/jupyterhub'
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import LabkitError

SYSTEM_PYTHON = "/usr/bin/python3"
DEFAULT_ROOT = Path("/opt/poollab-hub")
# Versions tried together; the hub's own pieces (the learner's come with labkit).
HUB_REQUIREMENTS = [
    "jupyterhub>=6.1,<7",
    "jupyterhub-idle-culler>=2.0",
    "jupyter-server-proxy>=4.4",
    "ipykernel>=7.4.0",
    "setuptools>=77",  # builds labkit itself without downloading a build backend
]
PROXY_PACKAGE = "configurable-http-proxy@5"
SERVER_EXTENSION = "labkit.workshop.serverext"


class HubEnvironmentError(LabkitError):
    """The hub's environment could not be built."""


@dataclass(frozen=True)
class HubEnvironment:
    """A built hub environment under ``prefix``."""

    prefix: Path

    @property
    def python(self) -> Path:
        return self.prefix / "bin" / "python"

    def command(self, name: str) -> str:
        """The path of one of the environment's programs (``jupyterhub``, ``labkit``...)."""
        return str(self.prefix / "bin" / name)

    @property
    def proxy(self) -> str:
        """configurable-http-proxy, installed from npm beside the Python environment."""
        return str(self.prefix / "node" / "node_modules" / ".bin" / "configurable-http-proxy")


def readable_by_everyone(path: Path) -> bool:
    """True when every folder above ``path`` lets other accounts in (o+x)."""
    return all(parent.stat().st_mode & 0o001 for parent in Path(path).resolve().parents)


def check_python(python: str) -> Path:
    """``python``'s real path, if other accounts can execute it; else a clear error."""
    real = Path(shutil.which(python) or python).resolve()
    if not real.exists():
        raise HubEnvironmentError(
            f"{python} does not exist. Install the system Python "
            "(`apt-get install python3 python3-venv`) or give another with --python."
        )
    if not readable_by_everyone(real):
        raise HubEnvironmentError(
            f"{python} is {real}, inside a folder other accounts cannot enter: learners' "
            f"servers would fail with 'Permission denied'. Build from {SYSTEM_PYTHON}."
        )
    probe = subprocess.run(
        [str(real), "-c", "import venv, ensurepip"], capture_output=True, text=True
    )
    if probe.returncode != 0:
        raise HubEnvironmentError(
            f"{real} cannot make a virtualenv with pip: `apt-get install python3-venv`."
        )
    return real


def _labkit_dependencies(source: Path) -> str:
    """labkit's declared dependencies: a change to them (not to pytest's settings) rebuilds."""
    text = (source / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python 3.10: hash the whole file instead
        return text
    return json.dumps(tomllib.loads(text)["project"].get("dependencies", []))


def environment_key(source: Path, python: Path) -> str:
    """What the installed packages depend on: the Python, the hub's pins, labkit's deps."""
    digest = hashlib.sha256()
    version = subprocess.run(
        [str(python), "-c", "import sys; print(sys.version)"], capture_output=True, text=True
    ).stdout
    for part in (str(python), version, *HUB_REQUIREMENTS, PROXY_PACKAGE, SERVER_EXTENSION):
        digest.update(part.encode() + b"\0")
    digest.update(_labkit_dependencies(source).encode())
    return digest.hexdigest()[:16]


def prune_old_environments(root: Path, keep: Path, older_than_s: float = 2 * 86400) -> None:
    """Delete other environments under ``root`` unused for ``older_than_s`` (600 MB each)."""
    now = time.time()
    for stamp in root.glob("*/.complete"):
        prefix = stamp.parent
        if prefix != keep and now - stamp.stat().st_mtime > older_than_s:
            shutil.rmtree(prefix, ignore_errors=True)


def _run(command: list[str], what: str, **kwargs) -> None:
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise HubEnvironmentError(
            f"{what} failed (exit {result.returncode}): {' '.join(command)}\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )


def _enable_server_extension(prefix: Path) -> None:
    """Every learner's server loads :mod:`labkit.workshop.serverext` (config in the env)."""
    folder = prefix / "etc" / "jupyter" / "jupyter_server_config.d"
    folder.mkdir(parents=True, exist_ok=True)
    config = {"ServerApp": {"jpserver_extensions": {SERVER_EXTENSION: True}}}
    (folder / "labkit-workshop.json").write_text(json.dumps(config, indent=2) + "\n")


def _open_to_everyone(prefix: Path) -> None:
    """a+rX over the whole tree: whatever umask pip and npm ran under."""
    for folder, dirs, files in os.walk(prefix):
        for name in [*dirs, *files]:
            path = Path(folder, name)
            if not path.is_symlink():
                mode = path.stat().st_mode
                extra = 0o555 if path.is_dir() or mode & 0o100 else 0o444
                path.chmod(mode | extra)
    prefix.chmod(prefix.stat().st_mode | 0o555)


def build_hub_environment(
    source: Path,
    root: Path = DEFAULT_ROOT,
    python: str = SYSTEM_PYTHON,
    log=print,
) -> HubEnvironment:
    """Build (or reuse) the hub environment for labkit's source tree at ``source``.

    ``root`` must be a folder learners can enter; the environment goes into
    ``root/<key>``. labkit itself is reinstalled from ``source`` every time (a
    copy, not an editable install: the checkout may sit where learners cannot read).
    """
    source = Path(source).resolve()
    if not (source / "pyproject.toml").exists():
        raise HubEnvironmentError(f"{source} is not labkit's source tree (no pyproject.toml)")
    real_python = check_python(python)
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    if not readable_by_everyone(root / "x"):
        raise HubEnvironmentError(
            f"{root} is inside a folder other accounts cannot enter; choose another --root."
        )
    env = HubEnvironment(root / environment_key(source, real_python))
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        complete = env.prefix / ".complete"
        if not complete.exists():
            log(f"building the hub environment in {env.prefix} (a minute or two)...")
            with contextlib.suppress(FileNotFoundError):
                shutil.rmtree(env.prefix)
            _run([str(real_python), "-m", "venv", str(env.prefix)], "creating the virtualenv")
            _run(
                [str(env.python), "-m", "pip", "install", "-q", *HUB_REQUIREMENTS, str(source)],
                "installing JupyterHub and labkit",
            )
            _run(
                ["npm", "install", "--silent", "--prefix", str(env.prefix / "node"), PROXY_PACKAGE],
                "installing configurable-http-proxy from npm",
            )
            complete.write_text("ok\n")
        else:
            log(f"reusing the hub environment in {env.prefix}; reinstalling labkit from {source}")
            _run(
                [
                    str(env.python),
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--no-deps",
                    "--no-build-isolation",
                    "--force-reinstall",
                    str(source),
                ],
                "reinstalling labkit",
            )
        _enable_server_extension(env.prefix)
        _open_to_everyone(env.prefix)
        complete.touch()  # last used now: see prune_old_environments
        prune_old_environments(root, keep=env.prefix)
    return env


def main(argv: list[str] | None = None) -> int:
    """``python -m labkit.workshop.environment SOURCE [ROOT]``: build and print the prefix."""
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print(__doc__)
        return 2
    root = Path(args[1]) if len(args) > 1 else DEFAULT_ROOT
    print(build_hub_environment(Path(args[0]), root).prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
