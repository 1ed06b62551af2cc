"""The quiz cells of every notebook: show the questions, take answers, record them.

>>> quiz.show_quiz("04")                         # the questions as widgets   # doctest: +SKIP
>>> quiz.answer("04-q1", "B")                    # one answer                  # doctest: +SKIP
>>> quiz.submit(my_answers)                      # records answers in the notebook  # doctest: +SKIP
>>> quiz.progress()                              # what you answered so far   # doctest: +SKIP

Two modes (:func:`mode`). **Self-check**, the default: every answer is checked at
once and the explanation shown; it helps you learn and is not a grade. **Class**: the
banks are a class release without answers; answers are recorded, not checked, and
your instructor grades them. Answers given in the widgets are kept by the kernel, so
the submit cell records them by itself; ``my_answers`` is there for answering
without widgets (an answer written there wins over the widget's).

The pieces behind it, one job each: :mod:`.banks` (the question banks),
:mod:`.checking` (grading one answer), :mod:`.sheet` (the answers this kernel
keeps), :mod:`.records` (what a cell records for the gradebook), :mod:`.progress`
(your progress file), :mod:`.quiz_widgets` and :mod:`.cell_source`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from labkit.grading.banks import (
    AnswerFormatError,
    QuizError,
    notebook_of,
    question,
    quiz_mode,
    text,
)
from labkit.grading.cell_source import fill_in_my_answers
from labkit.grading.checking import QuizResult, canonical, grade, own_figure
from labkit.grading.progress import load_progress, save_progress
from labkit.grading.quiz_widgets import show, show_quiz
from labkit.grading.records import display_records, record
from labkit.grading.sheet import SHEET
from labkit.messages import _, say

__all__ = [
    "AnswerFormatError",
    "QuizError",
    "QuizResult",
    "Recorded",
    "answer",
    "mode",
    "progress",
    "show",
    "show_quiz",
    "submit",
    "use_banks",
]


@dataclass(frozen=True)
class Recorded:
    """A class-mode answer: recorded for the instructor, not checked here."""

    question: str
    response: object

    def __str__(self) -> str:
        return _("{question}: recorded {response!r}; feedback comes with your grades").format(
            question=self.question, response=self.response
        )


def mode(notebook: str) -> str:
    """``"self-check"`` or ``"class"``: how this notebook's quiz treats your answers."""
    return quiz_mode(notebook)


def use_banks(folder: str | Path) -> Path:
    """Use the question banks in ``folder`` in this kernel (a class release, say)."""
    path = Path(folder).expanduser().resolve()
    if not path.is_dir():
        raise QuizError(_("{folder} is not a folder of question banks").format(folder=folder))
    os.environ["LABKIT_BANKS"] = str(path)
    return path


def _take(qid: str, response: object, via: str) -> tuple[dict, str, object]:
    """Check the form of ``response``, put it on the sheet, and say the mode in force."""
    item = question(qid)
    value = canonical(item, response)
    in_force = quiz_mode(notebook_of(qid))
    if SHEET.latest(qid) != value or via != "my_answers":
        SHEET.add(qid, value, feedback=in_force == "self-check", via=via)
    return item, in_force, value


def _outcome(item: dict, in_force: str) -> tuple[dict, QuizResult | Recorded]:
    """The record of ``item``'s attempts so far and what to tell the learner."""
    attempts = SHEET.attempts(item["id"])
    if in_force == "self-check":
        result = grade(item, attempts[-1].response)
        save_progress(result)
        return record(item, attempts, in_force, result), result
    expected = None
    if item["type"] == "measured":
        try:
            expected = own_figure(item)  # self-reported: the grader verifies it by a re-run
        except QuizError:
            expected = None
    save_progress(Recorded(item["id"], attempts[-1].response), float(item["points"]))
    return record(item, attempts, in_force, expected=expected), Recorded(
        item["id"], attempts[-1].response
    )


def record_widget_answer(qid: str, response: object) -> QuizResult | Recorded:
    """A widget's button: keep the answer on the sheet; check it in self-check mode."""
    item, in_force, _value = _take(qid, response, via="widget")
    return _outcome(item, in_force)[1]


def answer(qid: str, response: object) -> QuizResult | Recorded | None:
    """Answer ``qid`` and record it in this cell's output.

    Self-check mode grades it at once; class mode records it for your instructor.
    ``None`` means "not answered yet": nothing is recorded.
    """
    if response is None:
        say("{question}: not answered yet. {asked}", question=qid, asked=text(question(qid)))
        return None
    item, in_force, _value = _take(qid, response, via="answer")
    made, outcome = _outcome(item, in_force)
    display_records([made], str(outcome))
    return outcome


def submit(responses: dict[str, object]) -> list[QuizResult | Recorded]:
    """Record the answers to a notebook's questions in the notebook.

    Each question's answer is the one in ``responses`` or, where that is None, the
    last one given in the widgets; ``responses`` is then filled in with it, and so is
    the cell's ``my_answers = {...}`` line, so the saved notebook carries your answers.
    """
    outcomes: list[QuizResult | Recorded] = []
    made: list[dict] = []
    filled: dict[str, object] = {}
    for qid, given in responses.items():
        if given is None:
            given = SHEET.latest(qid)
            if given is None:
                continue
            filled[qid] = given
        else:
            _take(qid, given, via="my_answers")
        item = question(qid)
        one, outcome = _outcome(item, quiz_mode(notebook_of(qid)))
        made.append(one)
        outcomes.append(outcome)
    if not outcomes:
        say(
            "Nothing answered yet: answer in the widgets above, or fill in my_answers (e.g. "
            "'B', 'A,C' or a number), then run this cell again."
        )
        return []
    if filled:
        responses.update(filled)
        fill_in_my_answers(filled)
    display_records(made, "\n\n".join(str(o) for o in outcomes))
    return outcomes


def progress() -> list[dict]:
    """Each answered question: points (self-check) or "recorded" (class), and when."""
    table = [{"question": qid, **row} for qid, row in sorted(load_progress().items())]
    graded = [r for r in table if r.get("points") is not None]
    total = sum(r["points"] for r in graded)
    top = sum(r["max_points"] for r in graded)
    say(
        "{count} questions answered, {total:g} of {top:g} points self-checked",
        count=len(table),
        total=total,
        top=top,
    )
    for r in table:
        if r.get("points") is None:
            say("  {question:<8} recorded (graded by your instructor)", question=r["question"])
        else:
            mark = "✔" if r["correct"] else "✘"
            print(f"  {r['question']:<8} {mark} {r['points']:g}/{r['max_points']:g}")
    return table
