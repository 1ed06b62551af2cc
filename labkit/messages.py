"""The sentences the kit says, in the learner's language: ``_()`` and ``say()``.

The English sentence is the key (the gettext ``msgid``), so code stays readable in English;
its Chinese is looked up, at the moment it is said, in ``labkit/locale/zh.po``. A notebook
cell prints with ``say`` instead of an f-string, so the same cell speaks either language:

>>> say("You guessed {guess}; the pool holds {size} connection(s).", guess=2, size=2)
You guessed 2; the pool holds 2 connection(s).
>>> _("ready")                                      # the translation, or the English
'ready'

Placeholders are named (``{size}``, ``{took:.3f}``) so that a translation may put them in
another order; ``labkit translate check`` fails when a translation's placeholders differ
from its English. A sentence with no translation yet, or whose translation is stale (fuzzy,
as gettext calls it), is said in English. ``N_("...")`` marks a sentence for extraction
where it is defined (a dict of labels) and leaves it English; translate it where it is
shown, with ``_(label)``.

The catalog is read on first use and again whenever the file changes, so there is no
compile step to forget: edit the .po file and the next message uses it.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path
from typing import Any

from labkit.language import DEFAULT, language

__all__ = ["N_", "_", "catalog_path", "display_width", "say"]

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def catalog_path(lang: str) -> Path:
    """The runtime catalog of ``lang``: ``labkit/locale/<lang>.po``."""
    return LOCALE_DIR / f"{lang}.po"


def _(text: str) -> str:
    """``text`` in the language in force; the English itself when there is no translation."""
    lang = language()
    if lang == DEFAULT:
        return text
    return _translations(lang).get(text) or text


def N_(text: str) -> str:
    """Mark ``text`` for extraction without translating it here; call ``_()`` where it is shown."""
    return text


def say(text: str, **values: Any) -> None:
    """Print ``text`` translated, with ``values`` filled into its ``{named}`` placeholders.

    >>> say("ready in {took:.3f} s", took=0.0123)
    ready in 0.012 s
    """
    print(_(text).format(**values))


def display_width(text: str) -> int:
    """The terminal columns ``text`` takes: two per Chinese character, so columns line up.

    >>> display_width("连接池"), display_width("pool")
    (6, 4)
    """
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _translations(lang: str) -> dict[str, str]:
    path = catalog_path(lang)
    try:
        stamp = path.stat().st_mtime_ns
    except FileNotFoundError:
        return {}
    return _read_catalog(path, stamp)


@lru_cache(maxsize=4)
def _read_catalog(path: Path, _stamp: int) -> dict[str, str]:
    """msgid -> msgstr for the entries that are translated and not fuzzy (stale).

    Keyed on the file's mtime as well, so an edited catalog is read again: a maintainer
    sees a fixed translation in a running kernel without restarting it.
    """
    import polib  # only when a message is translated: `import labkit` stays instant

    return {
        entry.msgid: entry.msgstr
        for entry in polib.pofile(str(path))
        if entry.msgstr and not entry.fuzzy and not entry.obsolete
    }
