"""Notebook 07 without a pgbouncer binary: it says how to get one and skips those cells.

With the binary, tests/test_notebooks.py runs it like every notebook (and checks that
no worker, no PgBouncer and no session is left behind).
"""

from __future__ import annotations

from pathlib import Path

from test_notebooks import assert_nothing_left_behind, execute_notebook

from labkit.infra.pgbouncer import HOW_TO_GET_PGBOUNCER

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "07_scaling_out.ipynb"


def printed(nb) -> str:
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )


def test_without_pgbouncer_the_notebook_says_how_to_get_it_and_skips_cleanly(database, monkeypatch):
    monkeypatch.setenv("LABKIT_PGBOUNCER", "off")
    text = printed(execute_notebook(NOTEBOOK, monkeypatch))
    assert HOW_TO_GET_PGBOUNCER.splitlines()[0] in text
    assert "apt-get install pgbouncer" in text
    # The sections that need no PgBouncer still ran: the worker ladder, the direct run,
    # and the cost of statement_cache_size=0.
    assert "sorry, too many clients already" in text
    assert "direct, 4 × " in text
    assert "µs per query with the cache" in text
    assert "PgBouncer, 4 × 10" not in text and "session mode" not in text
    assert_nothing_left_behind(database)
