"""The answer sheet this kernel keeps: every attempt at every question, with its time.

The widgets write here when a learner presses Check (or Record), so that the
submit cell can record those answers by itself: widget output is not saved with
the notebook, and a learner should not have to answer twice. The sheet lives as
long as the kernel does; the records a submit cell leaves in the notebook keep it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Attempt:
    """One answer given to one question."""

    response: object  # canonical: "B", "A,C" or a float
    at: str  # ISO time, UTC, to the microsecond
    feedback: bool  # was the learner told whether it was right?
    via: str  # "widget", "answer" (quiz.answer) or "my_answers" (the submit cell's dict)

    def as_dict(self) -> dict:
        return asdict(self)


def now() -> str:
    """The current time as attempts record it."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class AnswerSheet:
    """Attempts by question id, in the order they were made."""

    def __init__(self) -> None:
        self._attempts: dict[str, list[Attempt]] = {}

    def add(self, qid: str, response: object, *, feedback: bool, via: str) -> Attempt:
        """Remember an attempt at ``qid`` and return it."""
        attempt = Attempt(response, now(), feedback, via)
        self._attempts.setdefault(qid, []).append(attempt)
        return attempt

    def attempts(self, qid: str) -> list[Attempt]:
        """Every attempt at ``qid``, oldest first."""
        return list(self._attempts.get(qid, []))

    def latest(self, qid: str) -> object | None:
        """The last response given to ``qid``, or None."""
        tried = self._attempts.get(qid)
        return tried[-1].response if tried else None

    def clear(self) -> None:
        """Forget everything (a test, or a learner starting over)."""
        self._attempts.clear()


SHEET = AnswerSheet()  # this kernel's sheet, shared by the widgets and the submit cell
