"""A non-editable install works: the wheel carries the question banks and the compose files.

The rest of the suite runs against an editable install, which reads ``quizzes/``
from the checkout. Here the sdist and the wheel are built as a release would
build them, and the wheel is used from a fresh venv where only its own files
can be found. Everything is built in temporary folders, so the checkout gets
no build/, dist/ or egg-info from this file.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import nbformat
import pytest
import yaml

from labkit import cli
from labkit.grading import banks, checking, records
from labkit.grading.sheet import Attempt

ROOT = Path(__file__).resolve().parent.parent
BANKS = sorted(p.name for p in (ROOT / "quizzes").glob("*.yaml"))
# Every file the wheel must carry as labkit/_banks: each bank and their schema.
BANK_FILES = [*BANKS, "schema.json"]
COMPOSE_FILES = sorted(
    p.relative_to(ROOT).as_posix() for p in (ROOT / "labkit" / "compose").rglob("*") if p.is_file()
)
# No compose file starts with a dot yet; the copy that is built gets one, to show
# that package-data's "compose/**/.*" pattern ships dotfiles (an .env, say).
DOTFILE = "labkit/compose/prometheus/.dotfile-probe"
# Build litter and local state that is no part of the source.
NOT_SOURCE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "_banks",
    "__pycache__",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    "artifacts",
)


def run(*command: str | Path, cwd: Path, env: dict | None = None) -> str:
    """Run a command; a failure shows its output."""
    result = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def build(source: Path, outdir: Path, *options: str) -> None:
    """``python -m build`` with this venv's setuptools (the test extra pins it).

    No isolation, so no setuptools download per run. Without ``--wheel`` it makes
    the sdist, then the wheel from the unpacked sdist: what an install from an
    sdist on a package index goes through.
    """
    run(
        sys.executable,
        "-m",
        "build",
        "--no-isolation",
        *options,
        "--outdir",
        outdir,
        ".",
        cwd=source,
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    """The sdist, the wheel built from that sdist, and a wheel built straight from source."""
    tmp = tmp_path_factory.mktemp("packaging")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=NOT_SOURCE)
    (source / DOTFILE).write_text("a compose dotfile\n")
    build(source, tmp / "release")
    build(source, tmp / "direct", "--wheel")
    [sdist] = (tmp / "release").glob("*.tar.gz")
    [wheel] = (tmp / "release").glob("*.whl")
    [direct] = (tmp / "direct").glob("*.whl")
    return {"sdist": sdist, "wheel": wheel, "direct": direct}


def test_sdist_carries_the_banks_and_the_build_step(built):
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert {f"quizzes/{name}" for name in BANK_FILES} <= names
    assert {"setup.py", "MANIFEST.in", "pyproject.toml", DOTFILE, *COMPOSE_FILES} <= names


@pytest.mark.parametrize("which", ["wheel", "direct"])
def test_wheel_carries_the_banks_and_every_compose_file(built, which):
    with zipfile.ZipFile(built[which]) as wheel:
        names = set(wheel.namelist())
        for name in BANK_FILES:  # the copies are the checkout's files, byte for byte
            assert wheel.read(f"labkit/_banks/{name}") == (ROOT / "quizzes" / name).read_bytes()
    assert {DOTFILE, *COMPOSE_FILES} <= names
    assert not any(name.startswith(("quizzes/", "tests/")) for name in names)


@pytest.fixture(scope="module")
def fresh_venv(built, tmp_path_factory) -> Path:
    """A new venv with the wheel's labkit installed; dependencies come from this venv.

    Installing every dependency afresh takes minutes, so the new venv gets only
    labkit, and a .pth file that appends this venv's site-packages for the rest.
    Appended paths come after the venv's own site-packages, so its labkit wins,
    and site does not run the .pth files found in them: the editable install's
    finder, which would load the checkout's labkit, stays out.
    """
    venv = tmp_path_factory.mktemp("fresh") / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv.parent)
    python = venv / "bin" / "python"
    # pip runs from this venv and installs into the new one: labkit and its console script.
    # This comes before the .pth, or pip would see the editable labkit as installed already.
    run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        built["wheel"],
        cwd=venv.parent,
    )
    site = Path(
        run(
            python,
            "-c",
            "import sysconfig; print(sysconfig.get_paths()['purelib'])",
            cwd=venv.parent,
        ).strip()
    )
    ours = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "_labkit_test_dependencies.pth").write_text("".join(f"{path}\n" for path in ours))
    return venv


def clean_env() -> dict[str, str]:
    """This process's environment, less what could point labkit at the checkout's files."""
    return {k: v for k, v in os.environ.items() if k not in ("LABKIT_BANKS", "PYTHONPATH")}


INSPECT = """
import json, sys
import labkit
from labkit.grading import banks
from labkit.monitoring import prometheus
print(json.dumps({
    "labkit": labkit.__file__,
    "bank_dir": str(banks.bank_dir()),
    "banks": {n: len(banks.questions(n)) for n in banks.bank_files()},
    "compose_dir": str(prometheus.COMPOSE_DIR),
    "compose_is_dir": prometheus.COMPOSE_DIR.is_dir(),
    "rules_is_file": prometheus.RULES_FILE.is_file(),
    "finders": [type(f).__name__ + repr(getattr(f, "__name__", "")) for f in sys.meta_path],
}))
"""


def test_installed_labkit_is_the_wheels_and_finds_its_files(fresh_venv, tmp_path):
    found = json.loads(
        run(fresh_venv / "bin" / "python", "-c", INSPECT, cwd=tmp_path, env=clean_env())
    )
    package = Path(found["labkit"]).parent
    assert package.is_relative_to(fresh_venv), f"labkit came from {package}, not the fresh venv"
    assert (package / "_banks").is_dir()
    assert Path(found["bank_dir"]) == package / "_banks"
    # every bank is found and passes its schema (questions() loads and validates)
    assert sorted(found["banks"]) == sorted(name.split("_")[0] for name in BANKS)
    assert all(count > 0 for count in found["banks"].values())
    assert Path(found["compose_dir"]) == package / "compose"
    assert found["compose_is_dir"] and found["rules_is_file"]
    assert not any("editable" in finder.lower() for finder in found["finders"])


def submission(path: Path, learner: str, responses: dict) -> Path:
    """A notebook whose quiz cell ran with these responses, as a learner would save it."""
    made = []
    for qid, response in responses.items():
        item = banks.question(qid)
        attempt = Attempt(checking.canonical(item, response), "2026-01-01T10:00:00", True, "x")
        made.append(records.record(item, [attempt], "self-check", checking.grade(item, response)))
    cell = nbformat.v4.new_code_cell("results = quiz.submit(my_answers)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={records.RECORD_MIME: made, "text/plain": "graded"}
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"labkit": {"learner": learner}})
    nbformat.write(nb, path)
    return path


def right(qid: str) -> str:
    """The public self-check bank's right letter(s), read from its hashes (no key here)."""
    return ",".join(sorted(checking.right_options(banks.question(qid), None)))


def wrong(qid: str) -> str:
    """A letter that earns nothing."""
    return next(o for o in banks.question(qid)["options"] if o not in right(qid).split(","))


def gradebook(path: Path) -> dict[str, dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def test_installed_grade_command_grades_a_submission(fresh_venv, tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    singles = [q["id"] for q in banks.questions("04") if q["type"] == "single"]
    submission(folder / "ada.ipynb", "ada", {qid: right(qid) for qid in singles})  # all right
    first, *others = singles
    submission(folder / "bo.ipynb", "bo", {first: wrong(first), **{q: right(q) for q in others}})
    # cwd outside the checkout, so nothing there can be imported or read by accident
    out = run(
        fresh_venv / "bin" / "labkit",
        "grade",
        folder,
        "--out",
        tmp_path / "grades.csv",
        cwd=tmp_path,
        env=clean_env(),
    )
    assert "ada" in out and "ERROR" not in out
    rows = gradebook(tmp_path / "grades.csv")
    max_score = sum(float(q["points"]) for q in banks.questions("04"))
    points = {q["id"]: float(q["points"]) for q in banks.questions("04")}
    assert float(rows["ada"]["raw_score"]) == sum(points[q] for q in singles)
    assert rows["ada"]["error"] == ""
    assert float(rows["bo"]["raw_score"]) == sum(points[q] for q in others)
    assert float(rows["ada"]["max_score"]) == max_score


# ----------------------------------------------------------------- labkit grade --banks
def test_grade_banks_option_grades_against_the_given_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("LABKIT_BANKS", raising=False)
    own = tmp_path / "my-banks"
    shutil.copytree(banks.bank_dir(), own)
    # The instructor's copy makes 04-q1 worth 3 points instead of 1.
    bank_file = own / banks.bank_files()["04"].name
    bank = yaml.safe_load(bank_file.read_text(encoding="utf-8"))
    [q1] = [item for item in bank["questions"] if item["id"] == "04-q1"]
    assert q1["points"] == 1
    q1["points"] = 3
    bank_file.write_text(yaml.safe_dump(bank, allow_unicode=True), encoding="utf-8")
    submission(tmp_path / "ada.ipynb", "ada", {"04-q1": right("04-q1")})

    assert cli.main(["grade", str(tmp_path / "ada.ipynb"), "--out", str(tmp_path / "a.csv")]) == 0
    assert float(gradebook(tmp_path / "a.csv")["ada"]["raw_score"]) == 1
    args = ["grade", str(tmp_path / "ada.ipynb"), "--out", str(tmp_path / "b.csv")]
    assert cli.main([*args, "--banks", str(own)]) == 0
    assert float(gradebook(tmp_path / "b.csv")["ada"]["raw_score"]) == 3
    assert "LABKIT_BANKS" not in os.environ  # the option lasts one run


def test_grade_banks_option_names_a_missing_or_empty_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # where the default grades.csv would go
    nb = str(submission(tmp_path / "ada.ipynb", "ada", {"04-q1": right("04-q1")}))
    assert cli.main(["grade", nb, "--banks", str(tmp_path / "nope")]) == 2
    assert "--banks" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert cli.main(["grade", nb, "--banks", str(tmp_path / "empty")]) == 2
    assert "no question banks" in capsys.readouterr().err
    assert not (tmp_path / "grades.csv").exists()


def test_grade_help_documents_the_banks_option():
    result = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "grade", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "--banks DIR" in result.stdout and "LABKIT_BANKS" in result.stdout
