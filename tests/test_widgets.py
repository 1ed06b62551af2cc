"""The exhaustion lab's chart, drawn from a hand-made run: no database, no browser."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from labkit.infra.load import RequestRecord
from labkit.labs.exhaustion import ExhaustionRun
from labkit.pool import PoolSample
from labkit.widgets import draw_exhaustion

# maxsize 2, 6 requests holding 300 ms: three rounds, so the fixed axes are drawn for
# about 0.9 s and 900 ms (with 15 % to spare).
SETTINGS = {"maxsize": 2, "concurrency": 6, "hold_ms": 300, "acquire_timeout": None}


def burst(latencies_ms: list[float], duration_s: float) -> ExhaustionRun:
    """A finished run whose requests took ``latencies_ms``, sampled for ``duration_s``."""
    run = ExhaustionRun(**SETTINGS)
    run.records = [
        RequestRecord("/lab/hold", start_s=0.0, latency_s=ms / 1000, status=200, error=None)
        for ms in latencies_ms
    ]
    steps = 20
    run.samples = [
        PoolSample(
            size=2, idle=0, in_use=2, waiting=4, min_size=1, max_size=2, t_s=duration_s * i / steps
        )
        for i in range(steps + 1)
    ]
    run.finished = True
    return run


@pytest.fixture
def draw():
    figures = []

    def _draw(run: ExhaustionRun):
        figures.append(draw_exhaustion(run))
        return figures[-1].axes

    yield _draw
    for figure in figures:
        plt.close(figure)


def test_axes_stay_fixed_while_values_fit(draw):
    """The live chart grows in place: values under the first frame's axes leave them alone."""
    _, fitting_latency = draw(burst([300, 310, 600, 610, 900, 910], duration_s=0.92))
    _, first_frame_latency = draw(burst([], duration_s=0.05))
    assert fitting_latency.get_ylim() == first_frame_latency.get_ylim()


def test_axes_grow_when_a_value_passes_them(draw):
    """The two slowest bars (1158 ms) once rose past a fixed latency axis; now it grows."""
    _, fixed = draw(burst([], duration_s=0.05))
    slow = [300, 310, 600, 610, 1150, 1158]
    assert max(slow) > fixed.get_ylim()[1], "the case must pass the fixed axis"

    pool, latency = draw(burst(slow, duration_s=1.3))
    tallest = max(bar.get_height() for bar in latency.patches)
    assert tallest == pytest.approx(1158)
    assert latency.get_ylim()[1] > tallest  # room above the tallest bar: nothing clipped
    assert pool.get_xlim()[1] > 1.3  # the pool's time axis grew with the run
