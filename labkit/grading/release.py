"""A class release of the question banks: the questions and explanations, no answer material.

    labkit quiz release --banks ~/course/banks --out ~/course/release/banks

Every ``answer`` (salt, hashes, tolerances) is dropped and the bank says
``mode: class``. Quiz cells running on a release record answers without saying
whether they are right; feedback comes with the grades. Measured questions keep
their source and tolerances: those are not secrets, the figure is the learner's own.

Explanations are left out too, unless asked for (``--keep-explanations``): an
explanation usually states the answer ("4 × 6 + 3 = 27 ≤ 30"), which is answer
material. The nbgrader assignment returns each explanation with the grade instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from labkit.grading.banks import QuizError, bank_dir, bank_files, load_bank, schema_path

EXPLAINED_LATER = {"en": "Explained with your grades.", "zh": "讲解随成绩一起给出。"}
HEADER = (
    "# Class release of a Pool Lab question bank, written by `labkit quiz release`.\n"
    "# It carries no answers: your instructor grades against a key of their own.\n"
)


def release_bank(bank: dict, keep_explanations: bool = False) -> dict:
    """A copy of ``bank`` without any answer material, marked ``mode: class``."""
    released = {key: value for key, value in bank.items() if key not in ("mode", "questions")}
    released["mode"] = "class"
    released["questions"] = []
    for item in bank["questions"]:
        copy = {key: value for key, value in item.items() if key != "answer"}
        if not keep_explanations:
            copy["explanation"] = dict(EXPLAINED_LATER)
        released["questions"].append(copy)
    return released


def release_banks(
    out: Path, notebooks: list[str] | None = None, *, keep_explanations: bool = False
) -> list[Path]:
    """Write the class release of the banks in force (or of ``notebooks`` only) into ``out``.

    Returns the files written; ``schema.json`` goes with them so the release validates.
    """
    out = Path(out)
    files = bank_files()
    if out.resolve() == bank_dir().resolve():
        raise QuizError(f"{out} holds the banks being released: write the release elsewhere")
    chosen = notebooks or sorted(files)
    missing = [n for n in chosen if n not in files]
    if missing:
        raise QuizError(
            f"no question bank for notebook(s) {missing}; the banks are {sorted(files)}"
        )
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for notebook in chosen:
        released = release_bank(load_bank(files[notebook]), keep_explanations)
        target = out / files[notebook].name
        body = yaml.safe_dump(released, allow_unicode=True, sort_keys=False, width=100)
        target.write_text(HEADER + body, encoding="utf-8")
        written.append(target)
    shutil.copyfile(schema_path(), out / "schema.json")
    return written
