"""The classroom gradebook: read submitted notebooks, grade the answers they recorded.

Quiz cells record each answer in their output when they run, so grading reads
outputs and never executes learner code. Each record is re-graded here against
the bank (a record's own "points" are not trusted), and a record whose checksum
does not match is reported as tampered.

    labkit grade submissions/ --out grades.csv --json grades.json
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from labkit.grading.banks import QuizError, question, questions
from labkit.grading.checking import grade
from labkit.grading.records import RECORD_MIME, record_check


@dataclass
class GradeRow:
    """One learner's one notebook, in the shape of nbgrader's CSV export."""

    student_id: str
    assignment: str
    timestamp: str
    points: dict[str, float] = field(default_factory=dict)
    max_score: float = 0.0
    error: str = ""

    @property
    def raw_score(self) -> float:
        return round(sum(self.points.values()), 4)


def _learner(nb: nbformat.NotebookNode, path: Path) -> str:
    return str(nb.metadata.get("labkit", {}).get("learner") or path.stem)


def _records(nb: nbformat.NotebookNode) -> list[dict]:
    found = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            data = output.get("data", {}).get(RECORD_MIME)
            if data is not None:
                found.extend(data if isinstance(data, list) else [data])
    return found


def grade_notebook(path: Path) -> GradeRow:
    """Grade one submitted notebook; problems become the row's ``error``, never an exception."""
    stamp = datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).isoformat(timespec="seconds")
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # any unreadable file is one learner's problem, not the class's
        return GradeRow(path.stem, "?", stamp, error=f"not a readable notebook: {exc}"[:300])
    row = GradeRow(_learner(nb, path), "?", stamp)
    latest: dict[str, dict] = {}
    for rec in _records(nb):
        if not isinstance(rec, dict) or "question" not in rec:
            row.error = "malformed quiz record"
            return row
        latest[rec["question"]] = rec  # the last answer to a question counts
    if not latest:
        row.error = "no quiz answers recorded (run the quiz cells, then save)"
        return row
    row.assignment = next(iter(latest)).split("-")[0]
    try:
        for qid, rec in latest.items():
            if record_check(rec) != rec.get("check"):
                row.error = f"tampered: the record of {qid} was edited after it was graded"
                return row
            item = question(qid)
            result = grade(item, rec["response"], expected=rec.get("expected"))
            row.points[qid] = result.points
        row.max_score = sum(float(q["points"]) for q in questions(row.assignment))
    except (QuizError, KeyError, TypeError, ValueError) as exc:
        row.error = f"malformed submission: {exc}"[:300]
        row.points.clear()
    return row


def notebooks_in(paths: list[Path]) -> list[Path]:
    """The .ipynb files named, and those inside the folders named."""
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.ipynb")) if path.is_dir() else [path])
    return found


def grade_all(paths: list[Path]) -> list[GradeRow]:
    return [grade_notebook(path) for path in notebooks_in(paths)]


def write_csv(rows: list[GradeRow], out: Path) -> None:
    """nbgrader's export columns, plus one column of points per question and an error."""
    questions = sorted({qid for row in rows for qid in row.points})
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            [
                "assignment",
                "timestamp",
                "student_id",
                *questions,
                "raw_score",
                "late_submission_penalty",
                "score",
                "max_score",
                "error",
            ]
        )
        for row in rows:
            writer.writerow(
                [
                    row.assignment,
                    row.timestamp,
                    row.student_id,
                    *(row.points.get(q, "") for q in questions),
                    row.raw_score,
                    0.0,
                    row.raw_score,
                    row.max_score,
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
                    "raw_score": r.raw_score,
                    "score": r.raw_score,
                    "max_score": r.max_score,
                    "error": r.error or None,
                }
                for r in rows
            ],
            indent=2,
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
