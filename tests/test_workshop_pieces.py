"""The workshop's pieces that need no hub: its config, the stop hook in a real Jupyter
server, ``labkit stop``, the sizing arithmetic. tests/test_workshop.py runs the real hub."""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import make_home
from traitlets.config import Config

from labkit.infra.embedded import EmbeddedPostgres
from labkit.infra.ports import free_port
from labkit.workshop.environment import (
    HubEnvironment,
    HubEnvironmentError,
    check_python,
    readable_by_everyone,
)
from labkit.workshop.hubconfig import HubSettings, render_hub_config, write_hub_config
from labkit.workshop.sizing import learners_per_host


def settings(tmp_path: Path, **changes) -> HubSettings:
    env = HubEnvironment(Path("/opt/poollab-hub/abc"))
    return HubSettings(
        environment=env, run_dir=tmp_path / "run", learners=["ada", "alan"], **changes
    )


def load(text: str) -> Config:
    """What JupyterHub would read from the file: run it with a config object."""
    config = Config()
    exec(compile(text, "jupyterhub_config.py", "exec"), {"get_config": lambda: config})
    return config


def test_the_hub_config_keeps_everything_on_loopback_and_protects_each_learner(tmp_path):
    made = settings(tmp_path, cull_timeout_s=900, extra_environment={"LABKIT_BANKS": "/srv/b"})
    c = load(render_hub_config(made))
    assert c.JupyterHub.ip == c.JupyterHub.hub_ip == "127.0.0.1"
    assert c.ConfigurableHTTPProxy.api_url.startswith("http://127.0.0.1:")
    assert c.Spawner.cmd == ["/opt/poollab-hub/abc/bin/jupyterhub-singleuser"]
    assert c.Spawner.environment["LABKIT_SHARED_HOST"] == "1"
    assert c.Spawner.environment["LABKIT_BANKS"] == "/srv/b"
    assert "/root" not in c.Spawner.environment["PATH"]
    assert c.Authenticator.allowed_users == ["ada", "alan"]
    culler = next(s for s in c.JupyterHub.services if s["name"] == "idle-culler")
    assert "--timeout=900" in culler["command"]
    roles = {role["name"]: role for role in c.JupyterHub.load_roles}
    assert "delete:servers" in roles["idle-culler"]["scopes"]
    assert "access:servers" in roles["instructor"]["scopes"]
    assert "admin:users" not in roles["instructor"]["scopes"]


def test_dummy_authentication_is_for_rehearsals_and_pam_has_no_shared_password(tmp_path):
    dummy = settings(tmp_path)
    c = load(render_hub_config(dummy))
    assert c.JupyterHub.authenticator_class == "dummy"
    assert c.DummyAuthenticator.password == dummy.password
    pam = settings(tmp_path, authenticator="pam")
    text = render_hub_config(pam)
    assert load(text).JupyterHub.authenticator_class == "pam"
    assert pam.password not in text and "DummyAuthenticator" not in text
    with pytest.raises(ValueError, match="authenticator"):
        settings(tmp_path, authenticator="none")


def test_the_config_and_the_token_are_written_for_the_instructor_only(tmp_path):
    made = settings(tmp_path)
    path = write_hub_config(made)
    assert stat.S_IMODE(made.run_dir.stat().st_mode) == 0o700
    for written in (path, made.run_dir / "instructor-token"):
        assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert (made.run_dir / "instructor-token").read_text().strip() == made.instructor_token


def test_a_python_inside_a_private_folder_is_refused(tmp_path):
    private = tmp_path / "private"
    private.mkdir()
    python = private / "python3"  # as a pyenv Python under /root is
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    private.chmod(0o700)
    assert not readable_by_everyone(python)
    with pytest.raises(HubEnvironmentError, match="cannot enter"):
        check_python(str(python))


def test_learners_per_host_takes_the_smaller_of_the_memory_and_cpu_limits():
    roomy = learners_per_host(16, 64, learner_peak_mb=400, learner_cores=0.5, hub_mb=200)
    assert roomy["memory_bound"] == (64 * 1024 - 1024 - 200) // 400
    assert roomy["cpu_bound"] == 22  # 0.7 x 16 / 0.5 = 22.4
    assert roomy["learners"] == min(roomy["memory_bound"], roomy["cpu_bound"])
    assert roomy["bound_by"] == "cpu"
    tight = learners_per_host(64, 4, learner_peak_mb=400, learner_cores=0.1, hub_mb=0)
    assert tight["bound_by"] == "memory" and tight["learners"] == tight["memory_bound"] == 7
    with pytest.raises(ValueError, match="measure"):
        learners_per_host(2, 8, learner_peak_mb=0, learner_cores=1, hub_mb=0)


def labkit(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )


def test_labkit_stop_stops_the_database_and_says_so():
    home = make_home("labkit-stop-")
    env = {"LABKIT_HOME": str(home)}
    try:
        EmbeddedPostgres(home).start()
        first = labkit("stop", env=env)
        assert first.returncode == 0 and "stopped: postgres" in first.stdout, first.stderr
        assert EmbeddedPostgres(home).running() is None
        again = labkit("stop", env=env)
        assert "nothing" in again.stdout
    finally:
        EmbeddedPostgres(home).stop()
        shutil.rmtree(home, ignore_errors=True)


def test_the_server_extension_stops_the_database_when_jupyter_stops_on_sigint(tmp_path):
    """As JupyterHub's local-process spawner stops a server: SIGINT, stdin not a terminal."""
    home = make_home("labkit-serverext-")
    config_dir = tmp_path / "jupyter-config"
    config_dir.mkdir()
    (config_dir / "jupyter_server_config.json").write_text(
        '{"ServerApp": {"jpserver_extensions": {"labkit.workshop.serverext": true}}}'
    )
    env = {
        **os.environ,
        "LABKIT_HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(config_dir),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
    }
    server = None
    try:
        EmbeddedPostgres(home).start()
        log = (tmp_path / "server.log").open("w")
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter_server",
                "--ip=127.0.0.1",
                f"--port={free_port()}",
                "--no-browser",
                "--allow-root",
                f"--ServerApp.root_dir={tmp_path}",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
        deadline = time.monotonic() + 60
        while "is running at" not in (tmp_path / "server.log").read_text():
            assert server.poll() is None, (tmp_path / "server.log").read_text()
            assert time.monotonic() < deadline, "the Jupyter server did not start"
            time.sleep(0.2)
        server.send_signal(signal.SIGINT)
        server.wait(30)
        text = (tmp_path / "server.log").read_text()
        assert "labkit: stopped postgres" in text, text[-3000:]
        assert EmbeddedPostgres(home).running() is None
    finally:
        if server is not None and server.poll() is None:
            server.kill()
        EmbeddedPostgres(home).stop()
        shutil.rmtree(home, ignore_errors=True)
