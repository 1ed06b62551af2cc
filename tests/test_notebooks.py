"""Every notebook runs top to bottom, headless, against the real database."""

from __future__ import annotations

import os
import sys
import time
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
    execute_notebook(path, monkeypatch)
    assert_nothing_left_behind(database)
