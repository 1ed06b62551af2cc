"""The in-kernel scraper's arithmetic: PromQL's rate and histogram_quantile, without a database.

The first tests pin hand-computed answers. The last ones feed the same samples
to a real Prometheus (when its binary is installed) and compare every answer.
"""

from __future__ import annotations

import math
import random
import re
import shutil
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from labkit.infra.ports import free_port
from labkit.monitoring.prometheus import PrometheusServer
from labkit.monitoring.scraper import bucket_quantile, quantile_of_rates, rate, sum_of_rates

INF = math.inf


def every_second(values: list[float], start: float = 0.0) -> list[tuple[float, float]]:
    """A series scraped once a second from ``start``."""
    return [(start + i, float(v)) for i, v in enumerate(values)]


# --- rate ------------------------------------------------------------------------


def test_a_steady_counter_gives_its_slope_wherever_the_window_falls():
    series = every_second([3 * i for i in range(21)])  # +3 per second for 20 s
    for t in (10.0, 10.25, 10.5, 17.9, 20.0):
        assert rate(series, t, 5.0) == pytest.approx(3.0)


def test_the_window_is_open_on_the_left_and_closed_on_the_right():
    # A jump of 100 between the samples at 5 s and 6 s.
    series = every_second([1000, 1100, 1101, 1102, 1103, 1104], start=5.0)
    # (5, 10]: the sample at 5 s is out, so the jump is not in the window; the sample
    # at 6 s is 1 s after the edge, within 1.1 spacings: extrapolate all the way.
    assert rate(series, 10.0, 5.0) == pytest.approx(1.0)  # 4 per 4 s, stretched to 5 s
    # (4.999, 9.999]: the sample at 5 s is in, the one at 10 s is not.
    assert rate(series, 9.999, 5.0) == pytest.approx(103 * 5 / 4 / 5)


def test_fewer_than_two_samples_in_the_window_give_no_rate():
    series = every_second([0, 10, 20], start=100.0)
    assert rate([], 100.0) is None
    assert rate(series, 99.0, 5.0) is None  # before the first sample
    assert rate(series, 100.5, 5.0) is None  # one sample in the window
    assert rate(series, 101.0, 5.0) is not None  # two
    assert rate(series, 106.5, 5.0) is None  # one sample left: (101.5, 106.5]
    assert rate(series, 110.0, 5.0) is None  # all samples older than the window


def test_a_counter_reset_adds_the_value_before_the_drop():
    # 10, 20, 30, then the process restarted and counted 5, then 15.
    series = every_second([10, 20, 30, 5, 15])
    # Increase 15 - 10 + 30 = 35 over 4 s, stretched by 0.5 s at each edge to 5 s.
    assert rate(series, 4.5, 5.0) == pytest.approx(35 * 5 / 4 / 5)
    two_resets = every_second([10, 20, 0, 7, 3, 13])  # restarts to 0, then again to 3
    increase = 13 - 20 + 20 + 7  # (0.5, 5.5] starts at the 20
    assert rate(two_resets, 5.5, 5.0) == pytest.approx(increase * 5 / 4 / 5)


def test_a_series_that_starts_inside_the_window_is_extrapolated_half_a_spacing():
    series = [(3.0, 1000.0), (4.0, 1010.0), (5.0, 1020.0)]
    # The first sample is 3 s from the window's start, more than 1.1 spacings:
    # Prometheus assumes the series began half a spacing (0.5 s) before it.
    assert rate(series, 5.0, 5.0) == pytest.approx(20 * 2.5 / 2 / 5)


def test_a_series_that_ends_inside_the_window_is_extrapolated_half_a_spacing():
    series = [(0.5, 1000.0), (1.5, 1010.0), (2.5, 1020.0)]
    # 0.5 s to the start (extrapolated in full), 2.5 s to the end (only 0.5 s of it).
    assert rate(series, 5.0, 5.0) == pytest.approx(20 * 3 / 2 / 5)


def test_extrapolation_stops_where_the_counter_would_have_been_zero():
    # 2, 12, 22: counting at 10/s, the counter was 0 just 0.2 s before the first sample.
    series = [(3.0, 2.0), (4.0, 12.0), (5.0, 22.0)]
    assert rate(series, 5.0, 5.0) == pytest.approx(20 * 2.2 / 2 / 5)
    # The zero point is 0.8 s back: farther than the half spacing (0.5 s) the series
    # start rule allows, so that rule wins (Prometheus 2.42 takes the 0.8 s).
    series = [(10.0, 8.0), (11.0, 18.0), (12.0, 28.0), (13.0, 38.0)]
    assert rate(series, 13.0, 4.5) == pytest.approx(30 * 3.5 / 3 / 4.5)


def test_a_window_that_is_not_positive_is_refused():
    with pytest.raises(ValueError, match="positive"):
        rate(every_second([1, 2]), 1.0, 0)


def test_sum_of_rates_ignores_a_series_appearing_mid_window():
    steady = every_second([10 * i for i in range(10)])  # 10/s
    newcomer = [(6.0, 50.0), (7.0, 50.0), (8.0, 50.0), (9.0, 50.0)]  # appears at 50, flat
    assert sum_of_rates([steady, newcomer], 9.0, 5.0) == pytest.approx(10.0)
    # The sum of the raw counters jumps by 50 when the newcomer appears: not a rate.
    summed = [(t, v + dict(newcomer).get(t, 0.0)) for t, v in steady]
    assert rate(summed, 9.0, 5.0) > 20
    assert sum_of_rates([newcomer[:1]], 9.0, 5.0) is None
    assert sum_of_rates([], 9.0) is None


# --- histogram_quantile -----------------------------------------------------------

LATENCIES = [(0.1, 50.0), (0.5, 80.0), (1.0, 100.0), (INF, 100.0)]


def test_a_quantile_in_the_first_bucket_interpolates_from_zero():
    assert bucket_quantile(0.25, LATENCIES) == pytest.approx(0.05)  # rank 25 of 50 in (0, 0.1]
    assert bucket_quantile(0.5, LATENCIES) == pytest.approx(0.1)  # rank 50: the bucket's top


def test_a_quantile_in_a_middle_bucket_interpolates_inside_it():
    assert bucket_quantile(0.65, LATENCIES) == pytest.approx(0.1 + 0.4 * 15 / 30)
    assert bucket_quantile(1.0, LATENCIES) == pytest.approx(1.0)


def test_a_quantile_in_the_inf_bucket_is_the_highest_finite_bound():
    slow = [(0.1, 10.0), (1.0, 20.0), (INF, 100.0)]
    assert bucket_quantile(0.95, slow) == 1.0
    assert bucket_quantile(0.21, slow) == 1.0


def test_a_first_bucket_at_or_below_zero_answers_its_bound():
    signed = [(-1.0, 10.0), (0.0, 20.0), (1.0, 30.0), (INF, 30.0)]
    assert bucket_quantile(0.1, signed) == -1.0
    assert bucket_quantile(0.5, signed) == pytest.approx(-1.0 + 1.0 * 5 / 10)  # rank 15 in (-1, 0]


def test_buckets_are_sorted_merged_and_made_monotonic():
    assert bucket_quantile(0.65, list(reversed(LATENCIES))) == pytest.approx(0.3)
    # Two series with le=0.1 (say from two label sets that were not summed): merged.
    assert bucket_quantile(0.5, [(0.1, 20.0), (0.1, 30.0), (INF, 100.0)]) == pytest.approx(0.1)
    # A count lower than the bucket below it is raised to it: 50, 50, 100, 100.
    dip = [(0.1, 50.0), (0.5, 40.0), (1.0, 100.0), (INF, 100.0)]
    assert bucket_quantile(0.5, dip) == pytest.approx(0.1)
    assert bucket_quantile(0.6, dip) == pytest.approx(0.5 + 0.5 * 10 / 50)


def test_no_answer_without_inf_bucket_observations_or_two_buckets():
    assert bucket_quantile(0.5, []) is None
    assert bucket_quantile(0.5, [(0.1, 5.0), (1.0, 10.0)]) is None  # no +Inf bucket
    assert bucket_quantile(0.5, [(INF, 10.0)]) is None  # a single bucket
    assert bucket_quantile(0.5, [(0.1, 0.0), (INF, 0.0)]) is None  # no observations
    assert bucket_quantile(0.0, [(0.1, 0.0), (1.0, 5.0), (INF, 5.0)]) is None  # 0/0 in Prometheus
    assert bucket_quantile(0.0, LATENCIES) == 0.0


def test_q_outside_zero_to_one_answers_as_prometheus_does():
    assert bucket_quantile(-0.1, LATENCIES) == -INF
    assert bucket_quantile(1.1, LATENCIES) == INF
    assert bucket_quantile(math.nan, LATENCIES) is None


def test_quantile_of_rates_sums_each_buckets_rates_first():
    # Two label sets: (0.1, 1, +Inf) grow by 2, 4, 4 and 0, 2, 4 per second.
    a = {0.1: 2, 1.0: 4, INF: 4}
    b = {0.1: 0, 1.0: 2, INF: 4}
    buckets = {
        le: [
            every_second([a[le] * i for i in range(8)]),
            every_second([b[le] * i for i in range(8)]),
        ]
        for le in a
    }
    # Summed rates 2, 6, 8: rank 4 lies in (0.1, 1], 2 of its 4 in.
    assert quantile_of_rates(0.5, buckets, 7.0, 5.0) == pytest.approx(0.1 + 0.9 * 2 / 4)
    assert quantile_of_rates(0.5, buckets, 100.0, 5.0) is None  # no samples: no rates


# --- the same samples, asked of a real Prometheus ---------------------------------

WINDOWS_S = (5.0, 2.5)
STEP_MS = 250


def every_ms(values: list[float]) -> list[tuple[int, float]]:
    """A series scraped once a second, in milliseconds."""
    return [(i * 1000, float(v)) for i, v in enumerate(values)]


def _rate_series() -> dict[str, list[tuple[int, float]]]:
    """Counter series as ``(time in ms from the base, value)``, one per situation."""
    rng = random.Random(20251128)
    jitter, t_ms, value = [], 0, 1000.0
    while t_ms < 40_000:
        jitter.append((t_ms, value))
        t_ms += rng.randint(800, 1400)  # late and early scrapes
        value += rng.choice([0, 0, 1, 3, 7, 20])
        if rng.random() < 0.08:
            value = rng.choice([0.0, 2.0, 5.0])  # the app restarted
    return {
        "steady": [(i * 1000, 3.0 * i) for i in range(41)],
        "jitter": jitter,
        "resets": every_ms([0, 5, 9, 14, 2, 8, 0, 0, 4, 11, 30, 3, 6, 9, 12, 15, 1, 2, 3, 4, 5]),
        "late_start": [(12_000 + i * 1000, 3.0 + 10 * i) for i in range(10)],
        "late_start_high": [(12_000 + i * 1000, 5000.0 + 10 * i) for i in range(10)],
        "early_end": [(i * 1000, 100.0 + 4 * i) for i in range(15)],
        "missed_scrapes": [(t, t / 100) for t in (0, 1000, 2000, 6000, 7000, 8000, 13000, 14000)],
    }


HANDLERS = {  # per handler: (start ms, +Inf bucket's increment per scrape, fractions per le)
    "a": (0, 10, {"0.005": 0.1, "0.025": 0.6, "0.1": 0.9, "+Inf": 1.0}),
    "b": (9_000, 4, {"0.005": 0.0, "0.025": 0.25, "0.1": 0.5, "+Inf": 1.0}),  # appears later
}


def _latency_buckets() -> dict[tuple[str, str], list[tuple[int, float]]]:
    """A latency histogram's bucket counters, ``(handler, le) -> series``."""
    series = {}
    for handler, (start, per_scrape, fractions) in HANDLERS.items():
        for le, fraction in fractions.items():
            series[handler, le] = [
                (start + i * 1000, math.floor(per_scrape * fraction * i + 0.5))
                for i in range((30_000 - start) // 1000)
            ]
    return series


# Instant bucket sets: set name -> [(le label, count)], asked at BUCKETS_AT_MS.
BUCKET_SETS = {
    "latencies": [("0.1", 50), ("0.5", 80), ("1", 100), ("+Inf", 100)],
    "all_in_inf": [("0.1", 10), ("1", 20), ("+Inf", 100)],
    "signed": [("-1", 10), ("0", 20), ("1", 30), ("+Inf", 30)],
    "dip": [("0.1", 50), ("0.5", 40), ("1", 100), ("+Inf", 100)],
    "duplicate_le": [("0.1", 20), ("0.10", 30), ("1", 60), ("+Inf", 100)],
    "no_inf": [("0.1", 5), ("1", 10)],
    "empty": [("0.1", 0), ("1", 0), ("+Inf", 0)],
    "empty_first": [("0.1", 0), ("1", 5), ("+Inf", 5)],
}
BUCKETS_AT_MS = 1000
QUANTILES = ("-0.5", "0", "0.01", "0.25", "0.5", "0.65", "0.9", "0.95", "0.99", "1", "1.5", "NaN")


def _openmetrics(base_s: int) -> str:
    def at(t_ms: int) -> str:
        return f"{base_s + t_ms // 1000}.{t_ms % 1000:03d}"

    lines = []
    for name, points in _rate_series().items():
        lines.append(f"# TYPE {name} gauge")  # gauge: any value goes, rate() does not mind
        lines += [f"{name} {v!r} {at(t)}" for t, v in points]
    lines.append("# TYPE latency_bucket gauge")
    for (handler, le), points in _latency_buckets().items():
        lines += [
            f'latency_bucket{{handler="{handler}",le="{le}"}} {v!r} {at(t)}' for t, v in points
        ]
    lines.append("# TYPE buckets gauge")
    for set_name, buckets in BUCKET_SETS.items():
        for le, count in buckets:
            lines.append(f'buckets{{set="{set_name}",le="{le}"}} {count} {at(BUCKETS_AT_MS)}')
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory) -> Iterator[tuple[PrometheusServer, int]]:
    """A Prometheus serving only the samples above, loaded as a TSDB block; stopped after."""
    binary, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if binary is None or promtool is None:
        pytest.skip(
            "the prometheus and promtool binaries are not installed (apt-get install prometheus)"
        )
    home = tmp_path_factory.mktemp("prometheus")
    base_s = (int(time.time()) // 3600 - 3) * 3600  # a whole hour, safely in the past
    (home / "samples.om").write_text(_openmetrics(base_s))
    loaded = subprocess.run(
        [
            promtool,
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--quiet",
            str(home / "samples.om"),
            str(home / "data"),
        ],
        capture_output=True,
        text=True,
    )
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    (home / "prometheus.yml").write_text("")  # nothing to scrape
    port = free_port()
    with open(home / "prometheus.log", "w") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--storage.tsdb.path={home / 'data'}",
                f"--config.file={home / 'prometheus.yml'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = PrometheusServer(process, f"http://127.0.0.1:{port}", home)
    try:
        _wait_until_ready(server)
        yield server, base_s, _major_version(binary)
    finally:
        server.stop()
        assert process.poll() is not None  # nothing left running


def _major_version(binary: str) -> int:
    """2 or 3: Prometheus 3 made range windows open on the left, as :func:`rate` has them."""
    banner = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout
    found = re.search(r"version (\d+)\.", banner)
    assert found, f"no version in {banner!r}"
    return int(found.group(1))


def _wait_until_ready(server: PrometheusServer, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(
                f"prometheus exited: {(server.home / 'prometheus.log').read_text()[-2000:]}"
            )
        try:
            if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    pytest.fail(f"prometheus was not ready after {timeout_s} s")


def _as_number(text: str) -> float | None:
    """Prometheus's answer as ours: NaN is "no answer"."""
    value = float(text)  # also "+Inf" and "-Inf"
    return None if math.isnan(value) else value


def _range(
    server: PrometheusServer, base_s: int, expr: str, end_ms: int
) -> dict[int, float | None]:
    """``expr`` every STEP_MS from the base to ``end_ms``: {time in ms: value}."""
    result = server.query_range(expr, base_s, base_s + end_ms / 1000, STEP_MS / 1000)
    assert len(result) <= 1, result
    values = result[0]["values"] if result else []
    return {round((float(t) - base_s) * 1000): _as_number(v) for t, v in values}


def _agrees(ours: float | None, theirs: float | None) -> bool:
    if ours is None or theirs is None:
        return ours is theirs
    return ours == pytest.approx(theirs, rel=1e-9, abs=1e-12)


def test_rate_agrees_with_prometheus(prometheus):
    server, base_s, major = prometheus
    compared = 0
    for name, points in _rate_series().items():
        series = [(t / 1000, v) for t, v in points]
        sample_times = {t for t, _ in points}
        for window_s in WINDOWS_S:
            window_ms = int(window_s * 1000)
            theirs = _range(server, base_s, f"rate({name}[{window_ms}ms])", 45_000)
            for t_ms in range(0, 45_001, STEP_MS):
                if t_ms - window_ms in sample_times and major < 3:
                    continue  # a sample right on the left edge: Prometheus 2 counts it, 3 not
                ours = rate(series, t_ms / 1000, window_s)
                assert _agrees(ours, theirs.get(t_ms)), (
                    name,
                    window_s,
                    t_ms,
                    ours,
                    theirs.get(t_ms),
                )
                compared += ours is not None
    assert compared > 500  # most of those times had a rate to compare


def test_histogram_quantile_agrees_with_prometheus(prometheus):
    server, base_s, _ = prometheus
    for q in QUANTILES:
        answers = server.query(
            f"histogram_quantile({q}, buckets)", at=base_s + BUCKETS_AT_MS / 1000
        )
        theirs = {a["metric"]["set"]: _as_number(a["value"][1]) for a in answers}
        for set_name, buckets in BUCKET_SETS.items():
            ours = bucket_quantile(float(q), [(float(le), float(count)) for le, count in buckets])
            assert _agrees(ours, theirs[set_name]), (set_name, q, ours, theirs[set_name])


def test_quantile_of_rates_agrees_with_prometheus(prometheus):
    server, base_s, major = prometheus
    by_le: dict[float, list] = {}
    for (_, le), points in _latency_buckets().items():
        by_le.setdefault(float(le), []).append([(t / 1000, v) for t, v in points])
    for q in ("0.5", "0.95"):
        expr = f"histogram_quantile({q}, sum by (le) (rate(latency_bucket[5s])))"
        theirs = _range(server, base_s, expr, 35_000)
        answered = 0
        for t_ms in range(0, 35_001, STEP_MS):
            if t_ms % 1000 == 0 and major < 3:
                continue  # samples right on the left edge (see test_rate_agrees_with_prometheus)
            ours = quantile_of_rates(float(q), by_le, t_ms / 1000, 5.0)
            assert _agrees(ours, theirs.get(t_ms)), (q, t_ms, ours, theirs.get(t_ms))
            answered += ours is not None
        assert answered > 50
