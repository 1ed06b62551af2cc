"""Collect every learner's notebook through the hub, then grade the folder.

The instructor service's token (scope ``access:servers``) reads each learner's
notebook through their own server's contents API, so nothing needs root and it
works the same on Kubernetes. Notebooks land in nbgrader's ``submitted`` layout,
``OUT/<learner>/<assignment>/<notebook>`` (the assignment is the notebook's name
without ``.ipynb``), each stamped with its learner's name, which the gradebook
uses as the student id. Then class mode grades them against the instructor's key
(``docs/instructor-grading.md``):

    labkit workshop collect --hub http://127.0.0.1:8000 --token-file ~/course/hub-token \\
        --learner ada --learner alan --notebook 04_pool_exhaustion.ipynb --out submitted/
    labkit grade submitted --key ~/course/key.yaml --banks ~/course/banks --json grades.json
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat

from labkit.workshop.hub import HubAPI, HubError


def collect_notebooks(
    api: HubAPI, learners: list[str], notebook: str, out: Path
) -> tuple[list[Path], dict[str, str]]:
    """Fetch ``notebook`` from each learner; the files written, and who could not be read.

    A learner without the notebook (never opened, or renamed) is reported, not fatal:
    one missing submission must not stop the class's grading.
    """
    written, missing = [], {}
    for learner in learners:
        try:
            model = api.contents(learner).get(notebook)
        except HubError as exc:
            missing[learner] = str(exc)
            continue
        nb = nbformat.from_dict(model["content"])
        nb.metadata.setdefault("labkit", {})["learner"] = learner
        path = out / learner / Path(notebook).stem / Path(notebook).name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        written.append(path)
    return written, missing


def grade_command(
    folder: Path,
    csv_out: Path,
    json_out: Path,
    key: Path,
    banks: Path | None = None,
    execute: bool = False,
) -> list[str]:
    """Class mode's ``labkit grade`` for a folder of collected notebooks.

    It re-grades every recorded choice answer against ``key`` (the instructor's, kept
    outside the repository) and the banks the key was written for; ``execute``
    re-runs each submission in a fresh lab to verify measured answers (minutes per
    notebook: nbgrader's autograde does the same).
    """
    command = [sys.executable, "-m", "labkit.cli", "grade", str(folder), "--key", str(key)]
    if banks is not None:
        command += ["--banks", str(banks)]
    if execute:
        command.append("--execute")
    return [*command, "--out", str(csv_out), "--json", str(json_out)]


def grade_collected(
    folder: Path, csv_out: Path, json_out: Path, key: Path, banks: Path | None = None
) -> subprocess.CompletedProcess:
    """Run :func:`grade_command`; its output is the per-learner summary it prints."""
    return subprocess.run(
        grade_command(folder, csv_out, json_out, key, banks),
        capture_output=True,
        text=True,
        check=False,
    )
