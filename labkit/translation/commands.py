"""``labkit translate``: extract, build, check, stats (docs/translating.md), and lab-config.

These are a maintainer's commands and speak English only: their reader edits the English
sources. (``lab-config`` runs at each launch; it prints a path and nothing else.)
"""

from __future__ import annotations

import argparse
from pathlib import Path

from labkit.translation.sources import TARGETS, require_checkout


def _extract(args: argparse.Namespace) -> int:
    from labkit.translation.catalogs import extract

    require_checkout()
    for changes in extract(args.lang, [Path(p) for p in args.notebooks]):
        print(changes)
    print("next: translate the empty and fuzzy entries, then `labkit translate build`")
    return 0


def _build(args: argparse.Namespace) -> int:
    from labkit.translation.build import build

    require_checkout()
    for done in build(args.lang, strict=args.strict):
        print(f"wrote {done}")
    return 0


def _check(args: argparse.Namespace) -> int:
    from labkit.translation.checks import problems

    require_checkout()
    found = problems(args.lang)
    for problem in found:
        print(problem)
    if found:
        kinds = sorted({p.kind for p in found})
        print(f"{len(found)} problem(s): {', '.join(kinds)} (docs/translating.md says what to do)")
        return 1
    print(f"the {args.lang} translation is complete and in step with the English")
    return 0


def _stats(args: argparse.Namespace) -> int:
    from labkit.translation.checks import stats

    require_checkout()
    rows = [("file", "markdown cells", "sentences"), *stats(args.lang)]
    width = max(len(r[0]) for r in rows)
    for name, cells, said in rows:
        print(f"{name:<{width}}  {cells:>14}  {said:>9}")
    return 0


def _lab_config(args: argparse.Namespace) -> int:
    from labkit.translation.lab import prepare, start_notebook

    if args.start_notebook:
        print(start_notebook())
        return 0
    folder = prepare()
    if folder is not None:
        print(folder)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``labkit translate ...`` to the ``labkit`` parser."""
    translate = commands.add_parser(
        "translate", help="keep the Chinese course in step with the English (docs/translating.md)"
    )
    actions = translate.add_subparsers(dest="action", required=True)

    def add(name: str, help_text: str, run) -> argparse.ArgumentParser:
        parser = actions.add_parser(name, help=help_text)
        parser.add_argument("--lang", default=TARGETS[0], choices=TARGETS)
        parser.set_defaults(run=run)
        return parser

    extract = add(
        "extract",
        "refresh the catalogs from the English: new entries empty, changed ones fuzzy",
        _extract,
    )
    extract.add_argument(
        "notebooks", nargs="*", help="English notebooks to start translating (their catalogs)"
    )
    build = add("build", "write notebooks/<lang>/ from the English notebooks and catalogs", _build)
    build.add_argument(
        "--strict", action="store_true", help="refuse when a cell would stay in English"
    )
    add("check", "list missing, stale, placeholder and glossary problems; exit 1 if any", _check)
    add("stats", "translated markdown cells and sentences, per notebook and module", _stats)
    lab = actions.add_parser(
        "lab-config",
        help="write this launch's JupyterLab language settings; print the folder to put "
        "first in JUPYTER_CONFIG_PATH (nothing in English)",
    )
    lab.add_argument(
        "--start-notebook", action="store_true", help="print the notebook to open instead"
    )
    lab.set_defaults(run=_lab_config)
