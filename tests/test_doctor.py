"""`labkit doctor`: one report of everything the labs need, each problem with its fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import labkit
from labkit.infra.ports import free_port


def doctor(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labkit.cli", "doctor", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_doctor_exits_0_and_names_every_check_when_all_is_well(database):
    result = doctor()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[FIX]" not in result.stdout
    for name in (
        "Python", "jupyter-server-proxy", "PostgreSQL", "free ports", "ipywidgets in JupyterLab",
        "prometheus", "pgbouncer", "CPUs", "memory", "session",
    ):  # fmt: skip
        assert name in result.stdout, name
    assert database.safe_dsn in result.stdout


def test_a_database_that_does_not_answer_fails_with_the_ways_out():
    gone = f"postgresql://nobody:pw@127.0.0.1:{free_port()}/nothing"
    result = doctor(env={"LABKIT_DATABASE_URL": gone})
    assert result.returncode == 1
    line = next(ln for ln in result.stdout.splitlines() if "PostgreSQL" in ln)
    assert line.startswith("[FIX]") and "does not answer" in line
    fix = result.stdout.split(line, 1)[1].splitlines()[1]
    assert fix.lstrip().startswith("->")
    assert "LABKIT_DATABASE_URL" in fix and "docker compose up -d postgres" in fix
    assert "pw" not in result.stdout.replace("pw@", "")  # the password is masked
    assert "1 problem(s)" in result.stdout


def test_a_missing_optional_program_is_shown_with_its_install_command():
    # This venv's programs only: no prometheus, promtool or pgbouncer on the PATH.
    only_venv = str(Path(sys.executable).parent)
    result = doctor("--no-database", env={"PATH": only_venv})
    assert result.returncode == 0, result.stdout  # optional: a lab falls back
    assert "[opt] prometheus" in result.stdout
    assert "apt-get install prometheus" in result.stdout
    strict = doctor("--no-database", "--strict", env={"PATH": only_venv})
    assert strict.returncode == 1


def test_notebook_00_shows_the_same_report(database):
    report = labkit.check_environment()
    assert report.ok
    names = [check.name for check in report.checks]
    assert "PostgreSQL" in names and "jupyter-server-proxy" in names
    page = report._repr_html_()
    assert page.count("<tr>") == len(report.checks) + 1  # a header, then one row each
