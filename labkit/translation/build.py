"""``notebooks/<lang>/*.ipynb``, built from the English notebooks and their catalogs.

A built notebook has the English notebook's cells, in the same order with the same ids:
markdown cells translated, code cells verbatim (their ``say()`` sentences are translated
when they run, because a kernel started in ``notebooks/zh/`` speaks Chinese), and no
outputs. Built notebooks are committed, like a lockfile, and a test checks that they are
exactly what this module writes: never edit one by hand.

A markdown cell whose translation is missing or stale (fuzzy) is left in English, as
gettext does, and reported; ``--strict`` refuses to write anything then.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path

import polib

from labkit.translation.sources import (
    NOTEBOOKS,
    TranslationError,
    built_notebook,
    cell_source,
    english_notebooks,
    read_notebook,
    relative,
)

# A relative link or image in markdown, e.g. ](../docs/x.md) or ](figure.png): one folder
# deeper, the built notebook must reach one folder further up.
_RELATIVE_LINK = re.compile(r"\]\((?!https?:|mailto:|#|/)([^)\s]+)\)")


@dataclass
class Built:
    """One notebook written (or that would be): its path and the cells left in English."""

    path: Path
    text: str
    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        gaps = [
            f"{len(c)} {label}"
            for label, c in (("missing", self.missing), ("stale", self.stale))
            if c
        ]
        note = f" (left in English: {', '.join(gaps)})" if gaps else ""
        return f"{relative(self.path)}{note}"


def _one_level_deeper(markdown: str) -> str:
    return _RELATIVE_LINK.sub(lambda m: f"](../{m.group(1)})", markdown)


def _as_lines(text: str) -> list[str]:
    """A cell source the way Jupyter saves it: a list of lines, each but the last with its \\n."""
    return text.splitlines(keepends=True)


def render(notebook: Path, catalog: Path, lang: str) -> Built:
    """The translated notebook as text, and which cells it left in English."""
    import nbformat

    translations = {
        e.msgctxt: e for e in polib.pofile(str(catalog)) if not e.obsolete and e.msgctxt
    }
    source = read_notebook(notebook)
    target = built_notebook(notebook, lang)
    built = Built(target, "")
    cells = []
    for cell in source["cells"]:
        cell = copy.deepcopy(cell)
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        elif cell["cell_type"] == "markdown" and cell_source(cell).strip():
            entry = translations.get(cell.get("id"))
            english = cell_source(cell)
            if entry is None or not entry.msgstr:
                built.missing.append(cell.get("id", "?"))
                text = english
            elif entry.fuzzy or entry.msgid != english:
                built.stale.append(cell["id"])
                text = english
            else:
                text = entry.msgstr
            cell["source"] = _as_lines(_one_level_deeper(text))
        cells.append(cell)
    nb = copy.deepcopy(source)
    nb["cells"] = cells
    nb["metadata"]["labkit_translation"] = {
        "language": lang,
        "source": relative(notebook),
        "catalog": relative(catalog),
        "note": "written by `labkit translate build`: edit the English notebook and the "
        "catalog, never this file (docs/translating.md)",
    }
    node = nbformat.from_dict(nb)
    built.text = nbformat.writes(node, version=4) + "\n"
    return built


def build(lang: str, *, strict: bool = False, write: bool = True) -> list[Built]:
    """Build every notebook that has a catalog; remove built notebooks whose catalog is gone.

    ``write=False`` only computes what would be written (the up-to-date test uses it).
    """
    catalogs = sorted((NOTEBOOKS / "locale" / lang).glob("*.po"))
    sources = {p.stem: p for p in english_notebooks()}
    orphans = [c for c in catalogs if c.stem not in sources]
    if orphans:
        names = ", ".join(relative(c) for c in orphans)
        raise TranslationError(
            f"{names}: no English notebook of that name; if it was renamed, `git mv` its "
            "catalog to the new name too, then run `labkit translate extract`"
        )
    results = [render(sources[c.stem], c, lang) for c in catalogs]
    if strict and (gaps := [str(b) for b in results if b.missing or b.stale]):
        raise TranslationError(
            "not building, some cells would stay in English:\n  " + "\n  ".join(gaps)
        )
    if write:
        folder = NOTEBOOKS / lang
        folder.mkdir(exist_ok=True)
        for done in results:
            if not done.path.exists() or done.path.read_text(encoding="utf-8") != done.text:
                done.path.write_text(done.text, encoding="utf-8")
        wanted = {b.path for b in results}
        for stale in folder.glob("*.ipynb"):
            if stale not in wanted:
                stale.unlink()
    return results
