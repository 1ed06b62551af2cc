"""The instructor's answer key: a plain YAML file kept outside the repository.

Class mode grades against it (``labkit grade --key FILE``, and the hidden tests of
the nbgrader assignments that ``labkit nbgrader generate --key FILE`` writes). It is
never copied into the learners' banks, notebooks or environment.

The file maps question ids to answers; measured questions have no entry (they are
graded against the learner's own figures, verified by the grader's re-run)::

    00-p1: {answer: D}                    # one letter (made-up answers: yours go here)
    00-p3: {answer: "A,C"}                # letters
    00-p2: {answer: 900, tolerance: 50}   # a number, and how far from it is still right

>>> key = load_key(Path("~/course/key.yaml"))   # doctest: +SKIP
>>> key.entry("00-p1")                           # doctest: +SKIP
{'answer': 'D'}
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from labkit.grading.banks import QuizError, bank_files, load_bank, question
from labkit.grading.checking import canonical

_CHECKOUT = Path(__file__).resolve().parents[2]  # the repository root, in a checkout


class AnswerKeyError(QuizError):
    """A key file that is missing, malformed, in the wrong place, or does not fit the banks."""


@dataclass(frozen=True)
class AnswerKey:
    """Plain answers by question id, read from the instructor's own file."""

    path: Path
    entries: dict[str, dict]

    def entry(self, qid: str) -> dict:
        """The key's entry for ``qid``; a clear error if the key has none."""
        try:
            return self.entries[qid]
        except KeyError:
            raise AnswerKeyError(
                f"the key {self.path} has no answer for {qid}: add `{qid}: {{answer: ...}}` "
                "to it (`labkit quiz key-template` lists every question that needs one)"
            ) from None


def inside_repository(path: Path) -> bool:
    """Is ``path`` inside this labkit checkout (which learners clone)?"""
    if not (_CHECKOUT / "pyproject.toml").exists() or not (_CHECKOUT / "quizzes").is_dir():
        return False  # an installed wheel: there is no checkout to protect
    return path.expanduser().resolve().is_relative_to(_CHECKOUT)


def refuse_inside_repository(path: Path, what: str = "the answer key") -> None:
    """Raise if ``path`` lies in the repository learners clone: a key there is public."""
    if inside_repository(path):
        raise AnswerKeyError(
            f"{path} is inside the Pool Lab repository ({_CHECKOUT}), which learners clone: "
            f"keep {what} outside it, e.g. ~/course/key.yaml"
        )


def load_key(path: Path) -> AnswerKey:
    """Read and check a key: every entry names a question of the banks in force and has an
    answer in the form that question takes. Refuses a key inside the repository."""
    path = Path(path).expanduser()
    refuse_inside_repository(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnswerKeyError(f"no key file at {path}") from None
    except yaml.YAMLError as exc:
        raise AnswerKeyError(f"{path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not data:
        raise AnswerKeyError(
            f"{path} must map question ids to answers, e.g. `00-p1: {{answer: D}}`"
        )
    entries: dict[str, dict] = {}
    for qid, spec in data.items():
        entries[str(qid)] = _checked_entry(path, str(qid), spec)
    return AnswerKey(path, entries)


def _checked_entry(path: Path, qid: str, spec: object) -> dict:
    if not isinstance(spec, dict) or spec.get("answer") is None:
        raise AnswerKeyError(f"{path}: {qid} needs an answer, e.g. `{qid}: {{answer: C}}`")
    try:
        item = question(qid)
    except QuizError as exc:
        raise AnswerKeyError(f"{path}: {exc} (grade with --banks DIR for another folder)") from None
    if item["type"] in ("measured", "exercise"):
        raise AnswerKeyError(
            f"{path}: {qid} is a {item['type']} question: it has no key entry, it is graded "
            "against the learner's own run, verified by the grader's re-run"
        )
    unknown = set(spec) - {"answer", "tolerance", "decimals"}
    if unknown:
        raise AnswerKeyError(f"{path}: {qid} has unknown fields {sorted(unknown)}")
    canonical(item, spec["answer"])  # AnswerFormatError names the form it takes
    return dict(spec)


def key_template(notebooks: list[str] | None = None) -> str:
    """A key file for the banks in force, every answer left for the instructor to fill in."""
    lines = [
        "# The answer key for a class. Keep this file OUTSIDE the Pool Lab repository",
        "# and away from learners. Fill in each answer: a letter (C), letters (A,C)",
        "# or a number (with an optional tolerance). Measured questions and exercises",
        "# have no entry: the grader's re-run of each notebook grades them.",
    ]
    for notebook, path in bank_files().items():
        if notebooks and notebook not in notebooks:
            continue
        for item in load_bank(path)["questions"]:
            if item["type"] in ("measured", "exercise"):
                continue
            extra = ", tolerance: 0" if item["type"] == "numeric" else ""
            lines.append(f"{item['id']}: {{answer: null{extra}}}  # {item['type']}")
    return "\n".join(lines) + "\n"


def lopsided(key: AnswerKey) -> str | None:
    """A warning when one letter answers most single-choice questions of ``key``: a key
    where most answers are B teaches learners to guess B. None when the spread is fair."""
    letters = Counter(
        str(spec["answer"]).strip().upper()
        for qid, spec in key.entries.items()
        if question(qid)["type"] == "single"
    )
    total = sum(letters.values())
    if total < 4:
        return None
    letter, count = letters.most_common(1)[0]
    if count <= total / 2:
        return None
    return (
        f"{count} of the key's {total} single-choice answers are {letter}: reorder the options "
        "of some questions so that the right letters are spread out"
    )
