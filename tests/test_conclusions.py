"""Printed conclusions are computed from the numbers and change when the numbers do."""

from __future__ import annotations

import inspect

import pytest

from labkit.labs import conclusions


@pytest.fixture(autouse=True)
def own_results(tmp_path, monkeypatch):
    from labkit.infra import results

    monkeypatch.setattr(results, "results_path", lambda: tmp_path / "results.json")


# For each conclusion, two sets of figures that fall on different sides of its branch.
BRANCHES = {
    "http_vs_bare": (
        {"http_ratio": 3.0, "bare_ratio": 28.0},
        {"http_ratio": 30.0, "bare_ratio": 28.0},
    ),
    "load_generator_headroom": (
        {"pooled_rps": 2300.0, "generator_rps": 2400.0},
        {"pooled_rps": 600.0, "generator_rps": 2400.0},
    ),
    "cold_first_wave": (
        {"burst": 6, "opened": 5, "cold_slowest_ms": 9.0, "warm_slowest_ms": 2.0},
        {"burst": 6, "opened": 0, "cold_slowest_ms": 3.0, "warm_slowest_ms": 2.0},
    ),
    "knee_vs_concurrency": (
        {"knee": 8, "concurrency": 8, "knee_p95_ms": 55.0, "hold_ms": 50, "first_p95_ms": 420.0},
        {"knee": 4, "concurrency": 8, "knee_p95_ms": 120.0, "hold_ms": 50, "first_p95_ms": 420.0},
    ),
    "cpu_knee": (
        {"knee": 2, "cores": 2, "rule": 4, "knee_rps": 90.0, "largest_rps": 85.0},
        {"knee": 8, "cores": 2, "rule": 4, "knee_rps": 90.0, "largest_rps": 95.0},
    ),
    "queue_moved_into_cpu": (
        {"small": 2, "small_hold_ms": 20.0, "large": 16, "large_hold_ms": 160.0},
        {"small": 2, "small_hold_ms": 20.0, "large": 16, "large_hold_ms": 21.0},
    ),
    "steady_state": (
        {"used": 4.0, "waiting": 4.0, "maxsize": 4, "clients": 8},
        {"used": 2.5, "waiting": 1.0, "maxsize": 4, "clients": 8},
    ),
    "short_peak_seen": (
        {"true_peak": 4, "gauge_max": 0, "waits_counted": 4, "burst_s": 0.5},
        {"true_peak": 4, "gauge_max": 4, "waits_counted": 4, "burst_s": 0.5},
    ),
    "exhaustion_queue": (
        {"peak_waiting": 4, "maxsize": 2, "concurrency": 6, "rounds_seen": 3},
        {"peak_waiting": 3, "maxsize": 2, "concurrency": 6, "rounds_seen": 3},
    ),
    "queue_is_the_sign": (
        {"peak_waiting": 4, "slowest_ms": 910.0, "hold_ms": 300},
        {"peak_waiting": 0, "slowest_ms": 305.0, "hold_ms": 300},
    ),
    "leaked_pool_blocks": (
        {"free_slots": 0, "completed": False},
        {"free_slots": 1, "completed": True},
    ),
    "in_use_after_server_timeout": (
        {"in_use_before": 1, "in_use_after": 0},
        {"in_use_before": 1, "in_use_after": 1},
    ),
    "keepalive_pings": (
        {"pings": 8, "survived": 1, "total": 3, "replaced": 2},
        {"pings": 8, "survived": 3, "total": 3, "replaced": 0},
    ),
    "keepalive_lifetime": (
        {"minsize": 3, "closed_with_floor": 3, "closed_without_floor": 0, "first_request_ms": 4.0},
        {"minsize": 3, "closed_with_floor": 0, "closed_without_floor": 2, "first_request_ms": 4.0},
    ),
    "alert_timeline": (
        {"first_waiting_s": 0.4, "pending_s": 1.2, "firing_s": 6.3, "for_s": 5},
        {"first_waiting_s": 0.9, "pending_s": 2.0, "firing_s": 7.5, "for_s": 5},
    ),
}


def test_every_conclusion_has_two_branches_here():
    names = {key.split(".")[-1] for key in conclusions.REGISTRY}
    assert names == set(BRANCHES)


@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_a_conclusion_says_something_else_when_the_numbers_differ(name):
    first, second = BRANCHES[name]
    say = getattr(conclusions, name)
    one, other = say(**first), say(**second)
    assert one != other
    for figures, sentence in ((first, one), (second, other)):
        # each sentence carries its own figures, so a reader can check it against the run
        shown = [v for k, v in figures.items() if isinstance(v, int) and not isinstance(v, bool)]
        assert any(str(v) in sentence for v in shown) or not shown, sentence


@pytest.mark.parametrize("name", sorted(BRANCHES))
def test_a_conclusion_records_its_figures_and_sentence(name):
    from labkit.infra.results import load_results

    figures = BRANCHES[name][0]
    sentence = getattr(conclusions, name)(**figures)
    key = next(k for k in conclusions.REGISTRY if k.endswith(f".conclusion.{name}"))
    recorded = load_results()[key]
    assert recorded["sentence"] == sentence
    assert {k: recorded[k] for k in figures} == figures
    assert conclusions.REGISTRY[key](**figures) == sentence  # recomputable from the record


def test_conclusions_take_keywords_only():
    for fn in conclusions.REGISTRY.values():
        params = inspect.signature(fn).parameters.values()
        assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params), fn.__name__
