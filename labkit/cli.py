"""``labkit`` on the command line: ``labkit db ...``, ``labkit quiz ...``, ``labkit grade ...``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labkit.errors import LabkitError


def _db_start() -> int:
    from labkit.infra.database import ensure_database

    print(ensure_database().describe())
    return 0


def _db_url() -> int:
    from labkit.infra.database import ensure_database

    print(ensure_database().dsn)  # nothing else: `psql "$(labkit db url)"` must work
    return 0


def _db_status() -> int:
    from labkit.infra.database import database_status

    report = database_status()
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}}  {value}")
    return 0


def _embedded_only(action: str) -> str | None:
    """Why ``action`` does not apply, when the kit uses a database it does not manage."""
    from labkit.infra.database import find_database

    found = find_database()
    if found is not None and found.kind != "embedded":
        return (
            f"`labkit db {action}` manages only the embedded server; the kit is using the "
            f"{found.describe()}. Manage that server yourself "
            "(for compose: `docker compose stop postgres`)."
        )
    return None


def _db_stop() -> int:
    from labkit.infra.embedded import EmbeddedPostgres

    if reason := _embedded_only("stop"):
        print(reason, file=sys.stderr)
        return 1
    stopped = EmbeddedPostgres().stop()
    print("embedded PostgreSQL stopped" if stopped else "embedded PostgreSQL was not running")
    return 0


def _db_reset() -> int:
    from labkit.infra.database import Database
    from labkit.infra.embedded import EmbeddedPostgres

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


def _quiz_set_answer(args: argparse.Namespace) -> int:
    from pathlib import Path

    from labkit.grading.authoring import set_answer

    set_answer(
        Path(args.bank),
        args.question,
        args.answer,
        tolerance=args.tolerance,
        decimals=args.decimals,
    )
    print(f"{args.question}: salted hash written to {args.bank}")
    return 0


def _quiz_set_answers(args: argparse.Namespace) -> int:
    """Apply an instructor file: {question id: {answer, tolerance?, decimals?}}."""
    from pathlib import Path

    import yaml

    from labkit.grading.authoring import set_answer
    from labkit.grading.banks import bank_files

    answers = yaml.safe_load(Path(args.file).read_text(encoding="utf-8"))
    for qid, spec in answers.items():
        bank = bank_files()[qid.split("-")[0]]
        set_answer(
            bank,
            qid,
            str(spec["answer"]),
            tolerance=spec.get("tolerance", 0.0),
            decimals=spec.get("decimals", 0),
        )
    print(f"{len(answers)} answers hashed into the banks")
    return 0


@contextmanager
def _banks_from(folder: str | None) -> Iterator[None]:
    """Grade against the banks in ``folder`` (when given) while the block runs.

    It sets LABKIT_BANKS, the one switch labkit.grading.banks honours, so nothing
    else needs to know about ``--banks``; the old value comes back afterwards for
    callers that run ``main()`` in-process.
    """
    if folder is None:
        yield
        return
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise LabkitError(f"--banks {folder}: no such folder; give the folder that holds *.yaml")
    if not any(path.glob("*.yaml")):
        raise LabkitError(f"--banks {folder}: the folder holds no question banks (*.yaml)")
    previous = os.environ.get("LABKIT_BANKS")
    os.environ["LABKIT_BANKS"] = str(path.resolve())
    try:
        yield
    finally:
        if previous is None:
            del os.environ["LABKIT_BANKS"]
        else:
            os.environ["LABKIT_BANKS"] = previous


def _grade(args: argparse.Namespace) -> int:
    from labkit.grading.gradebook import grade_all, write_csv, write_json

    with _banks_from(args.banks):
        rows = grade_all([Path(p) for p in args.paths])
    if not rows:
        print("labkit: no notebooks found in " + " ".join(args.paths), file=sys.stderr)
        return 2
    write_csv(rows, Path(args.out))
    if args.json:
        write_json(rows, Path(args.json))
    for row in rows:
        verdict = f"ERROR {row.error}" if row.error else f"{row.raw_score:g}/{row.max_score:g}"
        print(f"{row.student_id:<24} {row.assignment:<4} {verdict}")
    print(f"wrote {args.out}" + (f" and {args.json}" if args.json else ""))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description="Pool Lab helper commands.")
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help="manage the lab's PostgreSQL")
    actions = db.add_subparsers(dest="action", required=True)
    for name, (_, help_text) in DB_ACTIONS.items():
        actions.add_parser(name, help=help_text)

    quiz = commands.add_parser("quiz", help="author the question banks")
    quiz_actions = quiz.add_subparsers(dest="action", required=True)
    one = quiz_actions.add_parser("set-answer", help="hash one answer into a bank")
    one.add_argument("bank")
    one.add_argument("question")
    one.add_argument("answer", help="a letter, letters like A,C, or a number")
    one.add_argument("--tolerance", type=float, default=0.0, help="numeric questions")
    one.add_argument("--decimals", type=int, default=0, help="numeric questions")
    one.set_defaults(run=_quiz_set_answer)
    many = quiz_actions.add_parser("set-answers", help="hash every answer of an instructor file")
    many.add_argument("file")
    many.set_defaults(run=_quiz_set_answers)

    grade = commands.add_parser("grade", help="grade submitted notebooks into a gradebook")
    grade.add_argument("paths", nargs="+", help="notebooks, or folders of them")
    grade.add_argument("--out", default="grades.csv", help="CSV in nbgrader's export shape")
    grade.add_argument("--json", help="also write the rows as JSON for LMS import")
    grade.add_argument(
        "--banks",
        metavar="DIR",
        help="grade against the question banks in DIR (e.g. your own copy) instead of the "
        "installed ones; same as setting LABKIT_BANKS",
    )
    grade.set_defaults(run=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "db":
            return DB_ACTIONS[args.action][0]()
        return args.run(args)
    except LabkitError as exc:
        print(f"labkit: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
