"""Grading one answer: letters, numbers, and the learner's own figures.

>>> grade(question("04-q1"), "B")                     # doctest: +SKIP
QuizResult(question='04-q1', correct=..., points=..., ...)
>>> grade(question("04-q1"), "B", key={"answer": "C"})  # a key's entry  # doctest: +SKIP

Choice and numeric questions are graded against the bank's salted hashes (a
self-check bank) or against an instructor's key entry (class mode: the class
release of a bank has no answer material, so the key is the only source).

*Measured* questions have no stored answer at all: the expected value is the
learner's own figure, read from the results file that the labs wrote, or the
figure of the grader's re-run (``rerun=True`` then applies ``rerun_tolerance``).
An *exercise* is passed by doing it: its figure (``passed``) is the whole answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from labkit.grading.banks import AnswerFormatError, QuizError, digest, language, text
from labkit.infra.results import get_result
from labkit.messages import _


@dataclass(frozen=True)
class QuizResult:
    question: str
    response: object
    correct: bool
    points: float
    max_points: float
    feedback: str
    explanation: str
    expected: float | None = None  # measured questions only: the figure graded against

    def __str__(self) -> str:
        mark = _("✔ correct") if self.correct else _("✘ not quite")
        return _(
            "{question}: {mark} ({points:g}/{max_points:g})\n{feedback}\n{explanation}"
        ).format(
            question=self.question,
            mark=mark,
            points=self.points,
            max_points=self.max_points,
            feedback=self.feedback,
            explanation=self.explanation,
        )


def letters(item: dict, response: object, many: bool) -> list[str]:
    """The letters picked, checked against the question's options; sorted, no repeats."""
    options = list(item["options"])
    if isinstance(response, str):
        picked = [p.strip().upper() for p in response.replace(" ", ",").split(",") if p.strip()]
    elif isinstance(response, (list, tuple, set)) and all(isinstance(p, str) for p in response):
        picked = [p.strip().upper() for p in response]
    else:
        picked = []
    if not picked or any(p not in options for p in picked) or (not many and len(picked) != 1):
        form = _("letters such as 'A,C'") if many else _("one letter")
        raise AnswerFormatError(
            _("{question}: answer with {form} from {options}; got {response!r}").format(
                question=item["id"], form=form, options=", ".join(options), response=response
            )
        )
    return sorted(set(picked))


def number(item: dict, response: object) -> float:
    """The response as a number ("4", 2.5, "6x" and "10%" all read as numbers)."""
    try:
        value = float(str(response).strip().rstrip("%x×"))
    except ValueError:
        value = math.nan
    if isinstance(response, bool) or not math.isfinite(value):
        raise AnswerFormatError(
            _("{question}: answer with a number, e.g. 4 or 2.5; got {response!r}").format(
                question=item["id"], response=response
            )
        )
    return value


def canonical(item: dict, response: object) -> object:
    """The response in the form records keep: "B", "A,C" or a float. Checks the form only."""
    kind = item["type"]
    if kind == "single":
        return letters(item, response, many=False)[0]
    if kind == "multiple":
        return ",".join(letters(item, response, many=True))
    return number(item, response)


def grid_match(answer: dict, value: float) -> bool:
    """Is a stored value (hashed at ``decimals``) within ``tolerance`` of ``value``?

    The stored value is unreadable, so we hash every value on its decimal grid
    inside [value - tolerance, value + tolerance] and look for it.
    """
    step = 10 ** -answer["decimals"]
    low = math.ceil(round((value - answer["tolerance"]) / step, 6))
    high = math.floor(round((value + answer["tolerance"]) / step, 6))
    return any(
        digest(answer["salt"], f"{k * step:.{answer['decimals']}f}") == answer["hash"]
        for k in range(low, high + 1)
    )


def right_options(item: dict, key: dict | None) -> set[str]:
    """The right letters of a choice question, from the key entry or the bank's hashes."""
    if key is not None:
        return set(letters(item, key["answer"], many=item["type"] == "multiple"))
    stored = _stored_answer(item)
    if item["type"] == "single":
        return {o for o in item["options"] if digest(stored["salt"], o) == stored["hash"]}
    return {o for o, h in stored["options"].items() if digest(stored["salt"], f"{o}:1") == h}


def _stored_answer(item: dict) -> dict:
    stored = item.get("answer")
    if stored is None:
        raise QuizError(
            _(
                "{question} has no answer in this bank (a class release): it is graded by "
                "your instructor against their key (`labkit grade --key FILE`)."
            ).format(question=item["id"])
        )
    return stored


def allowed_error(tolerance: dict, expected: float) -> float:
    """How far from ``expected`` an answer may be: absolute + relative × |expected|."""
    return tolerance.get("absolute", 0.0) + tolerance.get("relative", 0.0) * abs(expected)


def grade(
    item: dict,
    response: object,
    expected: float | None = None,
    *,
    key: dict | None = None,
    rerun: bool = False,
) -> QuizResult:
    """Grade one response.

    ``key`` is an instructor's key entry ({"answer": "B"} or {"answer": 6,
    "tolerance": 0.5}); without it the bank's hashes are used. For a measured
    question, ``expected`` overrides the learner's results file, and ``rerun``
    says it comes from the grader's re-run, so the looser ``rerun_tolerance`` holds.
    """
    kind, points = item["type"], float(item["points"])
    score, feedback = 0.0, ""
    if kind == "single":
        picked = letters(item, response, many=False)[0]
        score = points if picked in right_options(item, key) else 0
        response = picked
    elif kind == "multiple":
        picked = letters(item, response, many=True)
        right = right_options(item, key)
        hits, misses = len(set(picked) & right), len(set(picked) - right)
        score = points * max(0, hits - misses) / len(right)
        feedback = _(
            "{hits} of {right} right choices, {misses} wrong; partial credit: {rule}"
        ).format(
            hits=hits, right=len(right), misses=misses, rule=item["partial_credit"][language()]
        )
        response = ",".join(picked)
    elif kind == "numeric":
        value = number(item, response)
        if key is not None:
            tolerance = float(key.get("tolerance", 0.0))
            score = points if abs(value - number(item, key["answer"])) <= tolerance + 1e-9 else 0
        else:
            tolerance = _stored_answer(item)["tolerance"]
            score = points if grid_match(item["answer"], value) else 0
        feedback = _("accepted within ±{tolerance:g}").format(tolerance=tolerance)
        response = value
    elif kind == "measured":
        value = number(item, response)
        if expected is None:
            expected = own_figure(item)
        tolerance = item.get("rerun_tolerance", item["tolerance"]) if rerun else item["tolerance"]
        allowed = allowed_error(tolerance, expected)
        score = points if abs(value - expected) <= allowed + 1e-12 else 0
        if rerun:
            feedback = _(
                "the grader's re-run measured {expected:.3g}; accepted within ±{allowed:.3g}"
            )
        else:
            feedback = _("your measurement says {expected:.3g}; accepted within ±{allowed:.3g}")
        feedback = feedback.format(expected=expected, allowed=allowed)
        response = value
    elif kind == "exercise":
        if expected is None:
            expected = own_figure(item)
        score = points if expected >= 1 else 0
        feedback = _("the exercise passed") if score else _("the exercise has not passed yet")
        response = bool(expected >= 1)
    return QuizResult(
        item["id"],
        response,
        score == points,
        round(float(score), 4),
        points,
        feedback,
        text(item, "explanation"),
        expected,
    )


def own_figure(item: dict) -> float:
    """A measured question's expected value (or an exercise's ``passed``, as 1.0 or 0.0):
    the figure this learner's lab recorded."""
    source = item["source"]
    figures = get_result(source["experiment"])
    if figures is None:
        raise QuizError(
            _(
                "{question} is graded against your own measurement from {experiment!r}, "
                "which has not run yet: run that experiment first."
            ).format(question=item["id"], experiment=source["experiment"])
        )
    return float(figures[source["key"]])
