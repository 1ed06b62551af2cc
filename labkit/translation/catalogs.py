"""The .po catalogs, refreshed from the English sources (``labkit translate extract``).

Two kinds, both GNU gettext .po files that any PO editor (Poedit, Lokalize, a text editor)
opens:

- ``notebooks/locale/<lang>/<notebook>.po``: one entry per markdown cell; ``msgctxt`` is the
  cell id, ``msgid`` its English source, ``msgstr`` the translation, and an extracted comment
  (``#. source sha256:…``) fingerprints the English the entry was last extracted from;
- ``labkit/locale/<lang>.po``: one entry per sentence said at run time, ``msgid`` the English
  sentence, with the files that say it as references (``#: labkit/environment.py``; no line
  numbers, so that editing a module does not touch the catalog).

Refreshing follows gettext's msgmerge: a new source gets an empty entry; a changed one keeps
its old translation, marked ``fuzzy`` (stale) with the previous English (``#| msgid``) so the
translator sees what changed; a gone one becomes obsolete (``#~``) when it was translated,
so a cell recreated with the same text gets its translation back.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import polib

from labkit.translation.sources import (
    Cell,
    TranslationError,
    english_notebooks,
    markdown_cells,
    messages,
    notebook_catalog,
    relative,
)

LANGUAGE_NAMES = {"zh": "zh_CN"}
HASH_PREFIX = "source sha256:"
# A changed sentence is matched to its old entry when they are at least this alike
# (difflib's ratio), as msgmerge's fuzzy matching does; below it, it is simply new.
SIMILAR = 0.75


@dataclass
class Changes:
    """What one refresh did to one catalog."""

    path: Path
    added: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    revived: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        parts = [
            f"{len(items)} {label}"
            for label, items in (
                ("new", self.added),
                ("now stale", self.stale),
                ("gone", self.removed),
                ("revived", self.revived),
            )
            if items
        ]
        return f"{relative(self.path)}: " + (", ".join(parts) if parts else "up to date")


def source_hash(text: str) -> str:
    """The fingerprint of an English source, as written in the entry's extracted comment."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def recorded_hash(entry: polib.POEntry) -> str | None:
    for line in entry.comment.splitlines():
        if line.startswith(HASH_PREFIX):
            return line[len(HASH_PREFIX) :].strip()
    return None


def runtime_catalog(lang: str) -> Path:
    from labkit.messages import catalog_path

    return catalog_path(lang)


def load(path: Path, lang: str, title: str) -> polib.POFile:
    """The catalog at ``path``, or a new empty one with the kit's header."""
    catalog = polib.pofile(str(path), wrapwidth=0) if path.exists() else polib.POFile(wrapwidth=0)
    # No dates or tool versions in the header: a refresh that changes nothing writes the
    # same bytes, so the catalog is a clean diff and the up-to-date test is exact.
    catalog.header = f"{title}\nSee docs/translating.md: edit msgstr only; extract does the rest."
    catalog.metadata = {
        "Project-Id-Version": "Pool Lab",
        "Language": LANGUAGE_NAMES.get(lang, lang),
        "MIME-Version": "1.0",
        "Content-Type": "text/plain; charset=UTF-8",
        "Content-Transfer-Encoding": "8bit",
    }
    catalog.wrapwidth = 0  # one source line per .po line: reviewable diffs
    return catalog


def save(catalog: polib.POFile, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = str(catalog)
    if not path.exists() or path.read_text(encoding="utf-8") != text + "\n":
        path.write_text(text + "\n", encoding="utf-8")


def _mark_stale(entry: polib.POEntry, new_msgid: str) -> None:
    """A changed English source: keep the translation, mark it fuzzy, remember the old English.

    If the entry was already stale, the earliest previous English is kept: that is the one
    the translation was made from.
    """
    if entry.msgstr and not entry.fuzzy:
        entry.previous_msgid = entry.msgid
        entry.flags.append("fuzzy")
    entry.msgid = new_msgid


def _finish(entry: polib.POEntry, where: Iterable[str]) -> None:
    entry.occurrences = [(path, "") for path in where]
    entry.comment = f"{HASH_PREFIX} {source_hash(entry.msgid)}"
    if not entry.fuzzy:  # resolved by the translator: the old English is of no more use
        entry.previous_msgid = None


def refresh_notebook(notebook: Path, cells: list[Cell], lang: str) -> Changes:
    """Bring a notebook's catalog in step with its markdown cells, one entry per cell id."""
    path = notebook_catalog(notebook, lang)
    catalog = load(path, lang, f"Markdown cells of {notebook.name}, in {lang}.")
    changes = Changes(path)
    current = {e.msgctxt: e for e in catalog if not e.obsolete}
    retired = {e.msgid: e for e in catalog if e.obsolete and e.msgstr}
    ids = {cell.id for cell in cells}
    # Cells gone in this refresh, by their English: a cell recreated with the same text
    # (a new id, e.g. after cut and paste) takes its translation back.
    leaving = {e.msgid: e for ctx, e in current.items() if ctx not in ids and e.msgstr}
    entries = []
    for cell in cells:
        entry = current.pop(cell.id, None)
        if entry is None:
            entry = polib.POEntry(msgctxt=cell.id, msgid=cell.source, msgstr="")
            old = leaving.pop(cell.source, None) or retired.pop(cell.source, None)
            if old is not None:
                current.pop(old.msgctxt, None)  # moved, not gone
                entry.msgstr = old.msgstr
                changes.revived.append(cell.id)
            else:
                changes.added.append(cell.id)
        elif entry.msgid != cell.source:
            _mark_stale(entry, cell.source)
            (changes.stale if entry.msgstr else changes.added).append(cell.id)
        _finish(entry, [relative(notebook)])
        entries.append(entry)
    entries += _retire(current.values(), retired.values(), changes)
    _replace(catalog, entries)
    save(catalog, path)
    return changes


def refresh_messages(found: dict[str, list[str]], lang: str) -> Changes:
    """Bring the runtime catalog in step with the sentences found in code, one entry each."""
    path = runtime_catalog(lang)
    catalog = load(path, lang, f"Sentences labkit and the notebooks' code cells say, in {lang}.")
    changes = Changes(path)
    current = {e.msgid: e for e in catalog if not e.obsolete}
    retired = {e.msgid: e for e in catalog if e.obsolete and e.msgstr}
    # Entries whose English no longer occurs: candidates for a sentence that was reworded.
    unmatched = {msgid: e for msgid, e in current.items() if msgid not in found}
    entries = []
    for msgid in sorted(found, key=lambda m: (found[m], m)):
        entry = current.get(msgid)
        if entry is None and (old := retired.pop(msgid, None)) is not None:
            entry = polib.POEntry(msgid=msgid, msgstr=old.msgstr)
            changes.revived.append(msgid)
        elif entry is None:
            close = difflib.get_close_matches(msgid, list(unmatched), n=1, cutoff=SIMILAR)
            if close and unmatched[close[0]].msgstr:
                entry = unmatched.pop(close[0])
                _mark_stale(entry, msgid)
                changes.stale.append(msgid)
            else:
                entry = polib.POEntry(msgid=msgid, msgstr="")
                changes.added.append(msgid)
        _finish(entry, found[msgid])
        entries.append(entry)
    entries += _retire(unmatched.values(), retired.values(), changes)
    _replace(catalog, entries)
    save(catalog, path)
    return changes


def _retire(
    gone: Iterable[polib.POEntry], retired: Iterable[polib.POEntry], changes: Changes
) -> list[polib.POEntry]:
    """Gone entries: translated ones become obsolete (#~), empty ones are dropped."""
    kept = []
    for entry in gone:
        changes.removed.append(entry.msgctxt or entry.msgid)
        if entry.msgstr:
            entry.obsolete = True
            entry.flags = [f for f in entry.flags if f != "fuzzy"]
            entry.previous_msgid = None
            entry.occurrences = []
            kept.append(entry)
    return [*kept, *retired]


def _replace(catalog: polib.POFile, entries: list[polib.POEntry]) -> None:
    del catalog[:]
    catalog.extend(entries)


def extract(lang: str, notebooks: Iterable[Path] = ()) -> list[Changes]:
    """Refresh every catalog of ``lang``: the runtime one, and each notebook's.

    A notebook gets a catalog when it is named here (starting its translation) or when it
    already has one; the others are left alone until someone starts them.
    """
    wanted = {p.resolve() for p in notebooks}
    done = [refresh_messages(messages(), lang)]
    for notebook in english_notebooks():
        if notebook.resolve() in wanted or notebook_catalog(notebook, lang).exists():
            done.append(refresh_notebook(notebook, markdown_cells(notebook), lang))
            wanted.discard(notebook.resolve())
    if wanted:
        names = ", ".join(sorted(str(p) for p in wanted))
        raise TranslationError(f"not an English notebook in notebooks/: {names}")
    return done
