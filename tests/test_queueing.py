"""The queueing models, against textbook values and against a simulated queue."""

from __future__ import annotations

import doctest
import heapq
import random
import statistics

import pytest

from labkit.labs import queueing
from labkit.labs.queueing import erlang_c, mgc_wait, mmc_wait


def simulate_wait(arrival_rate: float, hold, servers: int, customers: int, seed: int) -> float:
    """Mean wait in a first-come-first-served queue with ``servers`` servers.

    Poisson arrivals; ``hold(rng)`` draws each customer's service time. A plain
    event-by-event simulation, independent of the formulas it checks.
    """
    rng = random.Random(seed)
    free_at = [0.0] * servers  # when each server next becomes free (a min-heap)
    now, waits = 0.0, []
    for _ in range(customers):
        now += rng.expovariate(arrival_rate)
        earliest = heapq.heappop(free_at)
        start = max(now, earliest)
        waits.append(start - now)
        heapq.heappush(free_at, start + hold(rng))
    return statistics.fmean(waits[customers // 10 :])  # without the warm-up


def test_erlang_c_matches_textbook_values():
    assert erlang_c(1, 0.5) == pytest.approx(0.5)  # M/M/1: P(wait) = ρ
    assert erlang_c(2, 1.0) == pytest.approx(1 / 3)
    # A call-centre example: 10 agents, 8 erlangs -> about 40.9% of callers wait
    assert erlang_c(10, 8.0) == pytest.approx(0.4092, abs=1e-4)
    assert erlang_c(4, 0.0) == 0.0


def test_mm1_reduces_to_the_single_server_formula():
    arrival, service = 30.0, 0.02  # ρ = 0.6
    prediction = mmc_wait(arrival, service, servers=1)
    mu = 1 / service
    assert prediction.mean_wait_s == pytest.approx(arrival / (mu * (mu - arrival)))
    assert prediction.utilisation == pytest.approx(0.6)
    assert prediction.mean_response_s == pytest.approx(1 / (mu - arrival))


def test_more_load_means_more_waiting_and_more_servers_less():
    waits = [mmc_wait(rate, 0.05, 4).mean_wait_s for rate in (20, 40, 60, 70, 78)]
    assert waits == sorted(waits) and len(set(waits)) == len(waits)
    assert mmc_wait(60, 0.05, 8).mean_wait_s < mmc_wait(60, 0.05, 4).mean_wait_s


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_erlang_c_agrees_with_a_simulated_mmc_queue(rho):
    servers, service = 4, 0.05
    rate = rho * servers / service
    simulated = simulate_wait(rate, lambda rng: rng.expovariate(1 / service), servers, 200_000, 1)
    assert simulated == pytest.approx(mmc_wait(rate, service, servers).mean_wait_s, rel=0.06)


@pytest.mark.parametrize("rho", [0.5, 0.8])
def test_fixed_hold_times_wait_about_half_as_long(rho):
    servers, service = 4, 0.05
    rate = rho * servers / service
    simulated = simulate_wait(rate, lambda rng: service, servers, 200_000, 2)
    approx = mgc_wait(rate, service, servers, service_cv2=0.0)
    assert approx.model == "M/D/c"
    assert simulated == pytest.approx(approx.mean_wait_s, rel=0.15)
    assert simulated < 0.7 * mmc_wait(rate, service, servers).mean_wait_s


def test_an_unstable_queue_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="grows without bound"):
        mmc_wait(80, 0.05, 4)  # ρ = 1
    with pytest.raises(ValueError, match="servers must be at least 1"):
        erlang_c(0, 0.5)
    with pytest.raises(ValueError, match="arrival_rate must be positive"):
        mmc_wait(0, 0.05, 4)
    with pytest.raises(ValueError, match="service_cv2"):
        mgc_wait(10, 0.05, 4, service_cv2=-1)


def test_the_module_examples_hold():
    assert doctest.testmod(queueing).failed == 0
