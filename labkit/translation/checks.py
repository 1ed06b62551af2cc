"""What is wrong with a translation (``labkit translate check``) and how far it has got (``stats``).

Each :class:`Problem` names its catalog, its entry (a cell id or the English sentence), the
files it comes from, and one of these kinds:

- ``outdated``: the catalog or a built notebook is behind the English (run ``extract``/``build``);
- ``missing``: no translation yet;
- ``stale``: the English changed since it was translated (``fuzzy``, or a fingerprint that
  does not match); the old English is in the entry's ``#| msgid`` lines;
- ``placeholders``: a runtime sentence's ``{named}`` placeholders differ from its English;
- ``code``: a markdown translation lost or changed an inline `code` span of its English;
- ``glossary``: an English term of ``docs/glossary.md`` appears, but not its Chinese.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import polib

from labkit.translation.build import build
from labkit.translation.catalogs import recorded_hash, runtime_catalog, source_hash
from labkit.translation.sources import (
    NOTEBOOKS,
    ROOT,
    english_notebooks,
    markdown_cells,
    messages,
    notebook_catalog,
    relative,
)

GLOSSARY = ROOT / "docs" / "glossary.md"
_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.S)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_URL = re.compile(r"https?://\S+")
# Names that contain a glossary word but are names, kept in English (docs/glossary.md).
_NAMES = re.compile(r"\bPool Lab\b")


@dataclass(frozen=True)
class Problem:
    """One thing to fix in one catalog entry."""

    catalog: str
    entry: str
    kind: str
    detail: str
    sources: tuple[str, ...] = ()

    def __str__(self) -> str:
        head = self.entry.splitlines()[0] if self.entry else ""
        head = head if len(head) <= 60 else head[:57] + "..."
        return f"{self.catalog}: {self.kind}: {head!r}: {self.detail}"


@dataclass(frozen=True)
class Term:
    """A glossary row: English words (any of them) and the one Chinese word for them."""

    english: tuple[str, ...]
    chinese: str

    def pattern(self) -> re.Pattern[str]:
        words = "|".join(re.escape(w).replace(r"\ ", r"[\s-]+") for w in self.english)
        # A word touching code punctuation is code, not prose: pool._size, transaction(),
        # "timeout" as a config key, /pool-status.
        return re.compile(rf"(?<![\w./\"])(?:{words})(?:e?s)?(?![\w(/\"-]|\.\w|_)", re.I)


# ----------------------------------------------------------------------------- placeholders
def placeholders(text: str) -> Counter[str]:
    """The ``{name:spec}`` fields of a sentence, counted; ValueError if its braces are broken."""
    fields = Counter()
    for _literal, name, spec, conversion in string.Formatter().parse(text):
        if name is not None:
            fields[
                f"{{{name}{'!' + conversion if conversion else ''}{':' + spec if spec else ''}}}"
            ] += 1
    return fields


def code_spans(markdown: str) -> Counter[str]:
    """The inline code spans of a markdown text (`x`), counted."""
    return Counter(m.group(2).strip() for m in _CODE_SPAN.finditer(markdown))


# ----------------------------------------------------------------------------- glossary
def glossary(path: Path = GLOSSARY) -> list[Term]:
    """The rows of the glossary's term table that the check enforces.

    A row is ``| english, variants | 中文 | note |``; a Chinese cell of "—" means "kept in
    English" and is not enforced.
    """
    terms = []
    in_table = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_table = line.strip() == "## Terms"
            continue
        if not in_table or not line.startswith("|") or set(line) <= set("|-: "):
            continue
        english, chinese, *_ = (cell.strip() for cell in line.strip("|").split("|"))
        if english.lower() == "english" or chinese in ("", "—"):
            continue
        words = tuple(w.strip().strip("`") for w in english.split(",") if w.strip())
        terms.append(Term(words, chinese))
    return terms


def prose(text: str) -> str:
    """What a reader reads as words: without code spans, placeholders and URLs."""
    return _NAMES.sub(" ", _URL.sub(" ", _PLACEHOLDER.sub(" ", _CODE_SPAN.sub(" ", text))))


def glossary_gaps(english: str, chinese: str, terms: list[Term]) -> list[str]:
    """The glossary terms ``english`` uses whose Chinese word ``chinese`` lacks."""
    words = prose(english)
    return [
        f"{m.group(0)!r} is {t.chinese}"
        for t in terms
        if (m := t.pattern().search(words)) and t.chinese not in chinese
    ]


# ----------------------------------------------------------------------------- problems
def _entry_problems(
    entry: polib.POEntry, where: str, sources: tuple[str, ...], terms: list[Term], markdown: bool
) -> list[Problem]:
    name = entry.msgctxt or entry.msgid
    found = []

    def problem(kind: str, detail: str) -> None:
        found.append(Problem(where, name, kind, detail, sources))

    if not entry.msgstr:
        problem("missing", "no translation yet")
        return found
    if entry.fuzzy:
        problem("stale", "the English changed since it was translated (fuzzy)")
    elif recorded_hash(entry) not in (None, source_hash(entry.msgid)):
        problem("stale", "its fingerprint is not its English's: run `labkit translate extract`")
    if markdown:
        if lost := code_spans(entry.msgid) - code_spans(entry.msgstr):
            problem("code", "code spans missing or changed: " + ", ".join(f"`{c}`" for c in lost))
    else:
        try:
            english, chinese = placeholders(entry.msgid), placeholders(entry.msgstr)
        except ValueError as exc:
            problem("placeholders", f"broken braces: {exc}")
        else:
            if english != chinese:
                problem(
                    "placeholders",
                    f"English has {sorted(english.elements())}, translation "
                    f"{sorted(chinese.elements())}",
                )
    for gap in glossary_gaps(entry.msgid, entry.msgstr, terms):
        problem("glossary", gap)
    return found


def message_problems(lang: str, terms: list[Term]) -> list[Problem]:
    """The runtime catalog against the sentences the code says."""
    path = runtime_catalog(lang)
    where = relative(path)
    found = messages()
    if not path.exists():
        return [Problem(where, "", "outdated", "no catalog: run `labkit translate extract`")]
    catalog = [e for e in polib.pofile(str(path)) if not e.obsolete]
    problems = []
    listed = {e.msgid for e in catalog}
    for msgid in sorted(set(found) - listed):
        problems.append(
            Problem(
                where,
                msgid,
                "outdated",
                "not in the catalog: run `labkit translate extract`",
                tuple(found[msgid]),
            )
        )
    for entry in catalog:
        sources = tuple(found.get(entry.msgid, ()))
        if not sources:
            problems.append(
                Problem(where, entry.msgid, "outdated", "no code says it any more: run extract")
            )
            continue
        problems += _entry_problems(entry, where, sources, terms, markdown=False)
    return problems


def notebook_problems(notebook: Path, lang: str, terms: list[Term]) -> list[Problem]:
    """One notebook's catalog against its markdown cells."""
    path = notebook_catalog(notebook, lang)
    where, source = relative(path), (relative(notebook),)
    if not path.exists():
        return [
            Problem(
                where,
                "",
                "outdated",
                f"no catalog: run `labkit translate extract {relative(notebook)}`",
                source,
            )
        ]
    cells = {c.id: c.source for c in markdown_cells(notebook)}
    catalog = [e for e in polib.pofile(str(path)) if not e.obsolete]
    problems = []
    listed = {e.msgctxt: e for e in catalog}
    for cell_id in cells.keys() - listed.keys():
        problems.append(Problem(where, cell_id, "outdated", "new cell: run extract", source))
    for entry in catalog:
        if entry.msgctxt not in cells:
            problems.append(
                Problem(where, entry.msgctxt, "outdated", "cell gone: run extract", source)
            )
        elif entry.msgid != cells[entry.msgctxt]:
            problems.append(
                Problem(
                    where, entry.msgctxt, "outdated", "English cell changed: run extract", source
                )
            )
        else:
            problems += _entry_problems(entry, where, source, terms, markdown=True)
    return problems


def built_problems(lang: str) -> list[Problem]:
    """Built notebooks that differ from what ``build`` writes now."""
    problems = []
    expected = build(lang, write=False)
    for done in expected:
        if not done.path.exists() or done.path.read_text(encoding="utf-8") != done.text:
            problems.append(
                Problem(
                    relative(done.path),
                    "",
                    "outdated",
                    "not what build writes: run `labkit translate build`",
                    (relative(done.path),),
                )
            )
    wanted = {relative(d.path) for d in expected}
    for extra in sorted((NOTEBOOKS / lang).glob("*.ipynb")):
        if relative(extra) not in wanted:
            problems.append(Problem(relative(extra), "", "outdated", "no catalog: run build"))
    return problems


def translated_notebooks(lang: str) -> list[Path]:
    """The English notebooks whose translation has begun (they have a catalog)."""
    return [p for p in english_notebooks() if notebook_catalog(p, lang).exists()]


def problems(lang: str) -> list[Problem]:
    """Everything ``labkit translate check`` reports for ``lang``."""
    terms = glossary()
    found = message_problems(lang, terms)
    for notebook in translated_notebooks(lang):
        found += notebook_problems(notebook, lang, terms)
    return found + built_problems(lang)


# ----------------------------------------------------------------------------- stats
def stats(lang: str) -> list[tuple[str, str, str]]:
    """(file, translated markdown cells, translated sentences) for each notebook and module."""
    path = runtime_catalog(lang)
    done = (
        {e.msgid for e in polib.pofile(str(path)) if e.msgstr and not e.fuzzy and not e.obsolete}
        if path.exists()
        else set()
    )
    by_file: dict[str, list[str]] = {}
    for msgid, files in messages().items():
        for name in files:
            by_file.setdefault(name, []).append(msgid)
    rows = []
    for notebook in english_notebooks():
        name = relative(notebook)
        cells = markdown_cells(notebook)
        catalog = notebook_catalog(notebook, lang)
        if catalog.exists():
            ok = {
                (e.msgctxt, e.msgid)
                for e in polib.pofile(str(catalog))
                if e.msgstr and not e.fuzzy and not e.obsolete
            }
            cell_count = f"{len([c for c in cells if (c.id, c.source) in ok])}/{len(cells)}"
        else:
            cell_count = f"-/{len(cells)}"
        said = by_file.pop(name, [])
        rows.append((name, cell_count, f"{len([m for m in said if m in done])}/{len(said)}"))
    for name in sorted(by_file):
        said = by_file[name]
        rows.append((name, "", f"{len([m for m in said if m in done])}/{len(said)}"))
    return rows
