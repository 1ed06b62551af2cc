"""Drive a running Jupyter server the way a browser does: REST plus the kernel websocket.

Used by the hosted-session tests: nothing here loads a notebook in-process. A
session is created with ``POST /api/sessions`` (the server starts the kernel, as
it does when JupyterLab opens a notebook), and each cell's code is sent as an
``execute_request`` over ``/api/kernels/<id>/channels``, the websocket JupyterLab
uses; outputs come back as iopub messages.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nbformat
import websocket


@dataclass
class CellRun:
    """What one cell produced: its outputs (nbformat-like dicts) and any error."""

    code: str
    outputs: list[dict] = field(default_factory=list)
    error: dict | None = None
    seconds: float = 0.0

    @property
    def text(self) -> str:
        """Everything printed or displayed as plain text."""
        parts = []
        for out in self.outputs:
            parts.append(out.get("text", ""))
            parts.append(out.get("data", {}).get("text/plain", ""))
        return "".join(parts)


class RemoteKernel:
    """A kernel of a Jupyter session, reached over the server's websocket."""

    def __init__(self, server: JupyterServerClient, session: dict) -> None:
        self.server = server
        self.session = session
        self.kernel_id = session["kernel"]["id"]
        self.client_session = uuid.uuid4().hex
        ws_url = server.url.replace("http://", "ws://", 1)
        self.ws = websocket.create_connection(
            f"{ws_url}/api/kernels/{self.kernel_id}/channels?session_id={self.client_session}",
            header=[f"Authorization: token {server.token}"],
            timeout=30,
        )

    def _message(self, msg_type: str, content: dict) -> dict:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "username": "test",
                "session": self.client_session,
                "msg_type": msg_type,
                "version": "5.3",
                "date": "",
            },
            "parent_header": {},
            "metadata": {},
            "content": content,
            "channel": "shell",
            "buffers": [],
        }

    def execute(self, code: str, timeout: float = 180.0) -> CellRun:
        """Run ``code``; return once the kernel is idle again and has replied."""
        request = self._message("execute_request", {"code": code, "silent": False})
        msg_id = request["header"]["msg_id"]
        run = CellRun(code)
        started = time.perf_counter()
        self.ws.send(json.dumps(request))
        idle = replied = False
        deadline = time.monotonic() + timeout
        while not (idle and replied):
            self.ws.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                msg = json.loads(self.ws.recv())
            except websocket.WebSocketTimeoutException as exc:
                raise TimeoutError(f"cell did not finish in {timeout} s:\n{code}") from exc
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                replied = True
                if content["status"] == "error":
                    run.error = content
            elif kind == "stream":
                run.outputs.append({"output_type": "stream", "text": content["text"]})
            elif kind in ("execute_result", "display_data"):
                run.outputs.append({"output_type": kind, "data": content["data"]})
            elif kind == "error":
                run.outputs.append({"output_type": "error", **content})
        run.seconds = time.perf_counter() - started
        return run

    def close(self) -> None:
        """Close the websocket and end the session (the server shuts the kernel down)."""
        self.ws.close()
        self.server.delete(f"/api/sessions/{self.session['id']}")


class JupyterServerClient:
    """A Jupyter server's REST API at ``url``, authenticated with ``token``."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.http = httpx.Client(headers={"Authorization": f"token {token}"}, timeout=30)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.http.get(self.url + path, **kwargs)

    def delete(self, path: str) -> httpx.Response:
        return self.http.delete(self.url + path)

    def wait_ready(self, timeout: float = 60.0, process=None) -> float:
        """Seconds until ``/api/status`` answers; fails if ``process`` exits first."""
        started = time.perf_counter()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"the Jupyter server exited with {process.returncode}")
            try:
                if self.get("/api/status").status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"the Jupyter server at {self.url} did not answer in {timeout} s")

    def start_kernel(self, path: str, kernel_name: str = "python3") -> RemoteKernel:
        """Open ``path`` (relative to the server's root) in a new session and kernel."""
        response = self.http.post(
            self.url + "/api/sessions",
            json={"path": path, "type": "notebook", "name": "", "kernel": {"name": kernel_name}},
        )
        response.raise_for_status()
        return RemoteKernel(self, response.json())

    def close(self) -> None:
        self.http.close()


def code_cells(path: Path) -> list[str]:
    """The notebook's code cells, in order, as the server's copy holds them."""
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]
