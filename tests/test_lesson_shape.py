"""Every notebook has a lesson's shape: objectives each checked by its quiz, and 15-25 minutes.

Text only (the notebooks and their banks are read, nothing runs), so none of this can flake.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from labkit.grading import banks
from labkit.grading.lessons import (
    LEARNER_MINUTES,
    learner_minutes,
    objectives,
    quiz_number,
    uncovered_objectives,
)

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_the_shape_checks_see_every_notebook():
    assert len(NOTEBOOKS) >= 11


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_takes_a_learner_15_to_25_minutes(path):
    low, high = LEARNER_MINUTES
    assert low <= learner_minutes(path) <= high


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_states_three_to_five_objectives_and_quizzes_its_own_bank(path):
    assert 3 <= len(objectives(path)) <= 5, objectives(path)
    assert quiz_number(path) == path.name[:2]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_question_names_the_objectives_it_checks(path):
    stated = len(objectives(path))
    for item in banks.questions(quiz_number(path)):
        checked = item.get("objectives")
        assert checked, f"{item['id']} names no objective of {path.name}"
        assert all(1 <= n <= stated for n in checked), (item["id"], checked, stated)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_objective_is_checked_by_a_question_of_the_notebooks_quiz(path):
    assert uncovered_objectives(path) == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_grades_a_question_against_the_learners_own_measurement(path):
    measured = [item for item in banks.questions(quiz_number(path)) if item["type"] == "measured"]
    assert measured, f"{path.name}'s quiz grades nothing against the learner's own figures"


def test_the_objective_reader_joins_wrapped_bullets_and_stops_at_the_prose(tmp_path):
    notebook = tmp_path / "99_example.ipynb"
    first = (
        "# 99 · Example\\n\\nIntro.\\n\\n**After this notebook you can:**\\n"
        "- do one thing;\\n- do another thing that takes\\n  two lines;\\n- do a third.\\n\\n"
        "Run the cells from top to bottom."
    )
    notebook.write_text(
        '{"cells": [{"cell_type": "markdown", "metadata": {}, "source": "' + first + '"}], '
        '"metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    )
    assert objectives(notebook) == [
        "do one thing;",
        "do another thing that takes two lines;",
        "do a third.",
    ]
