"""nbgrader source notebooks for a class: a Pool Lab notebook, with its quiz as autograded cells.

    labkit nbgrader generate notebooks/00_start_here.ipynb --key ~/course/key.yaml \\
        --course ~/course

writes, in the instructor's course folder (never inside the repository):

- ``source/00_start_here/00_start_here.ipynb``: the notebook, where
  - the quiz cell reads the class release of the bank (``quiz_banks/``, copied
    beside it, so nbgrader releases it with the notebook);
  - after the ``my_answers`` cell, one autograded cell per question, whose hidden
    test grades ``my_answers`` against the key (choice and numeric questions) or
    against the figure the grader's re-run just measured (measured questions);
  - after each live exercise's cell, one autograded cell: did it pass in the re-run?
  - the lab's own code cells are read-only, so autograde runs the experiments as
    written, whatever a submission did to them;
- ``nbgrader_config.py``: each submission autogrades in a fresh lab, with a time limit.

Then ``nbgrader generate_assignment``, ``autograde`` and ``export`` do the rest.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from labkit.grading.banks import QuizError, is_exercise, question, questions
from labkit.grading.key import AnswerKey, refuse_inside_repository
from labkit.grading.release import release_banks

BANKS_FOLDER = "quiz_banks"  # beside the notebook in the assignment, released with it
_SHOW_QUIZ = re.compile(r'quiz\.show_quiz\("(\d\d)"\)')
_SUBMIT = "quiz.submit(my_answers)"
# cells a learner is asked to edit: `my_guess = ...`, `my_a, my_b = ...`, `async def my_handler`
_LEARNER_EDITS = re.compile(
    r"^\s*(?:my_\w+\s*(?:,\s*\w+\s*)*=|(?:async\s+)?def\s+my_\w+)", re.MULTILINE
)

CLASS_QUIZ_TEXT = """## Quiz (graded)

This quiz is **graded by your instructor**. Answer in the widgets below: they record
your answers without checking them, and the cell after them writes those answers into
`my_answers`, so that they are saved with the notebook (you can also type them there).
Measured questions are checked against the figures of a re-run of this notebook, on
the grader's machine. Feedback comes with your grades. Run every cell, then save.
"""

CONFIG = '''"""nbgrader settings for a Pool Lab class (written by `labkit nbgrader generate`)."""

from labkit.grading.nbgrader_config import configure

c = get_config()  # noqa: F821 - nbgrader defines get_config in its config files
configure(c, timeout={timeout})
'''


def _nbgrader(grade_id: str, *, grade: bool = False, points: float = 0.0) -> dict:
    meta = {
        "grade": grade,
        "grade_id": grade_id,
        "locked": True,
        "schema_version": 3,
        "solution": False,
        "task": False,
    }
    if grade:
        meta["points"] = points
    return meta


def _hidden_test(item: dict, key: AnswerKey) -> str:
    qid, points = item["id"], float(item["points"])
    explanation = json.dumps(item["explanation"], ensure_ascii=False)
    if item["type"] == "measured":
        check = f'autograde.check_measured("{qid}", {explanation})'
        says = "checked against this notebook's re-run"
    elif item["type"] == "exercise":
        check = f'autograde.check_exercise("{qid}", {explanation})'
        says = "the exercise above, graded by this notebook's re-run"
    else:
        entry = json.dumps(key.entry(qid), ensure_ascii=False)
        check = f'autograde.check_answer("{qid}", {entry}, {explanation})'
        says = "graded by your instructor"
    return (
        f"# {qid} ({points:g} point{'s' if points != 1 else ''}): {says}\n"
        "### BEGIN HIDDEN TESTS\n"
        "from labkit.grading import autograde\n\n"
        f"{check}\n"
        "### END HIDDEN TESTS"
    )


def _grade_cell(item: dict, key: AnswerKey) -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(_hidden_test(item, key))
    cell.metadata["nbgrader"] = _nbgrader(item["id"], grade=True, points=float(item["points"]))
    cell.metadata.update(deletable=False, editable=False)
    return cell


def _exercise_cell(nb: nbformat.NotebookNode, item: dict, notebook: Path) -> int:
    """The index of the cell that runs ``item``'s exercise (exercises.grade_<name>)."""
    call = "exercises.grade_" + item["source"]["experiment"].split(".", 1)[1]
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and call in cell.source:
            return i
    raise QuizError(f"{notebook.name} has no cell calling {call}(...) for {item['id']}")


def source_notebook(notebook: Path, key: AnswerKey) -> nbformat.NotebookNode:
    """The nbgrader source version of ``notebook``, graded against ``key``."""
    nb = nbformat.read(notebook, as_version=4)
    quiz_at = next(
        (
            i
            for i, c in enumerate(nb.cells)
            if c.cell_type == "code" and _SHOW_QUIZ.search(c.source)
        ),
        None,
    )
    submit_at = next(
        (i for i, c in enumerate(nb.cells) if c.cell_type == "code" and _SUBMIT in c.source), None
    )
    if quiz_at is None or submit_at is None or submit_at < quiz_at:
        raise QuizError(
            f'{notebook.name} has no quiz to grade: it needs a quiz.show_quiz("NN") cell and, '
            f"after it, a cell with {_SUBMIT}"
        )
    number = _SHOW_QUIZ.search(nb.cells[quiz_at].source).group(1)
    items = [item for item in questions(number) if not is_exercise(item)]
    exercises = {  # the cell that runs each exercise: its grade cell goes right after it
        item["id"]: _exercise_cell(nb, item, notebook)
        for item in questions(number)
        if is_exercise(item)
    }

    cells = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "markdown" and i < quiz_at and cell.source.startswith("## Quiz"):
            cell.source = CLASS_QUIZ_TEXT.strip()
        elif i == quiz_at:
            cell.source = (
                "from labkit import quiz\n\n"
                f'quiz.use_banks("{BANKS_FOLDER}")  # the class release: questions, no answers\n'
                f'quiz.show_quiz("{number}")'
            )
            cell.metadata["nbgrader"] = _nbgrader("labkit-quiz")
        elif i == submit_at:
            blank = ", ".join(f'"{item["id"]}": None' for item in items)
            cell.source = (
                f'my_answers = {{{blank}}}  # e.g. "B", "A,C" or a number\n'
                "results = quiz.submit(my_answers)"
            )
        elif cell.cell_type == "code" and not _LEARNER_EDITS.search(cell.source):
            cell.metadata["nbgrader"] = _nbgrader(f"labkit-lab-{i:02d}")
        cells.append(cell)
        graded_here = items if i == submit_at else []
        graded_here += [question(qid) for qid, at in exercises.items() if at == i]
        cells.extend(_grade_cell(item, key) for item in graded_here)
    nb.cells = cells
    nb.metadata["kernelspec"] = {
        "display_name": "Python 3",
        "language": "python",
        "name": "python3",
    }
    return nb


def write_assignment(course: Path, notebook: Path, key: AnswerKey, *, timeout: int = 300) -> Path:
    """Write ``notebook``'s nbgrader assignment into ``course``; returns the source notebook.

    The assignment is named after the notebook ("00_start_here"). ``course`` must be
    outside the repository: its source notebooks hold the answers.
    """
    course = Path(course).expanduser()
    refuse_inside_repository(course, "the course folder (its source notebooks hold the key)")
    source = source_notebook(Path(notebook), key)
    folder = course / "source" / Path(notebook).stem
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / Path(notebook).name
    nbformat.write(source, target)
    number = _SHOW_QUIZ.search("".join(c.source for c in source.cells)).group(1)
    release_banks(folder / BANKS_FOLDER, [number])
    config = course / "nbgrader_config.py"
    config.write_text(CONFIG.format(timeout=int(timeout)), encoding="utf-8")
    return target
