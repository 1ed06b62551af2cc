"""What the embedded server leaves on disk: our state file and PostgreSQL's pid file."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from labkit.infra.jsonfile import read_json, write_json


@dataclass(frozen=True)
class ServerState:
    """What must survive a kernel restart: the port and the lab role's password."""

    port: int
    password: str

    def __repr__(self) -> str:  # never print the password
        return f"ServerState(port={self.port}, password='***')"


@dataclass(frozen=True)
class RunningServer:
    """A live embedded server, as read from its ``postmaster.pid``."""

    pid: int
    port: int
    socket_dir: Path


def read_state(path: Path) -> ServerState:
    """The saved state, or an empty one (port 0, no password) if there is none."""
    try:
        return ServerState(**read_json(path, {}))
    except TypeError:
        return ServerState(port=0, password="")


def write_state(path: Path, state: ServerState) -> None:
    """Save ``state``; the file holds a password, so only its owner may read it."""
    write_json(path, asdict(state), mode=0o600)


def read_postmaster_pid(pgdata: Path) -> RunningServer | None:
    """Parse PGDATA/postmaster.pid: pid, data dir, start time, port, socket dir, ..."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
        return RunningServer(pid=int(lines[0]), port=int(lines[3]), socket_dir=Path(lines[4]))
    except (OSError, IndexError, ValueError):
        return None
