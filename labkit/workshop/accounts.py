"""System accounts for a workshop rehearsal (the test and the benchmark); root only.

A real workshop's accounts come from its authenticator (PAM users, or
LocalAuthenticator's ``create_system_users``). A rehearsal makes throw-away
ones with private homes and removes them, and whatever still runs as them, after.
"""

from __future__ import annotations

import os
import pwd
import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psutil

from labkit.errors import LabkitError
from labkit.infra.processes import terminate


@dataclass(frozen=True)
class Learner:
    name: str
    uid: int
    home: Path


def create_learners(count: int, prefix: str | None = None) -> list[Learner]:
    """``count`` new accounts named ``PREFIX-1`` ... with homes only they can enter."""
    if os.geteuid() != 0:
        raise LabkitError("creating learner accounts needs root (useradd)")
    prefix = prefix or f"pl{secrets.token_hex(3)}"
    learners = []
    try:
        for i in range(1, count + 1):
            name = f"{prefix}-{i}"
            subprocess.run(
                ["useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name],
                check=True,
                capture_output=True,
            )
            entry = pwd.getpwnam(name)
            home = Path(entry.pw_dir)
            # Debian's default home is world-readable: a learner's notebooks (their
            # quiz answers) would be readable by every other learner.
            home.chmod(0o700)
            learners.append(Learner(name, entry.pw_uid, home))
    except BaseException:
        remove_learners(learners)
        raise
    return learners


def processes_of(uid: int) -> list[psutil.Process]:
    """Every live process running as ``uid`` (real uid)."""
    found = []
    for process in psutil.process_iter(["uids", "status"]):
        uids = process.info["uids"]
        if uids and uids.real == uid and process.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(process)
    return found


def remove_learners(learners: list[Learner]) -> None:
    """End whatever still runs as each learner, then delete the account and its home."""
    for learner in learners:
        terminate(processes_of(learner.uid), timeout=5)
        subprocess.run(["userdel", "--remove", learner.name], capture_output=True)
