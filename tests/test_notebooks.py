"""Every notebook runs top to bottom, headless, against the real database."""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def execute_notebook(path: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run ``path`` top to bottom in a fresh kernel; fail on any error output."""
    # Put this interpreter's kernel spec first, so the kernel imports this labkit.
    monkeypatch.setenv("JUPYTER_PATH", str(Path(sys.prefix) / "share" / "jupyter"))
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}
    )
    started = time.perf_counter()
    client.execute(env=dict(os.environ))
    print(f"{path.name}: {time.perf_counter() - started:.1f} s")
    errors = [
        output
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert errors == []
    return nb


def printed_text(nb: nbformat.NotebookNode) -> str:
    """Everything the notebook's code cells printed or displayed as text."""
    parts = []
    for cell in nb.cells:
        for output in cell.get("outputs", []) if cell.cell_type == "code" else []:
            parts.append(output.get("text", ""))
            parts.append(output.get("data", {}).get("text/plain", ""))
    return "\n".join(parts)


def check_conclusions(path: Path, nb: nbformat.NotebookNode, since: str) -> int:
    """Each conclusion the run recorded is what its figures say, and is what it printed."""
    from labkit.infra.results import load_results

    return len(check_recorded_conclusions(path.name, load_results(), printed_text(nb), since))


def check_recorded_conclusions(notebook: str, recorded: dict, text: str, since: str) -> list[str]:
    """The conclusions ``notebook``'s run recorded since ``since`` (a results.json's entries)
    are recomputed from their figures, in the language they were said in, and were printed.
    Returns their sentences."""
    from labkit.labs.conclusions import REGISTRY

    prefix = f"{notebook[:2]}.conclusion."
    sentences = []
    for key, entry in recorded.items():
        if not key.startswith(prefix) or entry["recorded_at"] < since:
            continue
        figures = {k: v for k, v in entry.items() if k not in ("sentence", "recorded_at")}
        assert REGISTRY[key](**figures) == entry["sentence"], key
        assert entry["sentence"] in text, f"{key} was recorded but not printed"
        sentences.append(entry["sentence"])
    return sentences


def assert_nothing_left_behind(database) -> None:
    """No worker process, no PgBouncer and no worker session outlives a notebook's kernel."""
    from labkit.labs.scale_out import leftovers

    assert leftovers(database.dsn) == {
        "worker processes": 0,
        "pgbouncer processes": 0,
        "worker sessions": 0,
    }


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_executes_without_error(path, database, monkeypatch):
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    nb = execute_notebook(path, monkeypatch)
    assert_nothing_left_behind(database)
    checked = check_conclusions(path, nb, since)
    if "conclusions." in path.read_text(encoding="utf-8"):
        assert checked > 0, "the notebook prints conclusions but none was recorded"
