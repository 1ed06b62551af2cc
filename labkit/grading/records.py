"""Answer records: what a quiz cell leaves in the notebook for the gradebook.

Quiz cells record each answer in their output when they run, under
:data:`RECORD_MIME`, so grading reads outputs and never executes learner code.
"""

from __future__ import annotations

import json

from labkit.grading.banks import digest, question
from labkit.grading.checking import QuizResult

RECORD_MIME = "application/vnd.labkit.quiz-answer+json"


def record(result: QuizResult) -> dict:
    """The record of one graded answer, with a checksum."""
    data = {
        "question": result.question,
        "response": result.response,
        "expected": result.expected,
        "points": result.points,
        "max_points": result.max_points,
    }
    data["check"] = record_check(data)
    return data


def record_check(data: dict) -> str:
    """A checksum over a record (salted per question) that reveals an edited record.

    It catches accidental or naive edits, not a determined forger: the salt is
    in the bank, which the learner has.
    """
    body = {k: data.get(k) for k in ("question", "response", "expected", "points", "max_points")}
    salt = question(data["question"]).get("answer", {}).get("salt", data["question"])
    return digest(salt, json.dumps(body, sort_keys=True))


def display_records(results: list[QuizResult]) -> None:
    """Show ``results`` in the cell's output, with their records attached for grading."""
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        return
    plain = "\n\n".join(str(r) for r in results)
    display({RECORD_MIME: [record(r) for r in results], "text/plain": plain}, raw=True)
