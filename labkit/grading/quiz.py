"""The quiz cells of every notebook: show the questions, grade answers, record them.

>>> quiz.show_quiz("04")                         # the questions as widgets   # doctest: +SKIP
>>> quiz.answer("04-q1", "B")                    # one answer, graded         # doctest: +SKIP
>>> quiz.submit({"04-q1": "B", "04-q2": "D"})    # records answers in the notebook  # doctest: +SKIP
>>> quiz.progress()                              # what you answered so far   # doctest: +SKIP

The pieces behind it, one job each: :mod:`.banks` (the question banks),
:mod:`.checking` (grading one answer), :mod:`.records` (what a cell records for
the gradebook), :mod:`.progress` (your progress file), :mod:`.quiz_widgets`.
"""

from __future__ import annotations

from labkit.grading.banks import AnswerFormatError, QuizError, question, text
from labkit.grading.checking import QuizResult, grade
from labkit.grading.progress import load_progress, save_progress
from labkit.grading.quiz_widgets import show, show_quiz
from labkit.grading.records import display_records

__all__ = [
    "AnswerFormatError",
    "QuizError",
    "QuizResult",
    "answer",
    "progress",
    "show",
    "show_quiz",
    "submit",
]


def answer(qid: str, response: object) -> QuizResult | None:
    """Grade ``response`` to ``qid``, save it, and record it in this cell's output.

    ``None`` means "not answered yet": nothing is graded and nothing recorded.
    """
    item = question(qid)
    if response is None:
        print(f"{qid}: not answered yet. {text(item)}")
        return None
    result = grade(item, response)
    save_progress(result)
    display_records([result])
    return result


def submit(responses: dict[str, object]) -> list[QuizResult]:
    """Grade several answers at once (None = skipped) and record them in the notebook."""
    results = [grade(question(qid), r) for qid, r in responses.items() if r is not None]
    if not results:
        print(
            "Nothing answered yet: fill in my_answers (e.g. 'B', 'A,C' or a number), then run "
            "this cell again."
        )
        return []
    for result in results:
        save_progress(result)
    display_records(results)
    return results


def progress() -> list[dict]:
    """Each answered question: points and when. Shown as a table in a notebook."""
    table = [{"question": qid, **row} for qid, row in sorted(load_progress().items())]
    total = sum(r["points"] for r in table)
    top = sum(r["max_points"] for r in table)
    print(f"{len(table)} questions answered, {total:g} of {top:g} points")
    for r in table:
        mark = "✔" if r["correct"] else "✘"
        print(f"  {r['question']:<8} {mark} {r['points']:g}/{r['max_points']:g}")
    return table
