"""What there is to translate, read from the English sources.

- every markdown cell of an English notebook (``notebooks/*.ipynb``), by cell id;
- every sentence passed as a literal to ``_()``, ``N_()`` or ``say()`` in labkit's modules
  and in the notebooks' code cells, found by reading their syntax tree (never by running them).

Code cells themselves are not translated: the Chinese notebook carries them verbatim, and
their ``say()`` sentences are looked up at run time in ``labkit/locale/<lang>.po``.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from labkit.errors import LabkitError

PACKAGE = Path(__file__).resolve().parent.parent
ROOT = PACKAGE.parent
NOTEBOOKS = ROOT / "notebooks"
# Languages the course is translated into (English is the source).
TARGETS = ("zh",)
# The calls whose first argument is a sentence to translate.
MARKERS = frozenset({"_", "N_", "say"})


class TranslationError(LabkitError):
    """A source the tools cannot read, or a sentence they cannot extract (the message says why)."""


@dataclass(frozen=True)
class Cell:
    """A markdown cell to translate: its id (the entry's msgctxt) and its English source."""

    id: str
    source: str


def require_checkout() -> None:
    """The tools work on a checkout, which has the English notebooks beside the package."""
    if not NOTEBOOKS.is_dir():
        raise TranslationError(
            f"no notebooks/ beside {PACKAGE}: run `labkit translate` in a clone of the "
            "repository (with an editable install, `pip install -e .`)"
        )


def english_notebooks() -> list[Path]:
    """The English notebooks, the source of every translation."""
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def notebook_catalog(notebook: Path | str, lang: str) -> Path:
    """The markdown catalog of a notebook: ``notebooks/locale/<lang>/<name>.po``."""
    return NOTEBOOKS / "locale" / lang / f"{Path(notebook).stem}.po"


def built_notebook(notebook: Path | str, lang: str) -> Path:
    """Where ``labkit translate build`` writes a notebook's translation: ``notebooks/<lang>/``."""
    return NOTEBOOKS / lang / f"{Path(notebook).stem}.ipynb"


def relative(path: Path) -> str:
    """``path`` as the catalogs and messages name it: relative to the repository, with /."""
    try:
        return path.resolve().relative_to(ROOT).as_posix()
    except ValueError:  # outside the repository (a test's scratch catalog): say it in full
        return path.as_posix()


def read_notebook(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def cell_source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def markdown_cells(path: Path) -> list[Cell]:
    """The notebook's markdown cells with something in them, in order."""
    cells = []
    for index, cell in enumerate(read_notebook(path)["cells"]):
        if cell["cell_type"] != "markdown" or not cell_source(cell).strip():
            continue
        if not cell.get("id"):  # nbformat 4.5 ids are what keeps a translation on its cell
            raise TranslationError(
                f"{relative(path)}: markdown cell {index} has no id; open and save the "
                "notebook in JupyterLab (nbformat 4.5) to give every cell one"
            )
        cells.append(Cell(cell["id"], cell_source(cell)))
    return cells


def code_cells(path: Path) -> list[str]:
    """The notebook's code cells, without IPython's magic and shell lines (not Python)."""
    return [
        "\n".join(
            line
            for line in cell_source(cell).splitlines()
            if not line.lstrip().startswith(("%", "!"))
        )
        for cell in read_notebook(path)["cells"]
        if cell["cell_type"] == "code"
    ]


def sentences_in(code: str, where: str) -> list[str]:
    """The literal first arguments of ``_()``, ``N_()`` and ``say()`` (also ``labkit.say()``).

    An f-string there is refused: its English would change with its values, so no
    catalog entry could ever match it. Pass the values as named placeholders instead.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise TranslationError(f"{where}: cannot parse ({exc.msg}, line {exc.lineno})") from None
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in MARKERS:
            continue
        first = node.args[0]
        if isinstance(first, ast.JoinedStr):
            raise TranslationError(
                f"{where}, line {node.lineno}: {name}() is given an f-string; write "
                f'{name}("... {{name}} ...", name=value) so the English is a fixed key'
            )
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            found.append(first.value)
    return found


def python_modules() -> list[Path]:
    """labkit's own modules, whose ``_()``/``say()`` sentences go into the runtime catalog."""
    return sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def messages() -> dict[str, list[str]]:
    """Every sentence to translate at run time -> the files that say it (sorted)."""
    found: dict[str, set[str]] = {}
    for path in python_modules():
        where = relative(path)
        for text in sentences_in(path.read_text(encoding="utf-8"), where):
            found.setdefault(text, set()).add(where)
    for path in english_notebooks():
        where = relative(path)
        for index, code in enumerate(code_cells(path)):
            for text in sentences_in(code, f"{where} code cell {index}"):
                found.setdefault(text, set()).add(where)
    return {text: sorted(files) for text, files in found.items()}
