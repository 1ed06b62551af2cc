"""The classroom gradebook: read submitted notebooks, grade the answers they recorded.

    labkit grade submissions/ --key ~/course/key.yaml --out grades.csv --json grades.json
    labkit grade submissions/ --key ~/course/key.yaml --execute    # verify measured answers

Quiz cells record each answer in their output, so grading reads outputs. Every
record is re-graded here (a record's own "points" are never trusted): against the
instructor's key in class mode (``key``), else against the banks' hashes. A record
whose checksum does not match was edited by hand: the notebook gets an error row.

Measured questions and live exercises are never silently trusted. Without a re-run
they are *self-reported*: listed in their own column, not counted in the score. With
``execute=True`` each notebook is re-run in a fresh lab of its own (its own
embedded database and app, under a time limit), and a measured answer counts when
it agrees with that run's figure within the question's ``rerun_tolerance``.

Attempts: every record keeps each attempt with its time. ``attempts="last"`` (the
default) grades the final answer, as nbgrader's re-execution does: in class mode
nobody saw feedback before grading, so a changed answer is not a retry.
``"first"`` grades the first attempt; ``"penalty"`` grades the last and takes
``retry_penalty`` of the question's points for each earlier attempt that was
shown feedback (self-check banks).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from labkit.grading.banks import QuizError, notebook_of, question, questions
from labkit.grading.checking import grade
from labkit.grading.key import AnswerKey
from labkit.grading.records import RECORD_MIME, record_check

ATTEMPT_POLICIES = ("last", "first", "penalty")
_RUN_GRADED = ("measured", "exercise")  # graded by what a run measured, not by a key


@dataclass(frozen=True)
class GradingOptions:
    """How to grade: the instructor's key (class mode), attempts policy, re-runs."""

    key: AnswerKey | None = None
    attempts: str = "last"
    retry_penalty: float = 0.25
    execute: bool = False
    timeout: int = 300  # seconds per re-run (the whole notebook)

    def __post_init__(self) -> None:
        if self.attempts not in ATTEMPT_POLICIES:
            raise QuizError(f"attempts={self.attempts!r}: use one of {ATTEMPT_POLICIES}")
        if not 0 <= self.retry_penalty <= 1:
            raise QuizError("retry_penalty is a share of a question's points, from 0 to 1")


@dataclass
class GradeRow:
    """One learner's one notebook, in the shape of nbgrader's CSV export."""

    student_id: str
    assignment: str
    timestamp: str
    points: dict[str, float] = field(default_factory=dict)
    responses: dict[str, object] = field(default_factory=dict)  # the answers graded
    self_reported: dict[str, float] = field(default_factory=dict)  # claimed, not counted
    flags: list[str] = field(default_factory=list)
    max_score: float = 0.0
    error: str = ""

    @property
    def raw_score(self) -> float:
        return round(sum(self.points.values()), 4)


class _Unusable(Exception):
    """A submission that gets an error row instead of marks."""


@dataclass
class _Answered:
    """Everything the records of one notebook say about one question."""

    attempts: list[dict]
    expected: float | None


def _learner(nb: nbformat.NotebookNode, path: Path) -> str:
    """Who submitted: the notebook's ``labkit.learner`` metadata; else, in nbgrader's
    layout (``submitted/STUDENT/ASSIGNMENT/NOTEBOOK.ipynb``), the student's folder;
    else the file's name."""
    named = nb.metadata.get("labkit", {}).get("learner")
    if named:
        return str(named)
    if path.parent.name == path.stem and len(path.parts) >= 3:
        return path.parent.parent.name
    return path.stem


def _records(nb: nbformat.NotebookNode) -> list:
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get(RECORD_MIME)
            if data is not None:
                found.extend(data if isinstance(data, list) else [data])
    return found


def collect_answers(nb: nbformat.NotebookNode) -> dict[str, _Answered]:
    """Every question the notebook's records answer, with all attempts in time order.

    A kernel restart empties the kernel's sheet, so attempts are merged across records.
    Raises ``_Unusable`` for a malformed or hand-edited record.
    """
    merged: dict[str, _Answered] = {}
    for rec in _records(nb):
        if not isinstance(rec, dict) or "question" not in rec or "attempts" not in rec:
            raise _Unusable("malformed quiz record (run the quiz cells again, then save)")
        if record_check(rec) != rec.get("check"):
            raise _Unusable(f"tampered: the record of {rec['question']} was edited after it ran")
        seen = merged.setdefault(str(rec["question"]), _Answered([], None))
        for attempt in rec["attempts"]:
            if attempt not in seen.attempts:
                seen.attempts.append(attempt)
        seen.expected = rec.get("expected")
    for answered in merged.values():
        answered.attempts.sort(key=lambda a: str(a.get("at", "")))
    return merged


def _chosen(answered: _Answered, options: GradingOptions) -> tuple[object, int]:
    """The response the policy grades, and how many retries it penalises."""
    tries = answered.attempts
    if options.attempts == "first":
        return tries[0]["response"], 0
    retries = (
        sum(1 for a in tries[:-1] if a.get("feedback")) if options.attempts == "penalty" else 0
    )
    return tries[-1]["response"], retries


def grade_notebook(path: Path, options: GradingOptions | None = None) -> GradeRow:
    """Grade one submitted notebook; problems become the row's ``error``, never an exception."""
    options = options or GradingOptions()
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # any unreadable file is one learner's problem, not the class's
        return GradeRow(path.stem, "?", stamp, error=f"not a readable notebook: {exc}"[:300])
    row = GradeRow(_learner(nb, path), "?", stamp)
    try:
        answers = collect_answers(nb)
        rerun = _rerun_answers(path, answers, row, options) if options.execute else None
        for qid, answered in (rerun or {}).items():
            if qid not in answers:  # in the source, not in the saved outputs: as nbgrader does
                answers[qid] = answered
                row.flags.append(f"{qid}: graded from the re-run; the saved notebook had no record")
        if not answers:
            raise _Unusable("no quiz answers recorded (run the quiz cells, then save)")
        row.assignment = notebook_of(next(iter(answers)))
        unverified = [q for q in questions(row.assignment) if q["type"] in _RUN_GRADED]
        if rerun is None and unverified:
            row.flags.append(
                "measured answers and exercises are self-reported: re-run with --execute to verify"
            )
        for qid, answered in answers.items():
            _grade_question(row, question(qid), answered, rerun, options)
        row.max_score = sum(float(q["points"]) for q in questions(row.assignment))
    except _Unusable as exc:
        row.error = str(exc)[:300]
        row.points.clear()
    except (QuizError, KeyError, TypeError, ValueError, AttributeError) as exc:
        row.error = f"malformed submission: {exc}"[:300]
        row.points.clear()
    return row


def _grade_question(
    row: GradeRow,
    item: dict,
    answered: _Answered,
    rerun: dict[str, _Answered] | None,
    options: GradingOptions,
) -> None:
    qid = item["id"]
    response, retries = _chosen(answered, options)
    row.responses[qid] = response
    if item["type"] not in _RUN_GRADED:
        entry = options.key.entry(qid) if options.key is not None else None
        result = grade(item, response, key=entry)
        penalty = retries * options.retry_penalty * result.max_points
        row.points[qid] = round(max(0.0, result.points - penalty), 4)
        return
    if rerun is None:  # nobody re-ran it: the learner's own claim, listed apart
        if answered.expected is not None:
            claimed = grade(item, response, expected=float(answered.expected))
            row.self_reported[qid] = claimed.points
        row.points[qid] = 0.0
        return
    verified = rerun.get(qid)
    if verified is None or verified.expected is None:
        row.points[qid] = 0.0
        row.flags.append(f"{qid}: the re-run recorded no answer or no figure for it")
        return
    final = verified.attempts[-1]["response"]
    row.responses[qid] = final
    result = grade(item, final, expected=float(verified.expected), rerun=True)
    row.points[qid] = result.points


def _rerun_answers(
    path: Path, saved: dict[str, _Answered], row: GradeRow, options: GradingOptions
) -> dict[str, _Answered]:
    """Re-run the notebook in a fresh lab and return what its records say."""
    from labkit.grading.autograde import execute_in_fresh_lab

    try:
        rerun = collect_answers(execute_in_fresh_lab(path, timeout=options.timeout))
    except Exception as exc:  # a re-run that fails verifies nothing; the row says why
        row.flags.append(f"re-run failed, measured answers unverified: {exc}"[:300])
        return {}
    differ = sorted(  # an exercise's outcome may differ between runs; an answer may not
        qid
        for qid, answered in saved.items()
        if qid in rerun
        and question(qid)["type"] != "exercise"
        and rerun[qid].attempts[-1]["response"] != answered.attempts[-1]["response"]
    )
    if differ:
        row.flags.append(
            "the saved answers differ from what the notebook answers when re-run "
            f"(edited after it ran?): {', '.join(differ)}"
        )
    return rerun


def notebooks_in(paths: list[Path]) -> list[Path]:
    """The .ipynb files named, and those inside the folders named."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts
            )
        else:
            found.append(path)
    return found


def grade_all(paths: list[Path], options: GradingOptions | None = None) -> list[GradeRow]:
    """Grade every notebook in ``paths``: one row each, errors included."""
    return [grade_notebook(path, options) for path in notebooks_in(paths)]


def write_csv(rows: list[GradeRow], out: Path) -> None:
    """nbgrader's export columns, plus one column of points per question, the measured
    points claimed but not verified, flags for the instructor, and an error."""
    qids = sorted({qid for row in rows for qid in row.points})
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "assignment",
                "timestamp",
                "student_id",
                *qids,
                "raw_score",
                "late_submission_penalty",
                "score",
                "max_score",
                "self_reported",
                "flags",
                "error",
            ]
        )
        for row in rows:
            writer.writerow(
                [
                    row.assignment,
                    row.timestamp,
                    row.student_id,
                    *(row.points.get(q, "") for q in qids),
                    row.raw_score,
                    0.0,
                    row.raw_score,
                    row.max_score,
                    "; ".join(f"{q}={p:g}" for q, p in sorted(row.self_reported.items())),
                    "; ".join(row.flags),
                    row.error,
                ]
            )


def write_json(rows: list[GradeRow], out: Path) -> None:
    """The same rows as JSON, for LMS import scripts."""
    out.write_text(
        json.dumps(
            [
                {
                    "student_id": r.student_id,
                    "assignment": r.assignment,
                    "timestamp": r.timestamp,
                    "points": r.points,
                    "responses": r.responses,
                    "raw_score": r.raw_score,
                    "score": r.raw_score,
                    "max_score": r.max_score,
                    "self_reported": r.self_reported,
                    "flags": r.flags,
                    "error": r.error or None,
                }
                for r in rows
            ],
            indent=2,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
