"""Answer records: what a quiz cell leaves in the notebook for the gradebook.

Quiz cells record each answered question in their output when they run, under
:data:`RECORD_MIME`, so ``labkit grade`` reads outputs and never has to execute
learner code (unless asked to verify measured answers by re-running them).

A record keeps every attempt with its time, the final response, and a checksum.
The checksum reveals a record edited by hand without recomputing it; it cannot
stop a learner who recomputes it, because everything the learner's environment can
compute, the learner can. So class mode trusts no record on its own: answers are
re-graded against the instructor's key, and measured figures count only when the
grader's re-run verified them.
"""

from __future__ import annotations

import json

from labkit.grading.banks import digest
from labkit.grading.checking import QuizResult
from labkit.grading.sheet import Attempt

RECORD_MIME = "application/vnd.labkit.quiz-answer+json"
RECORD_VERSION = 2
_FIELDS = ("v", "question", "mode", "response", "attempts", "expected", "points", "max_points")


def record(
    item: dict,
    attempts: list[Attempt],
    mode: str,
    result: QuizResult | None = None,
    expected: float | None = None,
) -> dict:
    """The record of one question: its attempts, the final response and, in self-check
    mode, the points it earned. ``expected`` is a measured question's own figure."""
    data = {
        "v": RECORD_VERSION,
        "question": item["id"],
        "mode": mode,
        "response": attempts[-1].response,
        "attempts": [a.as_dict() for a in attempts],
        "expected": result.expected if result is not None else expected,
        "points": result.points if result is not None else None,
        "max_points": float(item["points"]),
    }
    data["check"] = record_check(data)
    return data


def record_check(data: dict) -> str:
    """A checksum over a record that reveals a naive edit (see the module's docstring)."""
    body = {k: data.get(k) for k in _FIELDS}
    return digest("labkit-answer-record", json.dumps(body, sort_keys=True, ensure_ascii=False))


def display_records(records: list[dict], plain: str) -> None:
    """Show ``plain`` in the cell's output, with ``records`` attached for grading."""
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        return
    display({RECORD_MIME: records, "text/plain": plain}, raw=True)
