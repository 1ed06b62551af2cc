"""Faults survived: the database stops, restarts or is killed while requests flow.

During the outage every request gets 503 with Retry-After (never a 500), the server
comes back on the same port, the log says "down" and "back" once each, and the pool
heals by itself: no response is 5xx two seconds after the server answers again.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import psutil
import pytest

from labkit.infra.embedded import EmbeddedPostgres

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("LABKIT_DATABASE_URL")), reason="stops and kills the embedded server"
)
HEAL_S = 2.0  # the promise: no 5xx this long after the server answers again


@dataclass
class Traffic:
    """A steady request loop in a thread, keeping (began, ended, status, retry_after)."""

    url: str
    paths: list[str]
    responses: list[tuple[float, float, int, str | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as client:
            i = 0
            while not self._stop.is_set():
                began = time.monotonic()
                response = client.get(self.paths[i % len(self.paths)])
                ended = time.monotonic()
                self.responses.append(
                    (began, ended, response.status_code, response.headers.get("retry-after"))
                )
                i += 1
                time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def between(self, start: float, end: float) -> list[tuple[int, str | None]]:
        """Responses to requests sent after ``start`` that came back before ``end``."""
        return [(s, r) for b, e, s, r in self.responses if b >= start and e <= end]


@pytest.fixture
def server(database):
    """The session's embedded server, left running on its first port whatever a test did."""
    from labkit.infra.embedded.state import ServerState, read_state, write_state

    server = EmbeddedPostgres()
    port = server.start().port
    yield server
    if server.start().port != port:  # the session's DSN names the first port
        server.stop()
        password = read_state(server.state_file).password
        write_state(server.state_file, ServerState(port=port, password=password))
        assert server.start().port == port


@pytest.fixture
def app(start_app, database):
    app = start_app(minsize=2, maxsize=5)
    email = f"fault-{uuid.uuid4().hex}@example.org"
    user = httpx.post(f"{app.url}/users", json={"email": email, "name": "F"}).json()
    app.user_path = f"/users/{user['id']}"
    return app


def outage(app, server, take_down, caplog) -> dict:
    """Run ``take_down`` under load, bring the server back, and report what clients saw."""
    port_before = server.running().port
    traffic = Traffic(app.url, [app.user_path, "/lab/ping-db"])
    time.sleep(0.5)
    with caplog.at_level(logging.WARNING, logger="labkit.app"):
        take_down()
        down = time.monotonic()
        time.sleep(1.0)
        status_while_down = httpx.get(f"{app.url}/pool-status", timeout=5)
        while_down_until = time.monotonic()
        running = server.start()  # what `labkit db start` does
        answering = time.monotonic()
        time.sleep(HEAL_S + 1.5)
        traffic.stop()
    lines = [r.getMessage() for r in caplog.records if r.name == "labkit.app"]
    after = traffic.between(answering + HEAL_S, time.monotonic())
    first_ok = min(
        (b for b, _, s, _ in traffic.responses if b >= answering and s == 200), default=None
    )
    return {
        "port_before": port_before,
        "port_after": running.port,
        "during": traffic.between(down, while_down_until),
        "after": after,
        "all": [s for _, _, s, _ in traffic.responses],
        "pool_status_while_down": status_while_down,
        "log": lines,
        "first_200_after_s": None if first_ok is None else first_ok - answering,
    }


def check_survived(seen: dict) -> None:
    assert seen["port_after"] == seen["port_before"]
    assert seen["during"], "no request completed during the outage"
    assert {s for s, _ in seen["during"]} == {503}, seen["during"]
    assert all(r is not None and int(r) >= 1 for _, r in seen["during"])
    assert 500 not in seen["all"], "a request was answered 500"
    assert seen["after"] and all(s < 500 for s, _ in seen["after"]), seen["after"]
    status = seen["pool_status_while_down"]
    assert status.status_code == 200 and status.json()["database"] == "unreachable"
    assert sum("unreachable" in line for line in seen["log"]) == 1, seen["log"]
    assert sum("reachable again" in line for line in seen["log"]) == 1, seen["log"]
    print(
        f"outage: {len(seen['during'])} responses, all 503; first 200 "
        f"{seen['first_200_after_s']:.3f} s after the server answered; port {seen['port_after']}"
    )


def test_stop_and_start_under_load_gives_503_then_heals_on_the_same_port(app, server, caplog):
    seen = outage(app, server, server.stop, caplog)
    check_survived(seen)


def test_killed_postmaster_then_db_start_gives_503_then_heals(app, server, caplog):
    def kill() -> None:
        pid = server.running().pid
        os.kill(pid, signal.SIGKILL)
        psutil.wait_procs([psutil.Process(pid)], timeout=5)

    seen = outage(app, server, kill, caplog)
    check_survived(seen)


def test_app_follows_the_server_to_a_new_port(app, server):
    """When the saved port is taken while the server is down, the app finds the new one."""
    from labkit.infra.ports import bind_tcp

    old_port = server.running().port
    server.stop()
    with bind_tcp(old_port, warn_if_busy=False) as squatter:
        squatter.listen()
        assert squatter.getsockname()[1] == old_port
        with pytest.warns(UserWarning, match=f"port {old_port} is taken"):
            running = server.start()
        assert running.port != old_port
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if httpx.get(f"{app.url}{app.user_path}", timeout=5).status_code == 200:
                break
            time.sleep(0.1)
        assert httpx.get(f"{app.url}{app.user_path}", timeout=5).status_code == 200
        server.stop()
    # The saved port is now the new one, and a restart keeps it: clients know that one.
    assert server.start().port == running.port


def test_outage_lab_records_what_clients_saw(app, server):
    from labkit.infra.results import get_result
    from labkit.labs import outage

    run = outage.database_outage_lab(app, down_s=1.0, before_s=0.5, after_s=1.0)
    assert not run.skipped
    assert set(run.during) == {503} and 500 not in run.statuses(0, 1e9)
    assert run.example_503[0] == 503 and run.example_503[1] == "1"
    assert run.example_503[2]["detail"].startswith("database unavailable")
    assert run.pool_while_down["database"] == "unreachable"
    assert run.first_success_after_s is not None and run.errors_after_recovery == 0
    assert run.port_before == run.port_after
    figures = get_result("04.database_outage")
    assert figures["count_503_while_down"] == run.during[503] and figures["count_500"] == 0
