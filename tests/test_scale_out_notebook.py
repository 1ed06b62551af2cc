"""Notebooks 09 and 10 without a pgbouncer binary: they say how to get one and skip those cells.

With the binary, tests/test_notebooks.py runs them like every notebook (and checks that
no worker, no PgBouncer and no session is left behind).
"""

from __future__ import annotations

from pathlib import Path

from test_notebooks import assert_nothing_left_behind, execute_notebook

from labkit.infra.pgbouncer import HOW_TO_GET_PGBOUNCER

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def printed(nb) -> str:
    return "".join(
        output.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream"
    )


def run_without_pgbouncer(name: str, monkeypatch) -> str:
    monkeypatch.setenv("LABKIT_PGBOUNCER", "off")
    text = printed(execute_notebook(NOTEBOOKS / name, monkeypatch))
    assert HOW_TO_GET_PGBOUNCER.splitlines()[0] in text
    assert "apt-get install pgbouncer" in text
    return text


def test_without_pgbouncer_the_workers_notebook_says_how_to_get_it_and_skips_cleanly(
    database, monkeypatch
):
    text = run_without_pgbouncer("09_scaling_out.ipynb", monkeypatch)
    # The section that needs no PgBouncer still ran: the worker ladder.
    assert "sorry, too many clients already" in text
    assert "session mode" not in text
    assert_nothing_left_behind(database)


def test_without_pgbouncer_the_load_notebook_says_how_to_get_it_and_skips_cleanly(
    database, monkeypatch
):
    text = run_without_pgbouncer("10_pgbouncer_under_load.ipynb", monkeypatch)
    # The sections that need no PgBouncer still ran: the direct run, and the cost of
    # statement_cache_size=0.
    assert "direct, 4 × " in text
    assert "µs per query with the cache" in text
    assert "PgBouncer, 4 × 10" not in text
    assert_nothing_left_behind(database)
