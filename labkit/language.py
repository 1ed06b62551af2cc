"""The language the kit speaks: English (``en``, the default) or Chinese (``zh``).

This module is the one place that decides. In order, the first that says something wins:

1. ``labkit.set_language("zh")`` in the kernel (it sets ``LABKIT_LANG``, so the programs
   the kernel starts inherit the choice);
2. ``LABKIT_LANG`` in the environment (``zh``, ``zh_CN.UTF-8`` and ``zh-CN`` all mean Chinese);
3. the notebook's folder: a kernel runs in its notebook's directory, so a notebook in
   ``notebooks/zh/`` speaks Chinese with no code of its own;
4. the locale: ``LC_ALL``, then ``LC_MESSAGES``, then ``LANG`` (``zh_CN.UTF-8`` means Chinese;
   ``C``, ``POSIX`` and languages the kit does not speak mean English);
5. English.

>>> labkit.set_language("zh")     # doctest: +SKIP
>>> quiz.show_quiz("00")          # the questions, now in Chinese   # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import NamedTuple

from labkit.errors import LabkitError

LANGUAGES = ("en", "zh")
DEFAULT = "en"
LOCALE_VARIABLES = ("LC_ALL", "LC_MESSAGES", "LANG")

# A language fixed for one block of code (speaking()), e.g. to recompute a conclusion in the
# language it was printed in. A ContextVar, not a global: the app's threads and an asyncio
# task keep their own, so one block never changes what another thread says.
_SPEAKING: ContextVar[str | None] = ContextVar("labkit_speaking", default=None)


def _normalise(value: str) -> str:
    return value.lower().split(".")[0].split("@")[0].split("_")[0].split("-")[0]


class Choice(NamedTuple):
    """The language in force, which rule chose it, and the setting it read (for `labkit doctor`).

    ``source`` is one of ``"speaking"``, ``"LABKIT_LANG"``, ``"folder"``, ``"locale"``,
    ``"default"``; ``setting`` is e.g. ``"LANG=zh_CN.UTF-8"`` or ``"zh/"``.
    """

    language: str
    source: str
    setting: str = ""


def language_choice() -> Choice:
    """The language in force and what chose it, e.g. ``Choice("zh", "folder", "zh/")``."""
    if spoken := _SPEAKING.get():
        return Choice(spoken, "speaking")
    chosen = os.environ.get("LABKIT_LANG", "").strip()
    if chosen:
        lang = _normalise(chosen)
        if lang not in LANGUAGES:
            # Refused rather than ignored: a learner who typed LABKIT_LANG=cn wants to know.
            raise LabkitError(
                f"LABKIT_LANG={lang!r} is not supported; use one of {LANGUAGES}, "
                'e.g. labkit.set_language("zh")'
            )
        return Choice(lang, "LABKIT_LANG", f"LABKIT_LANG={chosen}")
    folder = _cwd_name()
    if folder in LANGUAGES:
        return Choice(folder, "folder", f"{folder}/")
    for variable in LOCALE_VARIABLES:
        value = os.environ.get(variable, "").strip()
        if value:  # POSIX: the first one set decides, even if it names another language
            lang = _normalise(value)
            return Choice(lang if lang in LANGUAGES else DEFAULT, "locale", f"{variable}={value}")
    return Choice(DEFAULT, "default")


def _cwd_name() -> str:
    try:
        return Path.cwd().name
    except OSError:  # the working directory was deleted under us
        return ""


def language() -> str:
    """The language in force: ``"en"`` or ``"zh"`` (see the module's docstring for the order)."""
    return language_choice().language


def set_language(lang: str) -> str:
    """Switch the kit's language for this kernel (and the programs it starts); returns it.

    Every later message, quiz question and widget label uses it.
    """
    chosen = _normalise(lang)
    if chosen not in LANGUAGES:
        raise LabkitError(f"{lang!r} is not a language the kit speaks; use one of {LANGUAGES}")
    os.environ["LABKIT_LANG"] = chosen
    return chosen


@contextmanager
def speaking(lang: str | None) -> Iterator[str]:
    """Speak ``lang`` inside the block only (``None``: the language in force), e.g.

    >>> with speaking("zh"):          # doctest: +SKIP
    ...     sentence = conclusions.REGISTRY[key](**figures)
    """
    chosen = language() if lang is None else _normalise(lang)
    if chosen not in LANGUAGES:
        raise LabkitError(f"{lang!r} is not a language the kit speaks; use one of {LANGUAGES}")
    token = _SPEAKING.set(chosen)
    try:
        yield chosen
    finally:
        _SPEAKING.reset(token)
