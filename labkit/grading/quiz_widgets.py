"""The quiz as ipywidgets: choose, press Check, read the feedback and explanation."""

from __future__ import annotations

from labkit.grading.banks import QuizError, language, question, questions, text
from labkit.grading.checking import grade
from labkit.grading.progress import save_progress


def show(qid: str):
    """An ipywidgets question: choose, press Check, read the feedback and explanation."""
    import ipywidgets as w

    item = question(qid)
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
        field = w.Text(placeholder="a number")
        read = lambda: field.value  # noqa: E731
        inputs = [field]
    button = w.Button(description="Check", button_style="primary")
    output = w.Output()

    def check(_button) -> None:
        output.clear_output()
        with output:
            try:
                result = grade(item, read())
            except QuizError as exc:
                print(exc)
                return
            save_progress(result)
            print(result)

    button.on_click(check)
    title = w.HTML(f"<b>{qid}</b> ({item['points']:g} pt) {text(item)}")
    return w.VBox([title, *inputs, button, output])


def show_quiz(notebook: str):
    """Every question of a notebook's bank, as widgets, one under the other."""
    import ipywidgets as w

    return w.VBox([show(item["id"]) for item in questions(notebook)])
