"""The learner's own quiz progress, kept in LABKIT_HOME/quiz_progress.json."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from labkit.grading.checking import QuizResult
from labkit.infra.home import labkit_home
from labkit.infra.jsonfile import read_json, write_json

if TYPE_CHECKING:
    from labkit.grading.quiz import Recorded


def progress_path() -> Path:
    return labkit_home() / "quiz_progress.json"


def save_progress(result: QuizResult | Recorded, max_points: float | None = None) -> None:
    """Remember ``result`` as the learner's latest answer to its question.

    A class-mode answer (:class:`~labkit.grading.quiz.Recorded`) has no points yet.
    """
    path = progress_path()
    progress = read_json(path, {})
    graded = isinstance(result, QuizResult)
    progress[result.question] = {
        "correct": result.correct if graded else None,
        "points": result.points if graded else None,
        "max_points": result.max_points if graded else max_points,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    write_json(path, progress)


def load_progress() -> dict[str, dict]:
    """Each answered question's latest result, by question id."""
    return read_json(progress_path(), {})
