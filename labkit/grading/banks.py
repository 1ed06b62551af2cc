"""Question banks: find them, read them, check them against their schema, look up questions.

The banks live in ``quizzes/`` at the top of the repository; a built wheel carries
a copy as ``labkit/_banks``. ``LABKIT_BANKS`` (or ``labkit grade --banks DIR``)
points at another folder of banks, for example an instructor's own.
LABKIT_LANG chooses the language: ``en`` (default) or ``zh``.

A bank is in one of two modes (:func:`quiz_mode`): **self-check**, the default, whose
answers are salted hashes for instant feedback (anyone with the bank can recover them,
so they are never secret), or **class**, a release made by ``labkit quiz release``
that carries no answer material at all: answers are recorded, and graded by an
instructor who keeps the key outside the repository.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path

import yaml

from labkit.errors import LabkitError
from labkit.messages import _

LANGUAGES = ("en", "zh")
MODES = ("self-check", "class")
_PACKAGE = Path(__file__).resolve().parent.parent
_WHEEL_BANKS = _PACKAGE / "_banks"  # written by setup.py's build step into the wheel
_CHECKOUT_BANKS = _PACKAGE.parent / "quizzes"


class QuizError(LabkitError):
    """A question that does not exist, or a bank that is broken."""


class AnswerFormatError(QuizError, ValueError):
    """The answer is not in the form the question needs; the message says which form."""


def bank_dir() -> Path:
    """The folder of banks in force: ``LABKIT_BANKS``, else the installed or checked-out one."""
    override = os.environ.get("LABKIT_BANKS")
    if override:
        folder = Path(override).expanduser()
        if not folder.is_dir():
            raise QuizError(
                _("LABKIT_BANKS={folder} is not a folder of question banks").format(folder=override)
            )
        return folder
    if _WHEEL_BANKS.is_dir():
        return _WHEEL_BANKS
    if _CHECKOUT_BANKS.is_dir():
        return _CHECKOUT_BANKS
    raise QuizError(
        _(
            "No question banks found: labkit looks in its own package (a built wheel) and in "
            "quizzes/ beside it (a checkout). Reinstall labkit, or set LABKIT_BANKS to a folder "
            "of banks."
        )
    )


def schema_path() -> Path:
    """The banks' JSON Schema; an instructor's folder may lack one, so fall back to ours."""
    own = bank_dir() / "schema.json"
    if own.exists():
        return own
    return (_WHEEL_BANKS if _WHEEL_BANKS.is_dir() else _CHECKOUT_BANKS) / "schema.json"


def language() -> str:
    """The language in force (LABKIT_LANG): ``en`` or ``zh``; see :mod:`labkit.language`."""
    from labkit.language import language as current

    try:
        return current()
    except LabkitError as exc:
        raise QuizError(str(exc)) from None


def digest(salt: str, canonical: str) -> str:
    """The salted SHA-256 the banks store instead of an answer."""
    return hashlib.sha256(f"{salt}:{canonical}".encode()).hexdigest()


def bank_files() -> dict[str, Path]:
    """Each notebook's bank file, by notebook number ("00" ... "04")."""
    return {path.stem.split("_")[0]: path for path in sorted(bank_dir().glob("*.yaml"))}


def load_bank(path: Path) -> dict:
    """One bank, read and checked against the schema.

    Cached until the file changes: grading a class asks for the same bank once
    per answer, and parsing plus validating it each time was most of the work.
    """
    return _load_bank(path.resolve(), path.stat().st_mtime_ns)


@lru_cache(maxsize=32)
def _load_bank(path: Path, _mtime_ns: int) -> dict:
    import jsonschema

    bank = yaml.safe_load(path.read_text(encoding="utf-8"))
    schema = json.loads(schema_path().read_text())
    try:
        jsonschema.validate(bank, schema)
    except jsonschema.ValidationError as exc:
        raise QuizError(
            _("{bank} is not a valid question bank: {problem}").format(
                bank=path.name, problem=exc.message
            )
        ) from exc
    return bank


def question(qid: str) -> dict:
    """The question ``qid`` ("04-q1": bank 04, question 1)."""
    prefix = notebook_of(qid)
    files = bank_files()
    path = files.get(prefix)
    if path is None:
        raise QuizError(
            _("no question bank for {qid!r}; the banks are {banks}").format(
                qid=qid, banks=sorted(files)
            )
        )
    for item in load_bank(path)["questions"]:
        if item["id"] == qid:
            return item
    raise QuizError(_("{bank} has no question {qid!r}").format(bank=path.name, qid=qid))


def questions(notebook: str) -> list[dict]:
    """Every question of a notebook's bank ("01", "02", ...)."""
    path = bank_files().get(notebook)
    if path is None:
        raise QuizError(_("no question bank for notebook {notebook!r}").format(notebook=notebook))
    return load_bank(path)["questions"]


def is_exercise(item: dict) -> bool:
    """Is ``item`` a live exercise (passed by doing it, not answered in the quiz)?"""
    return item["type"] == "exercise"


def quiz_mode(notebook: str) -> str:
    """``"class"`` or ``"self-check"``: the mode a notebook's quiz runs in.

    A class release of the banks says ``mode: class``; ``LABKIT_QUIZ_MODE=class``
    turns any bank into class mode (no feedback) for a whole environment.
    """
    forced = os.environ.get("LABKIT_QUIZ_MODE", "").strip().lower()
    if forced and forced not in MODES:
        raise QuizError(
            _("LABKIT_QUIZ_MODE={mode!r} is not a mode; use one of {modes}").format(
                mode=forced, modes=MODES
            )
        )
    if forced == "class":
        return "class"
    path = bank_files().get(notebook)
    if path is None:
        raise QuizError(_("no question bank for notebook {notebook!r}").format(notebook=notebook))
    return load_bank(path).get("mode", "self-check")


def notebook_of(qid: str) -> str:
    """The notebook a question belongs to: "04-q1" -> "04"."""
    return qid.split("-")[0]


def text(item: dict, field: str = "text") -> str:
    """A question's ``field`` ("text", "explanation", ...) in the language in force."""
    return item[field][language()]
