"""The quiz engine: question banks in quizzes/*.yaml, graded on the spot.

>>> quiz.answer("04-q1", "B")                   # doctest: +SKIP
QuizResult(question='04-q1', correct=True, points=1.0, ...)
>>> quiz.show("04-q1")                          # an ipywidgets question     # doctest: +SKIP
>>> quiz.submit({"04-q1": "B", "04-q2": "D"})   # records answers in the notebook  # doctest: +SKIP

Answers are never stored in plain text: a bank keeps a salted SHA-256 per
question (``labkit quiz set-answer`` writes it). *Measured* questions have no
stored answer at all: the expected value is the learner's own figure, read from
the results file that the labs wrote (:mod:`labkit.results`).
LABKIT_LANG chooses the language: ``en`` (default) or ``zh``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache, lru_cache
from pathlib import Path

import yaml

from labkit.errors import LabkitError
from labkit.home import labkit_home
from labkit.results import get_result

BANK_DIR = Path(__file__).resolve().parent.parent / "quizzes"
LANGUAGES = ("en", "zh")
RECORD_MIME = "application/vnd.labkit.quiz-answer+json"


class QuizError(LabkitError):
    """A question that does not exist, or a bank that is broken."""


class AnswerFormatError(QuizError, ValueError):
    """The answer is not in the form the question needs; the message says which form."""


def language() -> str:
    lang = os.environ.get("LABKIT_LANG", "en").lower().split("_")[0].split("-")[0]
    if lang not in LANGUAGES:
        raise QuizError(f"LABKIT_LANG={lang!r} is not supported; use one of {LANGUAGES}")
    return lang


def digest(salt: str, canonical: str) -> str:
    return hashlib.sha256(f"{salt}:{canonical}".encode()).hexdigest()


# ----------------------------------------------------------------------------- banks
@cache
def bank_files() -> dict[str, Path]:
    """Each notebook's bank file, by notebook number ("00" ... "04")."""
    return {path.stem.split("_")[0]: path for path in sorted(BANK_DIR.glob("*.yaml"))}


def load_bank(path: Path) -> dict:
    """One bank, read and checked against quizzes/schema.json.

    Cached until the file changes: grading a class asks for the same bank once
    per answer, and parsing plus validating it each time was most of the work.
    """
    return _load_bank(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_bank(path: Path, _mtime_ns: int) -> dict:
    import jsonschema

    bank = yaml.safe_load(path.read_text(encoding="utf-8"))
    schema = json.loads((BANK_DIR / "schema.json").read_text())
    try:
        jsonschema.validate(bank, schema)
    except jsonschema.ValidationError as exc:
        raise QuizError(f"{path.name} is not a valid question bank: {exc.message}") from exc
    return bank


def question(qid: str) -> dict:
    """The question ``qid`` ("04-q1": bank 04, question 1)."""
    prefix = qid.split("-")[0]
    path = bank_files().get(prefix)
    if path is None:
        raise QuizError(f"no question bank for {qid!r}; the banks are {sorted(bank_files())}")
    for item in load_bank(path)["questions"]:
        if item["id"] == qid:
            return item
    raise QuizError(f"{path.name} has no question {qid!r}")


def questions(notebook: str) -> list[dict]:
    """Every question of a notebook's bank ("01", "02", ...)."""
    path = bank_files().get(notebook)
    if path is None:
        raise QuizError(f"no question bank for notebook {notebook!r}")
    return load_bank(path)["questions"]


def text(item: dict, field: str = "text") -> str:
    return item[field][language()]


# ----------------------------------------------------------------------------- grading
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


def _letters(item: dict, response: object, many: bool) -> list[str]:
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


def _number(item: dict, response: object) -> float:
    try:
        value = float(str(response).strip().rstrip("%x×"))
    except ValueError:
        value = math.nan
    if isinstance(response, bool) or not math.isfinite(value):
        raise AnswerFormatError(
            f"{item['id']}: answer with a number, e.g. 4 or 2.5; got {response!r}"
        )
    return value


def _grid_match(answer: dict, value: float) -> bool:
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
        picked = _letters(item, response, many=False)[0]
        score = points if digest(item["answer"]["salt"], picked) == item["answer"]["hash"] else 0
        response = picked
    elif kind == "multiple":
        picked = _letters(item, response, many=True)
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
        value = _number(item, response)
        score = points if _grid_match(item["answer"], value) else 0
        feedback = f"accepted within ±{item['answer']['tolerance']:g}"
        response = value
    elif kind == "measured":
        value = _number(item, response)
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


# ----------------------------------------------------------------------------- progress
def _progress_path() -> Path:
    return labkit_home() / "quiz_progress.json"


def _save_progress(result: QuizResult) -> None:
    path = _progress_path()
    try:
        progress = json.loads(path.read_text())
    except (OSError, ValueError):
        progress = {}
    progress[result.question] = {
        "correct": result.correct,
        "points": result.points,
        "max_points": result.max_points,
        "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    path.write_text(json.dumps(progress, indent=2, sort_keys=True))


def record(result: QuizResult) -> dict:
    """What a quiz cell leaves in the notebook for the gradebook, with a checksum."""
    data = {
        "question": result.question,
        "response": result.response,
        "expected": result.expected,
        "points": result.points,
        "max_points": result.max_points,
    }
    data["check"] = record_check(data)
    return data


def record_check(data: dict) -> str:
    """A checksum over a record (salted per question) that reveals an edited record.

    It catches accidental or naive edits, not a determined forger: the salt is
    in the bank, which the learner has.
    """
    body = {k: data.get(k) for k in ("question", "response", "expected", "points", "max_points")}
    salt = question(data["question"]).get("answer", {}).get("salt", data["question"])
    return digest(salt, json.dumps(body, sort_keys=True))


def _display(results: list[QuizResult]) -> None:
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - outside IPython
        return
    plain = "\n\n".join(str(r) for r in results)
    display({RECORD_MIME: [record(r) for r in results], "text/plain": plain}, raw=True)


def answer(qid: str, response: object) -> QuizResult | None:
    """Grade ``response`` to ``qid``, save it, and record it in this cell's output.

    ``None`` means "not answered yet": nothing is graded and nothing recorded.
    """
    item = question(qid)
    if response is None:
        print(f"{qid}: not answered yet. {text(item)}")
        return None
    result = grade(item, response)
    _save_progress(result)
    _display([result])
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
        _save_progress(result)
    _display(results)
    return results


def progress() -> list[dict]:
    """Each answered question: points and when. Shown as a table in a notebook."""
    try:
        rows = json.loads(_progress_path().read_text())
    except (OSError, ValueError):
        rows = {}
    table = [{"question": qid, **row} for qid, row in sorted(rows.items())]
    total = sum(r["points"] for r in table)
    top = sum(r["max_points"] for r in table)
    print(f"{len(table)} questions answered, {total:g} of {top:g} points")
    for r in table:
        mark = "✔" if r["correct"] else "✘"
        print(f"  {r['question']:<8} {mark} {r['points']:g}/{r['max_points']:g}")
    return table


# ----------------------------------------------------------------------------- widgets
def show(qid: str):
    """An ipywidgets question: choose, press Check, read the feedback and explanation."""
    import ipywidgets as w

    item = question(qid)
    if item["type"] in ("single", "multiple"):
        labels = [(f"{k}. {v[language()]}", k) for k, v in item["options"].items()]
        if item["type"] == "single":
            chooser = w.RadioButtons(options=labels, value=None, layout=w.Layout(width="auto"))
            read = lambda: chooser.value  # noqa: E731
            inputs = [chooser]
        else:
            boxes = [
                w.Checkbox(description=label, value=False, indent=False) for label, _ in labels
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
            _save_progress(result)
            print(result)

    button.on_click(check)
    title = w.HTML(f"<b>{qid}</b> ({item['points']:g} pt) {text(item)}")
    return w.VBox([title, *inputs, button, output])


def show_quiz(notebook: str):
    """Every question of a notebook's bank, as widgets, one under the other."""
    import ipywidgets as w

    return w.VBox([show(item["id"]) for item in questions(notebook)])


# ----------------------------------------------------------------------------- authoring
def set_answer(
    bank_path: Path, qid: str, plain: str, *, tolerance: float = 0.0, decimals: int = 0
) -> None:
    """Write the salted hash of ``plain`` into the bank (the plain answer is not kept)."""
    source = bank_path.read_text(encoding="utf-8")
    header = "".join(line for line in source.splitlines(keepends=True) if line.startswith("#"))
    bank = yaml.safe_load(source)
    item = next((q for q in bank["questions"] if q["id"] == qid), None)
    if item is None:
        raise QuizError(f"{bank_path.name} has no question {qid!r}")
    salt = secrets.token_hex(8)
    if item["type"] == "single":
        letter = _letters(item, plain, many=False)[0]
        item["answer"] = {"salt": salt, "hash": digest(salt, letter)}
    elif item["type"] == "multiple":
        right = set(_letters(item, plain, many=True))
        item["answer"] = {
            "salt": salt,
            "options": {o: digest(salt, f"{o}:{int(o in right)}") for o in item["options"]},
        }
    elif item["type"] == "numeric":
        value = _number(item, plain)
        item["answer"] = {
            "salt": salt,
            "decimals": decimals,
            "tolerance": tolerance,
            "hash": digest(salt, f"{value:.{decimals}f}"),
        }
    else:
        raise QuizError(f"{qid} is a measured question: its answer is each learner's own figure")
    body = yaml.safe_dump(bank, allow_unicode=True, sort_keys=False, width=100)
    bank_path.write_text(header + body, encoding="utf-8")
    bank_files.cache_clear()
