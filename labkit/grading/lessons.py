"""A notebook's shape as a lesson: its objectives, the questions that check them, its length.

>>> from labkit.grading.lessons import learner_minutes, uncovered_objectives   # doctest: +SKIP
>>> learner_minutes(Path("notebooks/05_connection_leaks.ipynb"))               # doctest: +SKIP
24.9
>>> uncovered_objectives(Path("notebooks/05_connection_leaks.ipynb"))          # doctest: +SKIP
[]

Both read only the notebook's text and its question bank (nothing runs), so the tests
that hold every notebook to the lesson shape (each objective checked by a question of
its quiz, 15 to 25 minutes for a learner) cannot flake.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from labkit.grading.banks import questions

OBJECTIVES_HEADING = "**After this notebook you can:**"

# A learner's pace, the assumptions behind learner_minutes(): reading prose and code,
# thinking about a "Predict" before running it, and answering the quiz.
READ_WORDS_PER_MINUTE = 180  # the markdown; code is read within its cell's time below
MINUTES_PER_CODE_CELL = 0.75  # read the code, run it, read its output
MINUTES_PER_PREDICTION = 1.5  # a markdown cell that asks for a prediction
MINUTES_PER_WIDGET = 3.0  # a "Try it" lab worth a few runs
MINUTES_PER_QUESTION = 1.0
LEARNER_MINUTES = (15, 25)  # TEACHING.md: "15-25 minutes"


def _cells(path: Path) -> list[tuple[str, str]]:
    """(cell type, source) of each cell, read as plain JSON."""
    cells = json.loads(Path(path).read_text(encoding="utf-8"))["cells"]
    return [(c["cell_type"], "".join(c["source"])) for c in cells]


def quiz_number(path: Path) -> str | None:
    """The bank a notebook's quiz cell shows (``quiz.show_quiz("05")`` -> ``"05"``)."""
    for kind, source in _cells(path):
        found = re.search(r'quiz\.show_quiz\("(\d{2})"\)', source)
        if kind == "code" and found:
            return found.group(1)
    return None


def objectives(path: Path) -> list[str]:
    """The bullets under "After this notebook you can:" in the notebook's first cell."""
    kind, source = _cells(path)[0]
    if kind != "markdown" or OBJECTIVES_HEADING not in source:
        return []
    bullets: list[str] = []
    for line in source.split(OBJECTIVES_HEADING, 1)[1].splitlines():
        if line.startswith("- "):
            bullets.append(line[2:].strip())
        elif line.startswith("  ") and bullets:  # a bullet wrapped onto the next line
            bullets[-1] += " " + line.strip()
        elif line.strip() and bullets:
            break  # the prose after the list
    return bullets


def coverage(path: Path) -> dict[int, list[str]]:
    """Objective number (from 1) -> the ids of the bank's questions that check it."""
    number = quiz_number(path)
    found: dict[int, list[str]] = {n: [] for n in range(1, len(objectives(path)) + 1)}
    for item in questions(number) if number else []:
        for n in item.get("objectives", []):
            found.setdefault(n, []).append(item["id"])
    return found


def uncovered_objectives(path: Path) -> list[int]:
    """The notebook's objectives (numbered from 1) that no question of its bank checks."""
    return [n for n, ids in coverage(path).items() if not ids]


def learner_minutes(path: Path) -> float:
    """An estimate of the time a learner spends on a notebook, from its cells and its quiz."""
    cells = _cells(path)
    words = sum(len(source.split()) for kind, source in cells if kind == "markdown")
    code = [source for kind, source in cells if kind == "code"]
    predictions = sum("**Predict" in source for kind, source in cells if kind == "markdown")
    widgets = sum("_widget(" in source or "tuning_lab(" in source for source in code)
    number = quiz_number(path)
    asked = len(questions(number)) if number else 0
    return (
        words / READ_WORDS_PER_MINUTE
        + len(code) * MINUTES_PER_CODE_CELL
        + predictions * MINUTES_PER_PREDICTION
        + widgets * MINUTES_PER_WIDGET
        + asked * MINUTES_PER_QUESTION
    )
