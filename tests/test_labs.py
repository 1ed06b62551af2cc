"""The experiments behind notebooks 00, 01 and 02, and the tuning lab's plain function."""

from __future__ import annotations

from labkit.infra.results import get_result
from labkit.labs import principles, start_here, tuning
from labkit.widgets import tuning_lab


def test_each_request_holding_a_connection_counts_once_in_in_use(start_app):
    app = start_app(minsize=1, maxsize=5)
    reading = start_here.hold_connections(app, requests=4, hold_ms=500)
    assert reading.peak_in_use == 4 and reading.during["size"] >= 4
    assert reading.after["in_use"] == 0 and reading.statuses == [200] * 4
    assert get_result("00.hold")["peak_in_use"] == 4


def test_connect_cost_shows_a_pooled_query_is_cheaper(database):
    cost = principles.measure_connect_cost(database.dsn, rounds=10)
    assert cost.fresh_ms > cost.pooled_ms > 0
    assert get_result("01.connect_cost")["ratio"] == cost.ratio


def test_idle_connections_close_after_the_lifetime(start_app):
    app = start_app()
    outcome = principles.watch_idle_lifetime(app, lifetime_s=1.0, burst=4, watch_s=2.5)
    assert max(s.size for s in outcome.samples) == 4
    assert outcome.samples[-1].size == 1  # back to minsize
    shrink = outcome.shrink_time_s()
    assert shrink is not None and 0.5 <= shrink <= 2.5


def test_the_sweep_finds_the_knee_at_the_offered_concurrency(start_app):
    app = start_app()
    sweep = tuning.sweep_maxsize(app, (1, 2, 4, 8), concurrency=4, hold_ms=50, duration=1.0)
    throughput = [p.throughput_rps for p in sweep.points]
    assert throughput[0] < throughput[1] < throughput[2]  # more connections help up to 4...
    assert sweep.knee.maxsize == 4  # ...and not beyond the 4 concurrent clients
    assert get_result("02.knee")["knee_maxsize"] == 4


def test_rule_of_thumb_uses_this_machines_cores():
    import os

    assert tuning.rule_of_thumb() == os.cpu_count() * 2
    assert tuning.rule_of_thumb(effective_spindles=1) == os.cpu_count() * 2 + 1


def test_tuning_lab_function_runs_with_the_widgets_parameters(start_app):
    app = start_app()
    run = tuning.run_tuning_lab(
        minsize=1, maxsize=2, lifetime=60.0, concurrency=4, hold_ms=50, duration=1.0, app=app
    )
    assert app.settings.maxsize == 2
    assert max(s.in_use for s in run.result.samples) == 2
    assert max(s.waiting for s in run.result.samples) > 0
    assert run.result.summary.statuses == {200: len(run.result.records)}
    widget = tuning_lab(app)
    form = widget.children[0]  # each slider's label beside it, in a grid
    assert [label.value for label in form.children[::2]] == [
        "minsize", "maxsize", "idle lifetime (s)", "concurrency", "hold (ms)",
    ]  # fmt: skip
