"""A class graded in class mode, end to end: prints the gradebook and how long grading took.

    python benchmarks/class_gradebook.py [--keep DIR]

In a temporary course folder (and a temporary LABKIT_HOME, so your own lab is
untouched): the example private bank for notebook 00 (docs/examples/private-banks/),
a key drawn at random, the nbgrader assignment, three learners (all right; partly
right; right but for the measured question, whose saved record is then forged),
nbgrader autograde + export, and labkit grade --key with and without --execute.
Prints both gradebooks, the per-question summary and the times. Asserts nothing.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "00_start_here.ipynb"
BANKS = ROOT / "docs" / "examples" / "private-banks"
ASSIGNMENT = NOTEBOOK.stem
LIMIT_S = 120


def env() -> dict[str, str]:
    return {
        **os.environ,
        "PATH": f"{Path(sys.prefix) / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
    }


def run(command: list[str], cwd: Path) -> float:
    print("$", " ".join(command))
    started = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env(), capture_output=True, text=True)
    took = time.perf_counter() - started
    if result.returncode != 0:
        sys.exit(f"failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    shown = [ln for ln in result.stdout.splitlines() if not ln.startswith("wrote ")]
    if shown and command[0] == "labkit":
        print("\n".join(shown))
    return took


def draw_key(rng: random.Random) -> dict[str, dict]:
    key = {}
    for item in yaml.safe_load((BANKS / "00_start_here.yaml").read_text())["questions"]:
        options = sorted(item.get("options", {}))
        if item["type"] == "single":
            key[item["id"]] = {"answer": rng.choice(options)}
        elif item["type"] == "multiple":
            picked = rng.sample(options, rng.randint(2, len(options) - 1))
            key[item["id"]] = {"answer": ",".join(sorted(picked))}
        elif item["type"] == "numeric":
            key[item["id"]] = {"answer": rng.randint(1, 20) * 100, "tolerance": 50}
    return key


def learner(folder: Path, release: Path, answers: dict) -> nbformat.NotebookNode:
    from labkit.grading.cell_source import with_answers

    shutil.copytree(release, folder, dirs_exist_ok=True)
    path = folder / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if "quiz.submit(my_answers)" in cell.source:
            cell.source = with_answers(cell.source, answers)
    client = NotebookClient(
        nb, timeout=LIMIT_S, kernel_name="python3", resources={"metadata": {"path": str(folder)}}
    )
    client.execute(env=env())
    nbformat.write(nb, path)
    return nb


def forge(path: Path, qid: str) -> None:
    from labkit.grading.records import RECORD_MIME, record_check

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            for rec in out.get("data", {}).get(RECORD_MIME, []):
                if rec["question"] == qid:
                    rec["response"] = rec["expected"]
                    rec["attempts"] = [dict(a, response=rec["expected"]) for a in rec["attempts"]]
                    rec["check"] = record_check(rec)
    nbformat.write(nb, path)


def show_csv(path: Path, columns: list[str]) -> None:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    keep = [c for c in columns if c in rows[0]]
    print(",".join(keep))
    for row in rows:
        print(",".join(row[c] for c in keep))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", help="keep the course folder here instead of deleting it")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="labkit-class-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    home.chmod(0o755)
    os.environ["LABKIT_HOME"] = str(home)  # the learners' runs: not your own lab
    os.environ["LABKIT_BANKS"] = str(BANKS)
    course, key_path = work / "course", work / "key.yaml"
    key_path.write_text(yaml.safe_dump(draw_key(random.Random())))
    try:
        generate = ["labkit", "nbgrader", "generate", str(NOTEBOOK), "--key", str(key_path)]
        run([*generate, "--course", str(course), "--banks", str(BANKS), "--timeout", "120"], work)
        run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"], course
        )
        release = course / "release" / ASSIGNMENT
        key = yaml.safe_load(key_path.read_text())
        probe = learner(work / "probe", release, {"00-m1": 0})
        figure = next(
            rec["expected"]
            for cell in probe.cells
            for out in cell.get("outputs", [])
            for rec in out.get("data", {}).get("application/vnd.labkit.quiz-answer+json", [])
            if rec["question"] == "00-m1"
        )
        right = {qid: spec["answer"] for qid, spec in key.items()}
        wrong_letter = next(o for o in "ABCD" if o != right["00-p1"])
        classroom = {
            "ada": {**right, "00-m1": figure},
            "bo": {**right, "00-p1": wrong_letter, "00-p2": right["00-p2"] + 500, "00-m1": figure},
            "cy": {**right, "00-m1": figure + 1},  # the measured record is forged below
        }
        for name, answers in classroom.items():
            learner(course / "submitted" / name / ASSIGNMENT, release, answers)
        forge(course / "submitted" / "cy" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", "00-m1")
        print("learners:", {n: a for n, a in classroom.items()})

        nbg = [sys.executable, "-m", "nbgrader"]
        autograde_s = run([*nbg, "autograde", ASSIGNMENT, "--create", "--force"], course)
        run([*nbg, "export", "--to", "nbgrader.csv"], course)
        common = ["labkit", "grade", "submitted", "--key", str(key_path), "--banks", str(BANKS)]
        execute_s = run(
            [
                *common,
                "--execute",
                "--timeout",
                str(LIMIT_S),
                "--out",
                "labkit.csv",
                "--json",
                "labkit.json",
                "--summary",
                "summary.csv",
                "--plot",
                "scores.png",
            ],
            course,
        )
        light_s = run([*common, "--out", "light.csv"], course)

        print("\nnbgrader export (nbgrader.csv):")
        show_csv(course / "nbgrader.csv", ["student_id", "raw_score", "score", "max_score"])
        print("\nlabkit grade --key --execute (labkit.csv):")
        show_csv(
            course / "labkit.csv",
            [
                "student_id",
                "00-p1",
                "00-p2",
                "00-p3",
                "00-m1",
                "raw_score",
                "max_score",
                "self_reported",
                "flags",
            ],
        )
        print("\nper-question summary (summary.csv):")
        show_csv(
            course / "summary.csv",
            [
                "question",
                "answered",
                "share_correct",
                "mean_points",
                "max_points",
                "most_common_wrong",
                "most_common_wrong_count",
            ],
        )
        print("\nlabkit grade --key, no re-run (light.csv):")
        show_csv(course / "light.csv", ["student_id", "00-m1", "raw_score", "self_reported"])
        print(
            f"\ntime to grade 3 learners: nbgrader autograde {autograde_s:.1f} s, "
            f"labkit grade --execute {execute_s:.1f} s, labkit grade (no re-run) {light_s:.1f} s"
        )
        print(json.dumps({"course": str(course)}) if args.keep else "")
    finally:
        from labkit.infra.embedded import EmbeddedPostgres

        EmbeddedPostgres(home).stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
