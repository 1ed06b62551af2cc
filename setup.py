"""Build step that puts the question banks inside the wheel.

Everything about the package is declared in pyproject.toml; this file only adds
one step. The banks live in ``quizzes/`` at the top of the repository, outside
the ``labkit`` package, so a plain build would leave them behind and an
installed ``labkit grade`` would find no questions. ``build_py`` copies them to
``labkit/_banks`` in the build tree, where ``labkit.grading.banks`` looks first.
An editable install skips the copy: it reads the checkout's ``quizzes/`` live.
"""

from __future__ import annotations

from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

BANKS_SOURCE = Path(__file__).resolve().parent / "quizzes"
BANKS_TARGET = ("labkit", "_banks")  # inside the built package


def bank_sources() -> list[Path]:
    """The files a wheel must carry: every bank and the schema they are checked against."""
    files = sorted(BANKS_SOURCE.glob("*.yaml"))
    schema = BANKS_SOURCE / "schema.json"
    if not files or not schema.is_file():
        # An sdist made without MANIFEST.in lands here: fail the build rather
        # than ship a wheel whose `labkit grade` has nothing to grade against.
        raise SystemExit(
            f"no question banks in {BANKS_SOURCE} (want *.yaml and schema.json); "
            "build from a checkout, or from an sdist that includes quizzes/ (see MANIFEST.in)"
        )
    return [*files, schema]


class BuildPyWithBanks(build_py):
    """setuptools' build_py, plus a copy of ``quizzes/`` as ``labkit/_banks``."""

    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib, *BANKS_TARGET)
        self.mkpath(str(target))
        for source in bank_sources():
            self.copy_file(str(source), str(target / source.name))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        outputs = super().get_outputs(include_bytecode)
        if self.editable_mode:
            return outputs
        target = Path(self.build_lib, *BANKS_TARGET)
        return [*outputs, *(str(target / source.name) for source in bank_sources())]


setup(cmdclass={"build_py": BuildPyWithBanks})
