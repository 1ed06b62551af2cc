"""Run the workshop's JupyterHub and drive it through its REST API, as the instructor.

>>> hub = RunningHub.start(settings)               # doctest: +SKIP
>>> api = hub.api()                                # the instructor service's token
>>> api.start_servers(["ada", "alan"])             # doctest: +SKIP
>>> api.contents("ada").get("04_error_handling.ipynb")   # doctest: +SKIP
>>> hub.stop()                                     # doctest: +SKIP
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from labkit.errors import LabkitError
from labkit.workshop.hubconfig import HubSettings, write_hub_config

START_TIMEOUT_S = 60
SPAWN_TIMEOUT_S = 180
STOP_TIMEOUT_S = 60


class HubError(LabkitError):
    """The hub did not start, or refused or failed a request."""


def _check(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code >= 400:
        raise HubError(f"{what}: HTTP {response.status_code} {response.text[:500]}")
    return response


class Contents:
    """One learner's Jupyter contents API, reached through the hub."""

    def __init__(self, client: httpx.Client, user: str) -> None:
        self.client, self.user = client, user

    def get(self, path: str) -> dict:
        """The notebook (or file) at ``path`` in the learner's home, with its content."""
        response = self.client.get(f"/user/{self.user}/api/contents/{path}", params={"content": 1})
        return _check(response, f"reading {self.user}'s {path}").json()

    def put_notebook(self, path: str, notebook: dict) -> dict:
        """Save ``notebook`` (nbformat JSON) at ``path``, as JupyterLab's save does."""
        body = {"type": "notebook", "format": "json", "content": notebook}
        response = self.client.put(f"/user/{self.user}/api/contents/{path}", json=body)
        return _check(response, f"saving {self.user}'s {path}").json()

    def list(self, path: str = "") -> list[dict]:
        response = self.client.get(f"/user/{self.user}/api/contents/{path}")
        return _check(response, f"listing {self.user}'s {path or 'home'}").json()["content"]


class HubAPI:
    """The hub's REST API with one token (the instructor service's)."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.client = httpx.Client(
            base_url=url, headers={"Authorization": f"token {token}"}, timeout=60
        )

    def user(self, name: str) -> dict:
        return _check(self.client.get(f"/hub/api/users/{name}"), f"reading user {name}").json()

    def server(self, name: str) -> dict | None:
        """The learner's default server as the hub sees it, or None when it has none."""
        return self.user(name).get("servers", {}).get("")

    def start_servers(self, names: list[str], timeout: float = SPAWN_TIMEOUT_S) -> float:
        """Ask for every learner's server at once; return the seconds until all are ready."""
        started = time.perf_counter()
        for name in names:
            response = self.client.post(f"/hub/api/users/{name}/server")
            if response.status_code != 400 or "already running" not in response.text:
                _check(response, f"starting {name}'s server")
        self.wait(names, ready=True, timeout=timeout)
        return time.perf_counter() - started

    def stop_servers(self, names: list[str], timeout: float = STOP_TIMEOUT_S) -> None:
        """Stop the learners' servers through the hub and wait until they are gone."""
        for name in names:
            response = self.client.delete(f"/hub/api/users/{name}/server")
            if response.status_code != 204:
                _check(response, f"stopping {name}'s server")
        self.wait(names, ready=False, timeout=timeout)

    def wait(self, names: list[str], ready: bool, timeout: float) -> None:
        """Until every learner's server is ready (``ready``) or gone (not ``ready``)."""
        deadline = time.monotonic() + timeout
        pending = set(names)
        while pending:
            for name in sorted(pending):
                server = self.server(name)
                done = bool(server and server.get("ready")) if ready else not server
                if done:
                    pending.discard(name)
            if not pending:
                return
            if time.monotonic() > deadline:
                state = "ready" if ready else "stopped"
                raise HubError(f"not {state} after {timeout:.0f} s: {sorted(pending)}")
            time.sleep(0.5)

    def contents(self, name: str) -> Contents:
        return Contents(self.client, name)

    def close(self) -> None:
        self.client.close()


@dataclass
class RunningHub:
    """A ``jupyterhub`` process started from :class:`HubSettings`."""

    settings: HubSettings
    process: subprocess.Popen
    log_file: Path

    @classmethod
    def start(cls, settings: HubSettings) -> RunningHub:
        config = write_hub_config(settings)
        log_file = settings.run_dir / "jupyterhub.log"
        with log_file.open("w") as log:
            process = subprocess.Popen(
                [settings.environment.command("jupyterhub"), "-f", str(config)],
                cwd=settings.run_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C in the caller's terminal is not the hub's
            )
        hub = cls(settings, process, log_file)
        hub._wait_until_answering()
        return hub

    @property
    def url(self) -> str:
        return self.settings.url

    def api(self) -> HubAPI:
        """The REST API with the instructor service's token."""
        return HubAPI(self.url, self.settings.instructor_token)

    def log_text(self) -> str:
        """The hub's whole log so far (the proxy's and the services' lines included)."""
        return self.log_file.read_text(errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise HubError(f"jupyterhub exited at start:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise HubError(f"jupyterhub did not answer in {START_TIMEOUT_S} s")
            time.sleep(0.3)

    def stop(self) -> None:
        """Stop the hub; it stops every learner's server and the proxy first."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
