"""Run code, or a whole notebook, in a learner's own kernel, through the hub.

This is what "Run all" in the learner's JupyterLab does: start a kernel on the
learner's server (``POST /user/NAME/api/kernels``), then send each cell as an
``execute_request`` over the kernel's websocket and collect its outputs. The
kernel runs under the learner's account, with the learner's environment; only
the requests come from the instructor's token.

>>> async with RemoteKernel(hub_url, "ada", token) as kernel:       # doctest: +SKIP
...     outputs = await kernel.execute("print(1 + 1)")
...     seconds = await kernel.run_notebook(notebook)
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import datetime, timezone
from typing import Any

import httpx
import nbformat
from tornado.httpclient import HTTPRequest
from tornado.websocket import WebSocketClientConnection, websocket_connect

from labkit.errors import LabkitError

CELL_TIMEOUT_S = 300


class RemoteExecutionError(LabkitError):
    """A cell raised in the learner's kernel, or did not finish in time."""

    def __init__(self, message: str, outputs: list | None = None) -> None:
        super().__init__(message)
        self.outputs = outputs or []


class RemoteKernel:
    """A kernel on ``user``'s server, reached through the hub at ``hub_url``."""

    def __init__(self, hub_url: str, user: str, token: str, kernel_name: str = "python3") -> None:
        self.hub_url, self.user, self.token, self.kernel_name = hub_url, user, token, kernel_name
        self.kernel_id: str | None = None
        self.session = uuid.uuid4().hex
        self._ws: WebSocketClientConnection | None = None
        self._headers = {"Authorization": f"token {token}"}

    @property
    def _api(self) -> str:
        return f"{self.hub_url}/user/{self.user}/api"

    async def __aenter__(self) -> RemoteKernel:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.shutdown()

    async def start(self) -> None:
        async with httpx.AsyncClient(headers=self._headers, timeout=60) as client:
            response = await client.post(f"{self._api}/kernels", json={"name": self.kernel_name})
        if response.status_code >= 400:
            raise RemoteExecutionError(
                f"{self.user}'s server refused a kernel: {response.status_code} {response.text}"
            )
        self.kernel_id = response.json()["id"]
        ws_url = self._api.replace("http", "ws", 1)
        request = HTTPRequest(
            f"{ws_url}/kernels/{self.kernel_id}/channels?session_id={self.session}",
            headers=self._headers,
            request_timeout=60,
        )
        self._ws = await websocket_connect(request, max_message_size=64 * 2**20)

    def detach(self) -> None:
        """Close the websocket but leave the kernel running, as closing a browser tab does.

        An open websocket is traffic (Jupyter pings it every 30 s), and traffic is
        activity: the idle culler would never see the server idle.
        """
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        self.kernel_id = None  # no longer ours to shut down

    async def shutdown(self) -> None:
        """Close the websocket and shut the kernel down (as closing the notebook's kernel)."""
        if self._ws is not None:
            self._ws.close()
            self._ws = None
        if self.kernel_id is not None:
            async with httpx.AsyncClient(headers=self._headers, timeout=60) as client:
                await client.delete(f"{self._api}/kernels/{self.kernel_id}")
            self.kernel_id = None

    def _message(self, code: str) -> dict:
        return {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "username": self.user,
                "session": self.session,
                "msg_type": "execute_request",
                "version": "5.3",
                "date": datetime.now(timezone.utc).isoformat(),
            },
            "parent_header": {},
            "metadata": {},
            "content": {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
            "channel": "shell",
            "buffers": [],
        }

    async def execute(self, code: str, timeout: float = CELL_TIMEOUT_S) -> list:
        """Run ``code``; its outputs as nbformat outputs. Raises if the code raised."""
        assert self._ws is not None, "start() the kernel first"
        message = self._message(code)
        msg_id = message["header"]["msg_id"]
        await self._ws.write_message(json.dumps(message))
        outputs: list = []
        idle = replied = False
        reply: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        while not (idle and replied):
            left = deadline - time.monotonic()
            if left <= 0:
                raise RemoteExecutionError(
                    f"{self.user}: a cell did not finish in {timeout:.0f} s", outputs
                )
            raw = await asyncio.wait_for(self._ws.read_message(), left)
            if raw is None:
                raise RemoteExecutionError(f"{self.user}: the kernel's websocket closed", outputs)
            if isinstance(raw, bytes):
                continue  # binary frames carry widget buffers; no output lives there
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "status" and msg["content"]["execution_state"] == "idle":
                idle = True
            elif kind == "execute_reply":
                replied, reply = True, msg["content"]
            elif kind == "clear_output":
                outputs.clear()
            elif kind in {"stream", "display_data", "execute_result", "error"}:
                outputs.append(nbformat.v4.output_from_msg(msg))
        if reply.get("status") == "error":
            trace = "\n".join(reply.get("traceback", [])) or reply.get("evalue", "")
            raise RemoteExecutionError(f"{self.user}: the cell raised:\n{trace}", outputs)
        return outputs

    async def run_notebook(
        self, notebook: nbformat.NotebookNode, timeout: float = CELL_TIMEOUT_S
    ) -> float:
        """Run every code cell in order, filling in its outputs; the seconds it took."""
        started = time.perf_counter()
        count = 0
        for cell in notebook.cells:
            if cell.cell_type != "code":
                continue
            count += 1
            try:
                cell.outputs = await self.execute(cell.source, timeout)
            except RemoteExecutionError as exc:
                cell.outputs = exc.outputs
                raise
            cell.execution_count = count
        return time.perf_counter() - started


def printed(outputs: list) -> str:
    """The text that ``outputs`` printed (stdout and stderr streams)."""
    return "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")


def printed_json(outputs: list) -> Any:
    """The JSON value a cell printed as its last line: ``print(json.dumps(...))``."""
    return json.loads(printed(outputs).strip().splitlines()[-1])
