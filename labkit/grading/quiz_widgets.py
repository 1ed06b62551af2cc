"""The quiz as ipywidgets: choose, press Check (self-check) or Record (class), read the result.

Every press is an attempt the kernel keeps (:mod:`.sheet`), so the submit cell
records the widgets' answers without the learner typing them again.
"""

from __future__ import annotations

from labkit.grading.banks import (
    QuizError,
    is_exercise,
    language,
    notebook_of,
    question,
    questions,
    quiz_mode,
)
from labkit.grading.banks import text as bank_text
from labkit.messages import N_, _

# What each mode promises, said at the top of the quiz (TEACHING: say which mode is in force).
# English here; the Chinese is in labkit/locale/zh.po, looked up when the quiz is shown.
BANNERS = {
    "self-check": N_(
        "<b>Self-check.</b> Each answer is checked at once and explained. This is for "
        "you to learn from, not a grade. Your answers here are kept: the cell after the "
        "quiz records them in the notebook."
    ),
    "class": N_(
        "<b>Class quiz.</b> Your answers are recorded, not checked: your instructor "
        "grades them, and feedback comes with your grades. Measured questions are verified "
        "by re-running your notebook. Run the cell after the quiz, then save the notebook."
    ),
}
BUTTONS = {"self-check": N_("Check"), "class": N_("Record")}


def banner(notebook: str) -> str:
    """The sentence that says which mode this notebook's quiz runs in, as HTML."""
    return _(BANNERS[quiz_mode(notebook)])


def show(qid: str):
    """One question as widgets: choose, press the button, read what it says."""
    import ipywidgets as w

    from labkit.grading import quiz  # the facade records answers; imported late (it imports us)

    item = question(qid)
    mode = quiz_mode(notebook_of(qid))
    if item["type"] in ("single", "multiple"):
        labels = [(f"{k}. {v[language()]}", k) for k, v in item["options"].items()]
        # Options are as wide as their text: recognising an error message word for word
        # is sometimes the question, so none may be cut with "…" (a Checkbox is 300 px
        # wide by default).
        if item["type"] == "single":
            chooser = w.RadioButtons(options=labels, value=None, layout=w.Layout(width="auto"))
            read = lambda: chooser.value  # noqa: E731
            inputs = [chooser]
        else:
            boxes = [
                w.Checkbox(
                    description=label, value=False, indent=False, layout=w.Layout(width="auto")
                )
                for label, _ in labels
            ]
            read = lambda: [k for (_, k), b in zip(labels, boxes, strict=True) if b.value]  # noqa: E731
            inputs = boxes
    else:
        field = w.Text(placeholder=_("a number"))
        read = lambda: field.value  # noqa: E731
        inputs = [field]
    button = w.Button(description=_(BUTTONS[mode]), button_style="primary")
    output = w.Output()

    def press(_button) -> None:
        output.clear_output()
        with output:
            try:
                print(quiz.record_widget_answer(qid, read()))
            except QuizError as exc:
                print(exc)

    button.on_click(press)
    points = _("({points:g} pt)").format(points=item["points"])
    title = w.HTML(f"<b>{qid}</b> {points} {bank_text(item)}")
    return w.VBox([title, *inputs, button, output])


def show_quiz(notebook: str):
    """Every question of a notebook's bank as widgets, under a line that says the mode.

    Exercises are left out: they are passed by doing them, in their own cell.
    """
    import ipywidgets as w

    header = w.HTML(banner(notebook))
    asked = [item for item in questions(notebook) if not is_exercise(item)]
    return w.VBox([header, *(show(item["id"]) for item in asked)])
