"""Class mode end to end on nbgrader, with notebook 00 and three learners.

The instructor's key is drawn at random for this run (``rekeyed``). The test
generates the assignment with labkit, releases it with nbgrader, lets three learners
run it (all right; partly right; right but for the measured question, whose saved
record is then forged), autogrades with live re-execution (each submission in a
fresh lab of its own), exports, and checks that ``labkit grade --key --execute``
gives the same marks, question by question.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import psutil
import pytest
from nbclient import NotebookClient
from nbgrader.api import Gradebook

from labkit.cli import main
from labkit.grading import records
from labkit.grading.cell_source import with_answers

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
ASSIGNMENT = NOTEBOOK.stem
LIMIT_S = 120  # per cell, for nbgrader's autograde and labkit's re-runs alike


def tool_env() -> dict[str, str]:
    """nbgrader runs `alembic` and starts kernels: both must come from this environment."""
    return {
        **os.environ,
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
    }


def nbgrader(course: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "nbgrader", *args],
        cwd=course,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    return result.stdout + result.stderr


def learner_run(folder: Path, release: Path, answers: dict) -> nbformat.NotebookNode:
    """A learner fills in my_answers, runs the whole notebook in their lab, and saves it."""
    shutil.copytree(release, folder, dirs_exist_ok=True)
    path = folder / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "quiz.submit(my_answers)" in cell.source:
            cell.source = with_answers(cell.source, answers)
    NotebookClient(
        nb, timeout=LIMIT_S, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    ).execute(env=tool_env())
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in errors if o.output_type == "error"]
    nbformat.write(nb, path)
    return nb


def saved_records(nb: nbformat.NotebookNode) -> list[dict]:
    return [
        rec
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        for rec in out.get("data", {}).get(records.RECORD_MIME, [])
    ]


def forge_measured(path: Path, qid: str) -> None:
    """The attack: make the measured record's answer equal its figure, recompute the check."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for rec in out.get("data", {}).get(records.RECORD_MIME, []):
                if rec["question"] == qid:
                    rec["response"] = rec["expected"]
                    rec["attempts"] = [dict(a, response=rec["expected"]) for a in rec["attempts"]]
                    rec["check"] = records.record_check(rec)
    nbformat.write(nb, path)


def rerun_leftovers() -> list[str]:
    """Re-run labs still on disk or still running (there must be none)."""
    folders = [p.name for p in Path(tempfile.gettempdir()).glob("labkit-rerun-*")]
    servers = [
        p.info["pid"]
        for p in psutil.process_iter(["pid", "cmdline"])
        if any("labkit-rerun-" in part for part in (p.info["cmdline"] or []))
    ]
    return folders + [f"pid {pid}" for pid in servers]


@pytest.mark.timeout(1200)
def test_nbgrader_autograde_and_labkit_grade_agree_for_three_learners(
    rekeyed, database, tmp_path, capsys
):
    before = set(rerun_leftovers())
    course = tmp_path / "course"
    key_path = rekeyed.key_path
    qids = rekeyed.questions("00")
    measured = rekeyed.questions("00", "measured")
    assert measured, "notebook 00 needs a measured question for this test"
    [mq] = measured

    # 1. the instructor generates the assignment from the key, and nbgrader releases it
    args = ["nbgrader", "generate", str(NOTEBOOK), "--key", str(key_path)]
    assert main([*args, "--course", str(course), "--timeout", str(LIMIT_S)]) == 0
    nbgrader(course, "generate_assignment", ASSIGNMENT, "--force")
    release = course / "release" / ASSIGNMENT
    released_text = "".join(p.read_text(errors="replace") for p in release.rglob("*.*"))
    assert "HIDDEN TESTS" not in released_text and "check_answer" not in released_text
    for qid, spec in rekeyed.answers.items():
        assert json.dumps(spec, ensure_ascii=False) not in released_text, qid

    # 2. three learners; the first run also shows what a learner's run measures
    right = {qid: rekeyed.right(qid) for qid in qids if qid != mq}
    probe = learner_run(tmp_path / "probe", release, {mq: 0})
    figure = next(r["expected"] for r in saved_records(probe) if r["question"] == mq)
    assert figure is not None
    multiple = rekeyed.questions("00", "multiple")[0]
    partly = dict(right)
    partly[rekeyed.questions("00", "single")[0]] = rekeyed.wrong(
        rekeyed.questions("00", "single")[0]
    )
    partly[multiple] = f"{rekeyed.right(multiple)},{rekeyed.wrong(multiple)}"
    learners = {
        "ada": {**right, mq: figure},
        "bo": {**partly, mq: figure},
        "cy": {**right, mq: figure + 1},  # then forges the saved record
    }
    for name, answers in learners.items():
        learner_run(course / "submitted" / name / ASSIGNMENT, release, answers)
    forge_measured(course / "submitted" / "cy" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", mq)

    # 3. nbgrader autogrades (each submission re-run in a fresh lab) and exports
    started = time.perf_counter()
    nbgrader(course, "autograde", ASSIGNMENT, "--create", "--force")
    autograde_s = time.perf_counter() - started
    nbgrader(course, "export", "--to", str(tmp_path / "nbgrader.csv"))
    with (tmp_path / "nbgrader.csv").open() as handle:
        exported = {row["student_id"]: row for row in csv.DictReader(handle)}
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        nbgrader_points = {
            name: {qid: gb.find_grade(qid, ASSIGNMENT, ASSIGNMENT, name).score for qid in qids}
            for name in learners
        }

    # 4. labkit grade --key --execute on the same submissions
    started = time.perf_counter()
    out = tmp_path / "labkit.json"
    args = ["grade", str(course / "submitted"), "--key", str(key_path), "--execute"]
    args += ["--timeout", str(LIMIT_S), "--out", str(tmp_path / "labkit.csv"), "--json", str(out)]
    assert main([*args, "--summary", str(tmp_path / "summary.csv")]) == 0
    labkit_s = time.perf_counter() - started
    rows = {row["student_id"]: row for row in json.loads(out.read_text())}

    for name in learners:
        assert rows[name]["error"] is None, rows[name]
        assert rows[name]["points"] == pytest.approx(nbgrader_points[name]), name
        assert float(exported[name]["raw_score"]) == pytest.approx(rows[name]["raw_score"])
        assert float(exported[name]["max_score"]) == rows[name]["max_score"]
    top = rows["ada"]["max_score"]
    assert rows["ada"]["raw_score"] == top  # all right, the measured answer verified
    assert 0 < rows["bo"]["raw_score"] < top  # partly right
    assert rows["cy"]["points"][mq] == 0  # the forged record earned nothing...
    assert rows["cy"]["raw_score"] == top - rekeyed.items[mq]["points"]
    assert any("differ" in flag and mq in flag for flag in rows["cy"]["flags"])  # ...and shows

    # 5. without a re-run, measured answers are listed as self-reported and not counted
    out2 = tmp_path / "light.json"
    args = ["grade", str(course / "submitted"), "--key", str(key_path)]
    assert main([*args, "--out", str(tmp_path / "light.csv"), "--json", str(out2)]) == 0
    light = {row["student_id"]: row for row in json.loads(out2.read_text())}
    for name in learners:
        assert light[name]["points"][mq] == 0
        assert mq in light[name]["self_reported"]

    # 6. feedback goes back without the hidden tests, so without the key
    nbgrader(course, "generate_feedback", ASSIGNMENT, "--force")
    feedback = "".join(p.read_text() for p in (course / "feedback").rglob("*.html"))
    assert "check_answer" not in feedback and feedback

    # 7. every re-run lab is gone: no folder, no server
    assert set(rerun_leftovers()) - before == set()
    print(f"nbgrader autograde, 3 submissions: {autograde_s:.1f} s")
    print(f"labkit grade --execute, 3 submissions: {labkit_s:.1f} s")
    print(capsys.readouterr().out)
