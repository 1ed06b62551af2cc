"""labkit.translation.lab finds JupyterLab's app folder fast, and finds the same one."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from labkit.translation.lab import app_dir


def test_the_app_folder_is_jupyterlabs_own():
    from jupyterlab.commands import get_app_dir

    assert app_dir() == Path(get_app_dir()).resolve()


def test_lab_config_answers_well_under_a_second_in_chinese(tmp_path):
    # Binder's start runs it before the server (tests/test_binder.py's START_BUDGET_S):
    # without importing jupyterlab.commands, which alone takes seconds on a loaded machine.
    env = {"LABKIT_LANG": "zh", "LABKIT_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    labkit = Path(sys.executable).with_name("labkit")
    started = time.perf_counter()
    printed = subprocess.run(
        [str(labkit), "translate", "lab-config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    took = time.perf_counter() - started
    assert printed == str(tmp_path / "jupyterlab" / "zh" / "config")
    imported = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "labkit.cli", "translate", "lab-config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    assert "jupyterlab.commands" not in imported, "lab-config imported jupyterlab.commands"
    assert took < 2.0, f"lab-config took {took:.2f} s"
