"""`labkit db start | status | stop | reset | url` from a shell."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from conftest import fetch, make_home


def labkit(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def test_url_prints_the_dsn_and_nothing_else(database):
    result = labkit("db", "url")
    assert result.returncode == 0, result.stderr
    assert result.stdout == database.dsn + "\n"
    assert fetch(result.stdout.strip(), "SELECT 1 AS one")[0]["one"] == 1


def test_status_reports_the_database_and_its_settings(database):
    result = labkit("db", "status")
    assert result.returncode == 0, result.stderr
    assert "max_connections" in result.stdout
    assert database.safe_dsn in result.stdout
    assert "***" in result.stdout or database.kind != "embedded"  # password masked


@pytest.mark.skipif(bool(os.environ.get("LABKIT_DATABASE_URL")), reason="embedded server only")
def test_start_stop_reset_on_a_home_of_its_own():
    home = make_home("labkit-cli-")
    env = {"LABKIT_HOME": str(home)}
    try:
        started = labkit("db", "start", env=env)
        assert started.returncode == 0, started.stderr
        assert "embedded" in started.stdout
        reset = labkit("db", "reset", env=env)
        assert reset.returncode == 0, reset.stderr
        assert "starting a fresh server" in reset.stdout
        stopped = labkit("db", "stop", env=env)
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        status = labkit("db", "status", env=env)
        assert "running" in status.stdout and "none running" in status.stdout
    finally:
        labkit("db", "stop", env=env)
        shutil.rmtree(home, ignore_errors=True)


def test_stop_refuses_a_database_it_does_not_manage(database):
    result = labkit("db", "stop", env={"LABKIT_DATABASE_URL": database.dsn})
    assert result.returncode == 1
    assert "manages only the embedded server" in result.stderr


def test_unknown_action_is_a_usage_error():
    result = labkit("db", "explode")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
