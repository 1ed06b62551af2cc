"""The labs of notebooks 04 to 06: exhaustion, leaks, too many clients, and the keepalive advice."""

from __future__ import annotations

import asyncpg
import pytest

from labkit.infra.results import get_result
from labkit.infra.sessions import app_sessions
from labkit.labs import client_limits, exhaustion, keepalive, leaks
from labkit.widgets import exhaustion_lab_widget, leak_lab_widget

HOLD_MS = 300


def test_exhaustion_without_timeout_queues_all_six(start_app):
    app = start_app()
    run = exhaustion.exhaustion_lab(maxsize=2, concurrency=6, hold_ms=HOLD_MS, app=app)
    assert run.outcomes == {"200": 6, "503": 0, "still waiting": 0}
    assert run.peak_waiting == 4
    fastest, slowest = min(run.latencies_ms), max(run.latencies_ms)
    # Three waves of two: the last request waited two holds, then held its own. A busy
    # machine only adds to that floor; the ceiling is relative to the first wave (one
    # hold plus the same overheads), so it stays far below the six waves one connection
    # at a time would take.
    assert slowest >= 2.8 * HOLD_MS, f"slowest {slowest:.0f} ms"
    assert slowest < 4.5 * fastest, f"slowest {slowest:.0f} ms, fastest {fastest:.0f} ms"
    assert get_result("04.exhaustion_no_timeout")["peak_waiting"] == 4


def test_exhaustion_with_100ms_timeout_refuses_exactly_four(start_app):
    app = start_app()
    run = exhaustion.exhaustion_lab(
        maxsize=2, concurrency=6, hold_ms=HOLD_MS, acquire_timeout=0.1, app=app
    )
    assert run.outcomes == {"200": 2, "503": 4, "still waiting": 0}
    refused = [r for r in run.records if r.status == 503]
    assert all(r.retry_after == "1" for r in refused)
    assert get_result("04.exhaustion_timeout")["count_503"] == 4


def test_exhaustion_lab_reports_live_while_it_runs(start_app):
    app = start_app()
    updates = []
    exhaustion.exhaustion_lab(
        maxsize=1, concurrency=3, hold_ms=300, app=app, on_update=updates.append, record=False
    )
    assert len(updates) >= 4  # about 5 per second over ~0.9 s
    assert updates[-1].finished


@pytest.fixture
def leaky_app(start_app):
    app = start_app(minsize=1, maxsize=3)
    yield app
    leaks.release_leaks(app)


def test_leaking_maxsize_connections_leaves_no_free_slot(leaky_app):
    for _ in range(3):
        state = leaks.leak_lab("leak a connection", leaky_app)
    assert state.free_slots == 0
    assert leaks.request_completes(leaky_app, timeout_s=1.0) is False
    with pytest.raises(RuntimeError, match="no free connection left to leak"):
        leaks.leak_connection(leaky_app)


def test_detector_lists_exactly_the_leaked_sessions(leaky_app, tmp_path, monkeypatch):
    from labkit.infra import results

    monkeypatch.setattr(results, "results_path", lambda: tmp_path / "results.json")
    leaked = {leaks.leak_connection(leaky_app), leaks.leak_connection(leaky_app)}
    in_transaction = leaks.leave_transaction_open(leaky_app)
    assert get_result("05.leak_detector") is None  # finding is a read: it records nothing
    suspects = leaks.detect_leaks(leaky_app, older_than_s=0)
    assert {s.pid for s in suspects} == leaked | {in_transaction}
    states = {s.pid: s.state for s in app_sessions(leaky_app)}
    for suspect in suspects:
        assert suspect.state == states[suspect.pid]  # as pg_stat_activity reports it
    assert states[in_transaction] == "idle in transaction"
    assert {states[pid] for pid in leaked} == {"idle"}
    assert get_result("05.leak_detector")["leaked_sessions_found"] == 3


def test_reset_returns_the_app_to_health(leaky_app):
    leaks.leak_connection(leaky_app)
    leaks.leave_transaction_open(leaky_app)
    state = leaks.leak_lab("release everything", leaky_app)
    assert state.outcome == {"released": 2, "errors": []}
    assert all(s.state != "idle in transaction" for s in app_sessions(leaky_app))
    assert state.pool["in_use"] == 0 and state.free_slots == 3
    assert leaks.request_completes(leaky_app, timeout_s=2.0)
    assert leaks.find_leaks(leaky_app, older_than_s=0) == []


def test_idle_in_transaction_timeout_ends_the_session_and_the_pool_heals(start_app):
    import time

    app = start_app(maxsize=2, server_settings={"idle_in_transaction_session_timeout": "500"})
    pid = leaks.leave_transaction_open(app)
    # Poll instead of sleeping a fixed second: the server ends the session 500 ms after
    # its last statement, and a busy machine may take longer to get there.
    deadline = time.monotonic() + 15
    while pid in {s.pid for s in app_sessions(app)} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert pid not in {s.pid for s in app_sessions(app)}
    [outcome] = leaks.use_leaked_connections(app)
    assert not outcome["ok"] and "InterfaceError" in outcome["error"]
    assert app.pool_status()["in_use"] == 0
    leaks.release_leaks(app)


def test_unknown_leak_action_is_refused(start_app):
    with pytest.raises(ValueError, match="action must be one of"):
        leaks.leak_lab("explode", start_app())


def test_too_many_clients_is_the_real_error_and_leaves_nothing(database):
    run = client_limits.too_many_clients_lab(database.dsn, workers=4, maxsize=10)
    assert isinstance(run.error, asyncpg.exceptions.TooManyConnectionsError)
    if database.kind == "embedded":
        assert str(run.error) == "sorry, too many clients already"
        assert run.error_text == (
            "asyncpg.exceptions.TooManyConnectionsError: sorry, too many clients already"
        )
    assert client_limits.lab_sessions_left(database.dsn) == 0


def test_connection_budget_arithmetic():
    budget = client_limits.connection_budget(workers=4, maxsize=10, max_connections=30, reserved=3)
    assert budget.needed == 43 and not budget.fits and budget.largest_maxsize == 6
    assert client_limits.connection_budget(4, 6, max_connections=30, reserved=3).fits
    with pytest.raises(ValueError, match="at least 1"):
        client_limits.connection_budget(0, 5, max_connections=30, reserved=0)


def test_keepalive_pings_do_not_save_idle_pool_connections(start_app, database):
    app = start_app()
    outcomes = keepalive.keepalive_experiment(
        app, pool_size=3, idle_session_timeout_s=0.5, ping_every_s=0.2, wait_s=1.5
    )
    assert outcomes["no keepalive"].survived == 0
    assert outcomes["SELECT 1 every few hundred ms"].survived < 3
    if database.kind == "embedded":
        assert outcomes["no keepalive"].closed_by_server >= 3
        assert outcomes["pool lifetime < server timeout, minsize 0"].closed_by_server == 0
        # asyncpg keeps min_size open whatever the lifetime: the server still closes them
        assert outcomes["pool lifetime < server timeout, minsize 3"].closed_by_server >= 3
    assert app.settings.server_settings == {}  # the experiment restores the app


def test_lab_widgets_build(start_app):
    app = start_app()
    form, button, output = exhaustion_lab_widget(app).children
    labels, sliders = form.children[::2], form.children[1::2]
    assert [label.value for label in labels] == [
        "maxsize", "concurrency", "hold (ms)", "acquire timeout (ms, 0 = none)",
    ]  # fmt: skip
    assert [slider.value for slider in sliders] == [2, 6, 300, 0]
    assert button.description == "Run burst" and output.outputs == ()
    assert [b.description for b in leak_lab_widget(app).children[0].children] == list(leaks.ACTIONS)
