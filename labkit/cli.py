"""``labkit`` on the command line: ``labkit db start | status | stop | reset | url``."""

from __future__ import annotations

import argparse
import sys

from labkit.errors import LabkitError


def _db_start() -> int:
    from labkit.db import ensure_database

    print(ensure_database().describe())
    return 0


def _db_url() -> int:
    from labkit.db import ensure_database

    print(ensure_database().dsn)  # nothing else: `psql "$(labkit db url)"` must work
    return 0


def _db_status() -> int:
    from labkit.db import database_status

    report = database_status()
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return 0


def _embedded_only(action: str) -> str | None:
    """Why ``action`` does not apply, when the kit uses a database it does not manage."""
    from labkit.db import find_database

    found = find_database()
    if found is not None and found.kind != "embedded":
        return (
            f"`labkit db {action}` manages only the embedded server; the kit is using the "
            f"{found.describe()}. Manage that server yourself "
            "(for compose: `docker compose stop postgres`)."
        )
    return None


def _db_stop() -> int:
    from labkit.embedded import EmbeddedPostgres

    if reason := _embedded_only("stop"):
        print(reason, file=sys.stderr)
        return 1
    stopped = EmbeddedPostgres().stop()
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def _db_reset() -> int:
    from labkit.db import Database
    from labkit.embedded import EmbeddedPostgres

    if reason := _embedded_only("reset"):
        print(reason, file=sys.stderr)
        return 1
    server = EmbeddedPostgres()
    print(f"deleting {server.pgdata} and starting a fresh server...")
    running = server.reset()
    print(Database("embedded", server.dsn(running)).describe())
    return 0


DB_ACTIONS = {
    "start": (_db_start, "start the database, or reattach to the running one"),
    "status": (_db_status, "say which database the kit uses and whether it answers"),
    "stop": (_db_stop, "stop the embedded server, leaving no process behind"),
    "reset": (_db_reset, "delete the embedded server's data and start afresh"),
    "url": (_db_url, "print the connection URL and nothing else"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Pool Lab helper commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="manage the lab's PostgreSQL")
    actions = db.add_subparsers(dest="action", required=True)
    for name, (_, help_text) in DB_ACTIONS.items():
        actions.add_parser(name, help=help_text)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return DB_ACTIONS[args.action][0]()
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
