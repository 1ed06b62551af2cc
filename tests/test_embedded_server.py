"""The embedded server: first start, reattach, stale postmaster.pid, stop, two users."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

import psutil
import pytest
from conftest import fetch, make_home

from labkit.errors import DatabaseUnavailableError, EmbeddedServerError
from labkit.infra.embedded import MAX_CONNECTIONS, EmbeddedPostgres
from labkit.infra.home import is_root


@pytest.fixture
def server():
    """A server of its own, in its own LABKIT_HOME, removed afterwards."""
    home = make_home("labkit-embedded-")
    srv = EmbeddedPostgres(home)
    yield srv
    srv.stop()
    shutil.rmtree(home, ignore_errors=True)


def postgres_processes(server: EmbeddedPostgres) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["name", "cmdline"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if proc.info["name"] == "postgres" and str(server.pgdata) in cmdline:
            found.append(proc)
    return found


def test_first_start_serves_the_lab_settings_on_tcp(server):
    running = server.start()
    rows = fetch(
        server.dsn(running),
        "SELECT current_setting('max_connections')::int AS max_connections, "
        "current_setting('listen_addresses') AS listen, current_user AS who, "
        "inet_server_addr()::text AS addr",
    )
    assert rows[0]["max_connections"] == MAX_CONNECTIONS
    assert rows[0]["listen"] == "127.0.0.1"
    assert rows[0]["who"] == "labkit"
    assert rows[0]["addr"].startswith("127.0.0.1")
    extensions = fetch(server.dsn(running), "SELECT extname FROM pg_extension")
    assert "pg_stat_statements" in {r["extname"] for r in extensions}
    assert (server.pgdata / f".s.PGSQL.{running.port}").exists()


def test_second_start_reattaches_in_milliseconds(server):
    began = time.perf_counter()
    first = server.start()
    first_start = time.perf_counter() - began
    began = time.perf_counter()
    second = server.start()
    reattach = time.perf_counter() - began
    assert second == first  # the same postmaster: nothing was started
    # Relative to the first start (initdb and postmaster), so that a busy machine
    # slows both: reattaching only reads postmaster.pid and connects once.
    # benchmarks/startup.py prints both figures.
    assert reattach < first_start / 5, f"reattach {reattach:.3f} s, first start {first_start:.3f} s"


def test_runs_as_the_wheels_system_user_under_root(server):
    running = server.start()
    owner = psutil.Process(running.pid).username()
    assert owner == ("embedded_postgres" if is_root() else psutil.Process().username())


def test_server_killed_with_sigkill_is_restarted(server):
    running = server.start()
    os.kill(running.pid, signal.SIGKILL)
    # No waiting here: right after SIGKILL the pid may still look alive.
    again = server.start()
    assert again.pid != running.pid
    assert fetch(server.dsn(again), "SELECT 1 AS one")[0]["one"] == 1


def test_stale_postmaster_pid_of_an_unrelated_live_process_is_cleared(server):
    running = server.start()
    server.stop()
    pid_file = server.pgdata / "postmaster.pid"
    # A stale lock file whose pid now belongs to another live process (this one).
    pid_file.write_text(
        f"{os.getpid()}\n{server.pgdata}\n0\n{running.port}\n{server.pgdata}\n"
        "127.0.0.1\n0 0\nready\n"
    )
    again = server.start()
    assert again.pid != os.getpid()
    assert fetch(server.dsn(again), "SELECT 1 AS one")[0]["one"] == 1


def test_stop_leaves_no_postgres_process(server):
    server.start()
    assert postgres_processes(server)
    assert server.stop() is True
    assert postgres_processes(server) == []
    assert server.running() is None
    assert server.stop() is False  # stopping twice is harmless


def test_two_homes_get_their_own_port_socket_and_data(server):
    other_home = make_home("labkit-embedded-other-")
    other = EmbeddedPostgres(other_home)
    try:
        mine, theirs = server.start(), other.start()
        assert mine.port != theirs.port
        assert mine.socket_dir != theirs.socket_dir
        assert server.pgdata != other.pgdata
        assert server.dsn(mine) != other.dsn(theirs)  # different random passwords too
    finally:
        other.stop()
        shutil.rmtree(other_home, ignore_errors=True)


def test_reset_gives_an_empty_database(server):
    running = server.start()
    fetch(server.dsn(running), "CREATE TABLE leftover (id int)")
    fresh = server.reset()
    tables = fetch(
        server.dsn(fresh), "SELECT tablename FROM pg_tables WHERE tablename = 'leftover'"
    )
    assert tables == []


@pytest.mark.skipif(not is_root(), reason="only root hands the server to another user")
def test_unreachable_home_under_root_is_a_clear_error(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    private.chmod(0o700)
    with pytest.raises(EmbeddedServerError, match="outside /root"):
        EmbeddedPostgres(private / "home").start()


def test_no_database_names_the_three_fixes(monkeypatch):
    from labkit.infra.database import ensure_database

    monkeypatch.setenv("LABKIT_DATABASE_URL", "postgresql://nobody:x@127.0.0.1:1/none")
    with pytest.raises(DatabaseUnavailableError) as caught:
        ensure_database()
    message = str(caught.value)
    assert "LABKIT_DATABASE_URL" in message
    assert "docker compose up" in message
    assert "embedded" in message
    assert ":x@" not in message  # the password is masked


def test_server_left_by_a_killed_kernel_is_reused(server):
    """A kernel that dies with SIGKILL leaves its server running: the next one reattaches."""
    kernel = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from labkit.infra.embedded import "
            "EmbeddedPostgres; print(EmbeddedPostgres(Path(sys.argv[1])).start().pid, "
            "flush=True); time.sleep(60)",
            str(server.home),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    pid = int(kernel.stdout.readline())
    kernel.kill()
    kernel.wait()
    again = server.start()
    assert again.pid == pid
    assert fetch(server.dsn(again), "SELECT 1 AS one")[0]["one"] == 1


def test_data_dir_from_another_postgres_major_is_a_clear_error(server):
    server.start()
    server.stop()
    (server.pgdata / "PG_VERSION").write_text("9\n")
    with pytest.raises(EmbeddedServerError, match="labkit db reset"):
        server.start()


@pytest.mark.skipif(not is_root(), reason="only root hands the binaries to another user")
def test_binaries_behind_a_private_folder_are_copied_not_opened_up(server, monkeypatch):
    """A venv under /root: the system user cannot reach its binaries, so labkit runs a
    copy from its own home instead of making /root world-traversable."""
    from labkit.infra.embedded import binaries

    monkeypatch.setattr(binaries, "reachable_by_others", lambda path: "pginstall" not in str(path))
    running = server.start()
    binary = psutil.Process(running.pid).exe()
    assert binary.startswith(str(server.home / "pgbin"))
    assert fetch(server.dsn(running), "SELECT 1 AS one")[0]["one"] == 1
