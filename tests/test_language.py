"""Switching the kit's language inside a running kernel."""

from __future__ import annotations

import pytest

import labkit
from labkit.errors import LabkitError
from labkit.grading import banks


def test_set_language_switches_the_questions_in_a_running_process(monkeypatch):
    monkeypatch.setenv("LABKIT_LANG", "en")
    english = banks.text(banks.question("01-q1"))
    assert labkit.set_language("zh_CN.UTF-8") == "zh"
    chinese = banks.text(banks.question("01-q1"))
    assert chinese != english and any("\u4e00" <= ch <= "\u9fff" for ch in chinese)
    labkit.set_language("en")
    assert banks.text(banks.question("01-q1")) == english


def test_an_unknown_language_is_refused_with_the_choices(monkeypatch):
    monkeypatch.setenv("LABKIT_LANG", "en")
    with pytest.raises(LabkitError, match=r"en.*zh"):
        labkit.set_language("fr")
    assert banks.language() == "en"  # nothing changed
