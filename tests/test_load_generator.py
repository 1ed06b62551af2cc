"""The load generator and the pool sampler, against the real app."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from labkit.infra.load import percentile, run_load, run_load_async
from labkit.infra.sampler import sample_pool
from labkit.labs.tuning import check_littles_law
from labkit.pool import PoolSample


def test_records_are_exact_for_a_known_mix_of_statuses(start_app):
    app = start_app(maxsize=4)
    paths = ["/lab/ping-db", "/users/2147483000", "/lab/hold?ms=-1"]  # 200, 404, 422
    result = run_load(app, paths, requests=30, concurrency=5)
    assert len(result.records) == 30
    assert result.summary.statuses == {200: 10, 404: 10, 422: 10}
    assert result.summary.errors == {"http 404": 10, "http 422": 10}
    by_path = {p: [r.status for r in result.records if r.path == p] for p in paths}
    assert by_path == {paths[0]: [200] * 10, paths[1]: [404] * 10, paths[2]: [422] * 10}
    assert all(r.latency_s > 0 and r.start_s >= 0 for r in result.records)


def test_duration_mode_stops_on_time_and_counts_every_request(start_app):
    app = start_app(maxsize=2)
    result = run_load(app, "/lab/hold", params={"ms": 50}, duration=0.6, concurrency=2)
    last_start = max(r.start_s for r in result.records)
    assert last_start < 0.6  # no request starts after the deadline...
    assert result.duration_s >= 0.6  # ...and the run does not end before it
    # Each request holds 50 ms: two workers cannot fit more than 2 x 13 into 0.6 s.
    assert len(result.records) <= 26
    # Closed loop: each worker sends its next request as soon as the previous one
    # answers, so the two were busy most of the run however slow the machine is
    # (a count of requests would depend on how fast it is).
    busy = sum(r.latency_s for r in result.records)
    assert busy >= 0.8 * 2 * result.duration_s, f"busy {busy:.2f} s of {result.duration_s:.2f} s"
    assert result.summary.statuses == {200: len(result.records)}


def test_timeouts_and_refused_connections_are_recorded_by_kind(start_app):
    app = start_app(maxsize=1)
    slow = run_load(app, "/lab/hold", params={"ms": 800}, requests=2, concurrency=2, timeout=0.3)
    assert slow.summary.errors == {"timeout": 2}
    assert [r.status for r in slow.records] == [None, None]
    dead = run_load("http://127.0.0.1:1", requests=3, concurrency=1)
    assert dead.summary.errors == {"connection": 3}


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="exactly one of requests"):
        run_load("http://127.0.0.1:1")
    with pytest.raises(ValueError, match="exactly one of requests"):
        run_load("http://127.0.0.1:1", requests=1, duration=1)
    with pytest.raises(ValueError, match="concurrency"):
        run_load("http://127.0.0.1:1", requests=1, concurrency=0)


def test_percentiles_interpolate_between_ranks():
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert percentile(values, 100) == 100.0
    assert percentile([], 50) == 0.0


def test_sampler_sees_in_use_reach_maxsize_and_requests_wait(start_app):
    app = start_app(minsize=1, maxsize=3)
    result = run_load(
        app, "/lab/hold", params={"ms": 100}, requests=36, concurrency=9, sample_hz=20
    )
    assert max(s.in_use for s in result.samples) == 3
    assert max(s.in_use for s in result.samples) <= 3  # never above maxsize
    assert max(s.waiting for s in result.samples) > 0
    assert_sampled_at(result.samples, hz=20)


def test_sample_pool_watches_without_load(start_app):
    app = start_app(minsize=2, maxsize=4)
    samples = sample_pool(app, seconds=0.5, hz=20)
    assert samples[-1].t_s >= 0.5  # watched the whole half second
    assert_sampled_at(samples, hz=20)
    assert {(s.size, s.in_use, s.waiting) for s in samples} == {(2, 0, 0)}


def assert_sampled_at(samples: list[PoolSample], hz: float) -> None:
    """Samples ``1/hz`` apart plus the time a reading takes: never sooner, and at least
    once not much later (a count of samples would depend on how busy the machine is)."""
    interval = 1 / hz
    # The last reading is taken as the run ends, whenever that is: leave it out.
    gaps = [b.t_s - a.t_s for a, b in itertools.pairwise(samples[:-1])]
    assert len(gaps) >= 2, f"only {len(samples)} samples"
    assert min(gaps) >= 0.9 * interval, f"sampled too often: {min(gaps) * 1000:.1f} ms apart"
    assert min(gaps) < 2 * interval, f"never sampled at {hz} Hz: gaps {gaps}"


def test_littles_law_holds_within_20_percent(start_app):
    app = start_app()
    law = check_littles_law(app, maxsize=8, concurrency=6, hold_ms=50, duration=2.0)
    assert law.error < 0.20, law


def test_run_load_async_works_from_a_running_loop(start_app):
    app = start_app()

    async def inside_a_loop():
        return await run_load_async(app, requests=5, concurrency=2, progress=False)

    assert len(asyncio.run(inside_a_loop()).records) == 5
