"""Re-running a submission the way a grader must: in a fresh lab, under a time limit.

A measured answer ("how many connections were in use?") can only be verified by
measuring again. So each re-run gets a lab of its own: the kernel starts with a
new, empty ``LABKIT_HOME``, where ``labkit.start_app()`` starts its own embedded
PostgreSQL and writes its own ``results.json``; when the kernel is gone, the
server is stopped and the folder deleted. Nothing of one learner's run can leak
into another's, and nothing of the learner's own machine is read.

Used by both class-mode graders:

- nbgrader's ``autograde``: :mod:`labkit.grading.nbgrader_config` swaps nbgrader's
  Execute step for one that uses :class:`FreshLabKernelManager`; the hidden tests
  that ``labkit nbgrader generate`` writes call :func:`check_answer` and
  :func:`check_measured`;
- ``labkit grade --execute``: :func:`execute_in_fresh_lab`.

A caveat nbgrader shares: the re-run executes the learner's own cells, in the
same kernel as the hidden tests. Code written to fool the grader is in plain
sight in the submission; the instructor's guide says how to look for it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.manager import AsyncKernelManager

from labkit.grading.banks import language, question
from labkit.grading.checking import grade, own_figure

__all__ = [
    "FreshLabKernelManager",
    "check_answer",
    "check_exercise",
    "check_measured",
    "execute_in_fresh_lab",
]

# Settings of the grader's own environment that must not reach a re-run: a shared
# database URL would mix every learner's run in one database.
_NOT_PASSED_ON = ("LABKIT_DATABASE_URL", "LABKIT_HOME")


class FreshLabKernelManager(AsyncKernelManager):
    """A kernel manager whose every kernel starts in a new, empty LABKIT_HOME."""

    lab_home: Path | None = None

    async def start_kernel(self, **kw) -> None:
        """Start the kernel with a fresh LABKIT_HOME of its own."""
        env = dict(kw.pop("env", None) or os.environ)
        for name in _NOT_PASSED_ON:
            env.pop(name, None)
        self.lab_home = Path(tempfile.mkdtemp(prefix="labkit-rerun-"))
        self.lab_home.chmod(0o755)  # as root, the server's own system user must reach it
        env["LABKIT_HOME"] = str(self.lab_home)
        await super().start_kernel(env=env, **kw)

    async def cleanup_resources(self, restart: bool = False) -> None:
        """After the kernel: stop the run's embedded server and delete its folder."""
        await super().cleanup_resources(restart=restart)
        if self.lab_home is not None and not restart:
            home, self.lab_home = self.lab_home, None
            await asyncio.to_thread(_remove_lab, home)


def _remove_lab(home: Path) -> None:
    from labkit.infra.embedded import EmbeddedPostgres

    EmbeddedPostgres(home).stop()  # a no-op when the run started no server
    shutil.rmtree(home, ignore_errors=True)


def execute_in_fresh_lab(path: Path, timeout: int = 300) -> nbformat.NotebookNode:
    """Run the notebook at ``path`` top to bottom in a fresh lab and return it.

    Errors in cells are kept in the outputs (like nbgrader); ``timeout`` limits each
    cell, in seconds. The file itself is not changed.
    """
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        allow_errors=True,
        kernel_manager_class=FreshLabKernelManager,
        resources={"metadata": {"path": str(Path(path).parent)}},
    )
    client.execute()
    return nb


# ------------------------------------------------------------------ hidden tests
# A hidden test never raises: a traceback in the output would quote the test's own line,
# key included, and nbgrader returns outputs with the feedback. It prints what happened
# and ends with the points, which nbgrader reads as the cell's score (0.0 included).


def _learners_answers(answers: dict | None) -> dict:
    """``answers``, or else the notebook's ``my_answers``, read from the kernel's namespace
    (so a submission that deleted it fails here, quietly, not at the test's own line)."""
    if answers is not None:
        return answers
    try:
        from IPython import get_ipython

        found = get_ipython().user_ns.get("my_answers")
    except (ImportError, AttributeError):
        found = None
    return found if isinstance(found, dict) else {}


def _explained(qid: str, said: str, explanation: dict | None) -> str:
    words = (explanation or {}).get(language(), "")
    return f"{qid}: {said}. {words}".strip()


def check_answer(
    qid: str, key_entry: dict, explanation: dict | None = None, answers: dict | None = None
) -> float:
    """A hidden test: grade the learner's ``my_answers[qid]`` against the key's entry.

    Prints the outcome and the ``explanation`` ({"en": ..., "zh": ...}: the feedback)
    and returns the points, which nbgrader reads as the cell's score.
    """
    response = _learners_answers(answers).get(qid)
    if response is None:
        print(_explained(qid, "not answered in my_answers: 0 points", explanation))
        return 0.0
    try:
        result = grade(question(qid), response, key=key_entry)
    except Exception as exc:  # a malformed answer earns nothing; say why, quote no code
        print(_explained(qid, f"0 points: {exc}", explanation))
        return 0.0
    print(_explained(qid, f"{result.points:g} of {result.max_points:g} points", explanation))
    return result.points


def check_measured(qid: str, explanation: dict | None = None, answers: dict | None = None) -> float:
    """A hidden test: the learner's ``my_answers[qid]`` against the figure this re-run
    just measured, within the question's ``rerun_tolerance``."""
    response = _learners_answers(answers).get(qid)
    if response is None:
        print(_explained(qid, "not answered in my_answers: 0 points", explanation))
        return 0.0
    try:
        item = question(qid)
        figure = own_figure(item)  # this run's results.json, in its fresh LABKIT_HOME
        result = grade(item, response, expected=figure, rerun=True)
    except Exception as exc:
        print(_explained(qid, f"0 points: {exc}", explanation))
        return 0.0
    verdict = "verified" if result.points else "not what this re-run measured"
    print(_explained(qid, f"{verdict}, {result.feedback}", explanation))
    return result.points


def check_exercise(qid: str, explanation: dict | None = None) -> float:
    """A hidden test: did the exercise pass in this re-run? (its ``passed`` figure)"""
    try:
        result = grade(question(qid), None, expected=own_figure(question(qid)), rerun=True)
    except Exception as exc:  # not run, or it failed: no points, and no traceback
        print(_explained(qid, f"0 points: {exc}", explanation))
        return 0.0
    print(_explained(qid, f"{result.feedback} in this re-run", explanation))
    return result.points
