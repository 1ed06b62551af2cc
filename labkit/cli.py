"""``labkit`` on the command line.

- ``labkit db start | status | stop | reset | url``: the lab's PostgreSQL;
- ``labkit doctor``: everything the labs need, each problem with its fix;
- ``labkit stop``: the database and Prometheus, whatever the kit left running;
- ``labkit workshop env | config | collect``: a class on one JupyterHub host;
- ``labkit quiz set-answer(s) | release | key-template``: the question banks;
- ``labkit nbgrader generate``: class mode's nbgrader assignments;
- ``labkit grade``: a gradebook from submitted notebooks.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from labkit.errors import LabkitError
from labkit.messages import N_, _


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
        return _(
            "`labkit db {action}` manages only the embedded server; the kit is using the "
            "{database}. Manage that server yourself (for compose: `docker compose stop postgres`)."
        ).format(action=action, database=found.describe())
    return None


def _db_stop() -> int:
    from labkit.infra.embedded import EmbeddedPostgres

    if reason := _embedded_only("stop"):
        print(reason, file=sys.stderr)
        return 1
    stopped = EmbeddedPostgres().stop()
    print(_("embedded PostgreSQL stopped") if stopped else _("embedded PostgreSQL was not running"))
    return 0


def _db_reset() -> int:
    from labkit.infra.database import Database
    from labkit.infra.embedded import EmbeddedPostgres

    if reason := _embedded_only("reset"):
        print(reason, file=sys.stderr)
        return 1
    server = EmbeddedPostgres()
    print(_("deleting {folder} and starting a fresh server...").format(folder=server.pgdata))
    running = server.reset()
    print(Database("embedded", server.dsn(running)).describe())
    return 0


DB_ACTIONS = {
    "start": (_db_start, N_("start the database, or reattach to the running one")),
    "status": (_db_status, N_("say which database the kit uses and whether it answers")),
    "stop": (_db_stop, N_("stop the embedded server, leaving no process behind")),
    "reset": (_db_reset, N_("delete the embedded server's data and start afresh")),
    "url": (_db_url, N_("print the connection URL and nothing else")),
}


def _stop(args: argparse.Namespace) -> int:
    from labkit.infra.shutdown import stop_lab_services

    stopped = stop_lab_services()
    if stopped:
        print(_("stopped: {services}").format(services=", ".join(stopped)))
    else:
        print(_("nothing of labkit's was running"))
    return 0


@contextmanager
def _banks_from(folder: str | None) -> Iterator[None]:
    """Use the banks in ``folder`` (when given) while the block runs: ``--banks DIR``.

    It sets LABKIT_BANKS, the one switch labkit.grading.banks honours, so nothing
    else needs to know about ``--banks``; the old value comes back afterwards for
    callers that run ``main()`` in-process.
    """
    if folder is None:
        yield
        return
    path = Path(folder).expanduser()
    if not path.is_dir():
        raise LabkitError(
            _("--banks {folder}: no such folder; give the folder that holds *.yaml").format(
                folder=folder
            )
        )
    if not any(path.glob("*.yaml")):
        raise LabkitError(
            _("--banks {folder}: the folder holds no question banks (*.yaml)").format(folder=folder)
        )
    previous = os.environ.get("LABKIT_BANKS")
    os.environ["LABKIT_BANKS"] = str(path.resolve())
    try:
        yield
    finally:
        if previous is None:
            del os.environ["LABKIT_BANKS"]
        else:
            os.environ["LABKIT_BANKS"] = previous


def _quiz_set_answer(args: argparse.Namespace) -> int:
    from labkit.grading.authoring import set_answer

    set_answer(
        Path(args.bank),
        args.question,
        args.answer,
        tolerance=args.tolerance,
        decimals=args.decimals,
    )
    print(
        _("{question}: salted hash written to {bank}").format(
            question=args.question, bank=args.bank
        )
    )
    return 0


def _quiz_set_answers(args: argparse.Namespace) -> int:
    """Apply an instructor file: {question id: {answer, tolerance?, decimals?}}.

    A plain value (``<id>: <answer>``) is shorthand for ``<id>: {answer: <answer>}``. Every entry is
    checked first; one bad entry or unknown id is an error that names it and
    nothing is written.
    """
    import yaml

    from labkit.grading.authoring import set_answer

    entries = _answer_entries(Path(args.file), yaml)
    for bank, qid, answer, tolerance, decimals in entries:
        set_answer(bank, qid, answer, tolerance=tolerance, decimals=decimals)
    print(_("{count} answers hashed into the banks").format(count=len(entries)))
    return 0


def _answer_entries(path: Path, yaml) -> list[tuple[Path, str, str, float, int]]:
    """The instructor file's entries, each checked against its question; or a LabkitError."""
    from labkit.grading.banks import QuizError, bank_files, notebook_of, question
    from labkit.grading.checking import AnswerFormatError, letters, number

    shape = _(
        "write one line per question, `<id>: <answer>` (a letter, letters like A,C, or a number) "
        "or `<id>: {answer: <number>, tolerance: <number>, decimals: <digits>}`"
    )
    try:
        answers = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise LabkitError(
            _("{file}: cannot read it as YAML ({error}); {shape}").format(
                file=path, error=exc, shape=shape
            )
        ) from exc
    if not isinstance(answers, dict) or not answers:
        raise LabkitError(
            _("{file}: expected question ids with their answers; {shape}").format(
                file=path, shape=shape
            )
        )
    entries = []
    for qid, spec in answers.items():
        if not isinstance(spec, dict):
            spec = {"answer": spec}
        extra = sorted(str(key) for key in set(spec) - {"answer", "tolerance", "decimals"})
        plain = spec.get("answer")
        if extra or plain is None or isinstance(plain, (dict, list, bool)):
            raise LabkitError(
                _("{file}: {question}: {entry!r} is not an answer; {shape}").format(
                    file=path, question=qid, entry=answers[qid], shape=shape
                )
            )
        try:
            item = question(str(qid))
            bank = bank_files()[notebook_of(str(qid))]
            if item["type"] == "single":
                letters(item, str(plain), many=False)
            elif item["type"] == "multiple":
                letters(item, str(plain), many=True)
            elif item["type"] == "numeric":
                number(item, plain)
            else:
                raise QuizError(
                    _("a measured question: each learner answers with their own figure")
                )
            tolerance = float(spec.get("tolerance", 0.0))
            decimals = int(spec.get("decimals", 0))
        except (QuizError, AnswerFormatError, KeyError, ValueError, TypeError) as exc:
            raise LabkitError(
                _("{file}: {question}: {error}; nothing was written").format(
                    file=path, question=qid, error=exc
                )
            ) from exc
        entries.append((bank, str(qid), str(plain), tolerance, decimals))
    return entries


def _quiz_release(args: argparse.Namespace) -> int:
    from labkit.grading.release import release_banks

    written = release_banks(
        Path(args.out), args.notebook or None, keep_explanations=args.keep_explanations
    )
    print(
        _("class release (questions, no answer material) written to {folder}:").format(
            folder=args.out
        )
    )
    for path in written:
        print(f"  {path.name}")
    return 0


def _quiz_key_template(args: argparse.Namespace) -> int:
    from labkit.grading.key import key_template, refuse_inside_repository

    out = Path(args.out).expanduser()
    refuse_inside_repository(out)
    if out.exists() and not args.force:
        print(
            _("labkit: {path} exists; pass --force to overwrite it").format(path=out),
            file=sys.stderr,
        )
        return 2
    out.write_text(key_template(args.notebook or None), encoding="utf-8")
    print(
        _("key template written to {path}: fill in each answer, and keep it to yourself").format(
            path=out
        )
    )
    return 0


def _nbgrader_generate(args: argparse.Namespace) -> int:
    from labkit.grading.assignment import write_assignment
    from labkit.grading.key import load_key, lopsided

    key = load_key(Path(args.key))
    if warning := lopsided(key):
        print(_("labkit: note: {warning}").format(warning=warning), file=sys.stderr)
    for notebook in args.notebooks:
        target = write_assignment(Path(args.course), Path(notebook), key, timeout=args.timeout)
        print(_("wrote {path}").format(path=target))
    print(
        _(
            "next, in {course}: nbgrader generate_assignment NAME, release it, collect, "
            "then nbgrader autograde NAME and nbgrader export (docs/instructor-grading.md)"
        ).format(course=args.course)
    )
    return 0


def _class_release_in_force() -> bool:
    from labkit.grading.banks import bank_files, load_bank

    return any(load_bank(path).get("mode") == "class" for path in bank_files().values())


def _grade(args: argparse.Namespace) -> int:
    from labkit.grading.gradebook import GradingOptions, grade_all, write_csv, write_json
    from labkit.grading.key import load_key
    from labkit.grading.summary import (
        format_summary,
        plot_scores,
        summarize,
        write_summary_csv,
    )

    if not args.key and _class_release_in_force():
        print(
            _(
                "labkit: the banks in force are a class release, with no answers to grade "
                "against: pass your key with --key FILE"
            ),
            file=sys.stderr,
        )
        return 2
    options = GradingOptions(
        key=load_key(Path(args.key)) if args.key else None,
        attempts=args.attempts,
        retry_penalty=args.retry_penalty,
        execute=args.execute,
        timeout=args.timeout,
    )
    rows = grade_all([Path(p) for p in args.paths], options)
    if not rows:
        print(
            _("labkit: no notebooks found in {paths}").format(paths=" ".join(args.paths)),
            file=sys.stderr,
        )
        return 2
    write_csv(rows, Path(args.out))
    written = [args.out]
    if args.json:
        write_json(rows, Path(args.json))
        written.append(args.json)
    for row in rows:
        verdict = (
            _("ERROR {error}").format(error=row.error)
            if row.error
            else f"{row.raw_score:g}/{row.max_score:g}"
        )
        print(f"{row.student_id:<24} {row.assignment:<4} {verdict}")
        for flag in row.flags:
            print(f"{'':<24}      ! {flag}")
    summaries = summarize(rows)
    print()
    print(format_summary(summaries))
    if args.summary:
        write_summary_csv(summaries, Path(args.summary))
        written.append(args.summary)
    if args.plot:
        plot_scores(rows, Path(args.plot))
        written.append(args.plot)
    print(_("wrote {path}").format(path=", ".join(written)))
    return 0


def _doctor(args: argparse.Namespace) -> int:
    """Print the environment report; 0 when nothing the labs need is missing."""
    from labkit.environment import check_environment

    report = check_environment(database=not args.no_database)
    print(report)
    failed = bool(report.problems) or (args.strict and bool(report.notes))
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="labkit", description=_("Pool Lab helper commands."))
    commands = parser.add_subparsers(dest="command", required=True)
    db = commands.add_parser("db", help=_("manage the lab's PostgreSQL"))
    actions = db.add_subparsers(dest="action", required=True)
    for name, (_run, help_text) in DB_ACTIONS.items():
        actions.add_parser(name, help=_(help_text))

    doctor = commands.add_parser(
        "doctor",
        help=_("check everything the labs need; each problem comes with the command that fixes it"),
    )
    doctor.add_argument(
        "--no-database",
        action="store_true",
        help=_("skip finding (or starting) a PostgreSQL"),
    )
    doctor.add_argument(
        "--strict",
        action="store_true",
        help=_("also fail when an optional program (Prometheus, PgBouncer) is missing"),
    )
    doctor.set_defaults(run=_doctor)

    banks_help = _("use the question banks in DIR instead of the installed ones (LABKIT_BANKS)")
    stop = commands.add_parser(
        "stop", help=_("stop the embedded database and Prometheus, leaving no process behind")
    )
    stop.set_defaults(run=_stop)

    from labkit.workshop.commands import register as register_workshop

    register_workshop(commands)

    from labkit.translation.commands import register as register_translate

    register_translate(commands)

    quiz = commands.add_parser("quiz", help=_("author and release the question banks"))
    quiz_actions = quiz.add_subparsers(dest="action", required=True)
    one = quiz_actions.add_parser("set-answer", help=_("hash one answer into a self-check bank"))
    one.add_argument("bank")
    one.add_argument("question")
    one.add_argument("answer", help=_("a letter, letters like A,C, or a number"))
    one.add_argument("--tolerance", type=float, default=0.0, help=_("numeric questions"))
    one.add_argument("--decimals", type=int, default=0, help=_("numeric questions"))
    one.set_defaults(run=_quiz_set_answer)
    many = quiz_actions.add_parser("set-answers", help=_("hash every answer of an instructor file"))
    many.add_argument("file")
    many.add_argument("--banks", metavar="DIR", help=banks_help)
    many.set_defaults(run=_quiz_set_answers)
    release = quiz_actions.add_parser(
        "release", help=_("write a class release of the banks: questions, no answer material")
    )
    release.add_argument("--out", required=True, help=_("the folder to write the release into"))
    release.add_argument("--notebook", action="append", help=_("only this bank (00, 01, ...)"))
    release.add_argument("--banks", metavar="DIR", help=banks_help)
    release.add_argument(
        "--keep-explanations",
        action="store_true",
        help=_("keep the explanations (left out by default: they often state the answer)"),
    )
    release.set_defaults(run=_quiz_release)
    template = quiz_actions.add_parser(
        "key-template", help=_("write an answer key to fill in, outside the repository")
    )
    template.add_argument("--out", required=True, help=_("e.g. ~/course/key.yaml"))
    template.add_argument("--notebook", action="append", help=_("only this bank (00, 01, ...)"))
    template.add_argument("--banks", metavar="DIR", help=banks_help)
    template.add_argument("--force", action="store_true", help=_("overwrite an existing file"))
    template.set_defaults(run=_quiz_key_template)

    nbg = commands.add_parser("nbgrader", help=_("class mode on nbgrader"))
    nbg_actions = nbg.add_subparsers(dest="action", required=True)
    generate = nbg_actions.add_parser(
        "generate", help=_("write nbgrader source notebooks whose hidden tests hold the key")
    )
    generate.add_argument("notebooks", nargs="+", help=_("the Pool Lab notebooks to assign"))
    generate.add_argument("--key", required=True, help=_("your answer key (outside the repo)"))
    generate.add_argument("--course", required=True, help=_("the nbgrader course folder"))
    generate.add_argument("--banks", metavar="DIR", help=banks_help)
    generate.add_argument(
        "--timeout", type=int, default=300, help=_("autograde's limit per cell, in seconds")
    )
    generate.set_defaults(run=_nbgrader_generate)

    grade = commands.add_parser("grade", help=_("grade submitted notebooks into a gradebook"))
    grade.add_argument("paths", nargs="+", help=_("notebooks, or folders of them"))
    grade.add_argument("--out", default="grades.csv", help=_("CSV in nbgrader's export shape"))
    grade.add_argument("--json", help=_("also write the rows as JSON for LMS import"))
    grade.add_argument("--key", help=_("class mode: grade against this answer key"))
    grade.add_argument(
        "--banks",
        metavar="DIR",
        help=_(
            "grade against the question banks in DIR (e.g. your own copy) instead of the "
            "installed ones; same as setting LABKIT_BANKS"
        ),
    )
    grade.add_argument(
        "--execute",
        action="store_true",
        help=_(
            "re-run each notebook in a fresh lab to verify measured answers "
            "(without it they are listed as self-reported and not counted)"
        ),
    )
    grade.add_argument(
        "--timeout", type=int, default=300, help=_("with --execute: limit per cell, in seconds")
    )
    grade.add_argument(
        "--attempts",
        choices=["last", "first", "penalty"],
        default="last",
        help=_("which attempt counts (default: last, as nbgrader grades the final answer)"),
    )
    grade.add_argument(
        "--retry-penalty",
        type=float,
        default=0.25,
        help=_(
            "with --attempts penalty: share of a question's points taken per retry "
            "made after feedback (default 0.25)"
        ),
    )
    grade.add_argument("--summary", help=_("write the per-question summary as CSV"))
    grade.add_argument("--plot", help=_("write the score distribution as an image (PNG)"))
    grade.set_defaults(run=_grade)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "db":
            return DB_ACTIONS[args.action][0]()
        with _banks_from(getattr(args, "banks", None)):  # --banks DIR, for this run only
            return args.run(args)
    except LabkitError as exc:
        print(_("labkit: {error}").format(error=exc), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
