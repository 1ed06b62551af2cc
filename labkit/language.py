"""The language the kit speaks: English (``en``, the default) or Chinese (``zh``).

Chosen by ``LABKIT_LANG`` (``zh``, ``zh_CN.UTF-8`` and ``zh-CN`` all mean Chinese), and
switchable inside a running kernel:

>>> labkit.set_language("zh")     # doctest: +SKIP
>>> quiz.show_quiz("00")          # the questions, now in Chinese   # doctest: +SKIP
"""

from __future__ import annotations

import os

from labkit.errors import LabkitError

LANGUAGES = ("en", "zh")


def _normalise(value: str) -> str:
    return value.lower().split(".")[0].split("_")[0].split("-")[0]


def language() -> str:
    """The language in force, from LABKIT_LANG."""
    lang = _normalise(os.environ.get("LABKIT_LANG", "en") or "en")
    if lang not in LANGUAGES:
        raise LabkitError(
            f"LABKIT_LANG={lang!r} is not supported; use one of {LANGUAGES}, "
            'e.g. labkit.set_language("zh")'
        )
    return lang


def set_language(lang: str) -> str:
    """Switch the kit's language for this kernel (and the programs it starts); returns it."""
    chosen = _normalise(lang)
    if chosen not in LANGUAGES:
        raise LabkitError(f"{lang!r} is not a language the kit speaks; use one of {LANGUAGES}")
    os.environ["LABKIT_LANG"] = chosen
    return chosen
