"""Writing answers into a bank as salted hashes (``labkit quiz set-answer``)."""

from __future__ import annotations

import secrets
from pathlib import Path

import yaml

from labkit.grading.banks import QuizError, digest
from labkit.grading.checking import letters, number


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
        letter = letters(item, plain, many=False)[0]
        item["answer"] = {"salt": salt, "hash": digest(salt, letter)}
    elif item["type"] == "multiple":
        right = set(letters(item, plain, many=True))
        item["answer"] = {
            "salt": salt,
            "options": {o: digest(salt, f"{o}:{int(o in right)}") for o in item["options"]},
        }
    elif item["type"] == "numeric":
        value = number(item, plain)
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
