"""Grading one answer against its question: letters, numbers, and the learner's own figures.

>>> grade(question("04-q1"), "B")     # doctest: +SKIP
QuizResult(question='04-q1', correct=True, points=1.0, ...)

*Measured* questions have no stored answer at all: the expected value is the
learner's own figure, read from the results file that the labs wrote.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from labkit.grading.banks import AnswerFormatError, QuizError, digest, language, text
from labkit.infra.results import get_result


@dataclass(frozen=True)
class QuizResult:
    question: str
    response: object
    correct: bool
    points: float
    max_points: float
    feedback: str
    explanation: str
    expected: float | None = None  # measured questions only: the learner's own figure

    def __str__(self) -> str:
        mark = "✔ correct" if self.correct else "✘ not quite"
        return (
            f"{self.question}: {mark} ({self.points:g}/{self.max_points:g})\n"
            f"{self.feedback}\n{self.explanation}"
        )


def letters(item: dict, response: object, many: bool) -> list[str]:
    options = list(item["options"])
    if isinstance(response, str):
        picked = [p.strip().upper() for p in response.replace(" ", ",").split(",") if p.strip()]
    elif isinstance(response, (list, tuple, set)) and all(isinstance(p, str) for p in response):
        picked = [p.strip().upper() for p in response]
    else:
        picked = []
    if not picked or any(p not in options for p in picked) or (not many and len(picked) != 1):
        form = "letters such as 'A,C'" if many else "one letter"
        raise AnswerFormatError(
            f"{item['id']}: answer with {form} from {', '.join(options)}; got {response!r}"
        )
    return sorted(set(picked))


def number(item: dict, response: object) -> float:
    try:
        value = float(str(response).strip().rstrip("%x×"))
    except ValueError:
        value = math.nan
    if isinstance(response, bool) or not math.isfinite(value):
        raise AnswerFormatError(
            f"{item['id']}: answer with a number, e.g. 4 or 2.5; got {response!r}"
        )
    return value


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


def grade(item: dict, response: object, expected: float | None = None) -> QuizResult:
    """Grade one response. ``expected`` overrides a measured question's source."""
    kind, points = item["type"], float(item["points"])
    score, feedback = 0.0, ""
    if kind == "single":
        picked = letters(item, response, many=False)[0]
        score = points if digest(item["answer"]["salt"], picked) == item["answer"]["hash"] else 0
        response = picked
    elif kind == "multiple":
        picked = letters(item, response, many=True)
        per_option = item["answer"]["options"]
        right = {o for o, h in per_option.items() if digest(item["answer"]["salt"], f"{o}:1") == h}
        hits, misses = len(set(picked) & right), len(set(picked) - right)
        score = points * max(0, hits - misses) / len(right)
        feedback = (
            f"{hits} of {len(right)} right choices, {misses} wrong; "
            f"partial credit: {item['partial_credit'][language()]}"
        )
        response = ",".join(picked)
    elif kind == "numeric":
        value = number(item, response)
        score = points if grid_match(item["answer"], value) else 0
        feedback = f"accepted within ±{item['answer']['tolerance']:g}"
        response = value
    elif kind == "measured":
        value = number(item, response)
        if expected is None:
            source = item["source"]
            figures = get_result(source["experiment"])
            if figures is None:
                raise QuizError(
                    f"{item['id']} is graded against your own measurement from "
                    f"{source['experiment']!r}, which has not run yet: run that experiment first."
                )
            expected = float(figures[source["key"]])
        tolerance = item["tolerance"]
        allowed = tolerance.get("absolute", 0.0) + tolerance.get("relative", 0.0) * abs(expected)
        score = points if abs(value - expected) <= allowed + 1e-12 else 0
        feedback = f"your measurement says {expected:.3g}; accepted within ±{allowed:.3g}"
        response = value
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
