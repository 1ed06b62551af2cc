"""ipywidgets front ends for the labs. Each calls a plain function with the same parameters,
which a test (or a learner without widgets) can call directly."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import ipywidgets as w
import matplotlib.pyplot as plt
from IPython.display import clear_output, display
from matplotlib.figure import Figure

from labkit.labs.exhaustion import ExhaustionRun, exhaustion_lab
from labkit.labs.leaks import ACTIONS, leak_lab
from labkit.labs.tuning import TuningRun, run_tuning_lab
from labkit.messages import N_, _, say
from labkit.plots import COLORS, plot_latency, plot_pool_timeseries

__all__ = [
    "draw_exhaustion",
    "exhaustion_lab_widget",
    "leak_lab_widget",
    "show_tuning_run",
    "tuning_lab",
]


def show_tuning_run(run: TuningRun) -> None:
    """Print a tuning run's summary and draw its two plots."""
    s = run.settings
    say(
        "minsize={minsize} maxsize={maxsize} lifetime={lifetime} s, {concurrency} concurrent "
        "clients, hold {hold_ms} ms",
        **s,
    )
    print(run.result.summary)
    samples = run.result.samples
    say(
        "peak in_use {in_use}, peak waiting {waiting}",
        in_use=max((x.in_use for x in samples), default=0),
        waiting=max((x.waiting for x in samples), default=0),
    )
    display(
        plot_pool_timeseries(
            samples, run.result.records, maxsize=s["maxsize"], title=_("Pool state during the run")
        )
    )
    display(plot_latency(run.result, title=_("Latency")))
    plt.close("all")


SLIDER_LAYOUT = w.Layout(width="320px")


def _int_slider(value: int, low: int, high: int, step: int = 1) -> w.IntSlider:
    return w.IntSlider(value, low, high, step=step, layout=SLIDER_LAYOUT)


def _form(controls: dict[str, w.ValueWidget], labels: dict[str, str]) -> w.GridBox:
    """Each control beside its label, the labels in one column as wide as the longest.

    A slider's own ``description`` sits in a fixed-width box and is cut with "…"
    when it is longer; a grid column sized ``max-content`` fits every label and
    still lines the sliders up.
    """
    cells: list[w.Widget] = []
    for name, control in controls.items():
        cells += [w.Label(_(labels[name])), control]
    return w.GridBox(
        cells,
        layout=w.Layout(grid_template_columns="max-content max-content", grid_gap="0 8px"),
    )


def _lab_panel(
    controls: dict[str, w.ValueWidget],
    labels: dict[str, str],
    button_text: str,
    run: Callable[[dict, w.Output], None],
) -> w.VBox:
    """Labelled sliders, a Run button and an output area; ``run(values, output)`` does the work.

    An error is printed in the output area, where the learner sees it, and the
    button comes back either way.
    """
    button = w.Button(description=_(button_text), button_style="primary", icon="play")
    output = w.Output()

    def on_click(_button: w.Button) -> None:
        button.disabled = True
        try:
            run({name: control.value for name, control in controls.items()}, output)
        except Exception as exc:
            with output:
                print(f"{type(exc).__name__}: {exc}")
        finally:
            button.disabled = False

    button.on_click(on_click)
    return w.VBox([_form(controls, labels), button, output])


def tuning_lab(app=None, **defaults) -> w.Widget:
    """Sliders for minsize, maxsize, lifetime, concurrency and hold time; Run; plots.

    >>> tuning_lab(app)  # doctest: +SKIP
    """
    start = {"minsize": 1, "maxsize": 4, "lifetime": 300.0, "concurrency": 8, "hold_ms": 50}
    start.update(defaults)
    controls = {
        "minsize": _int_slider(start["minsize"], 0, 16),
        "maxsize": _int_slider(start["maxsize"], 1, 16),
        "lifetime": w.FloatLogSlider(
            start["lifetime"], base=10, min=0, max=3, step=0.1, layout=SLIDER_LAYOUT
        ),
        "concurrency": _int_slider(start["concurrency"], 1, 32),
        "hold_ms": _int_slider(start["hold_ms"], 20, 200, step=10),
    }
    labels = {
        "minsize": "minsize",
        "maxsize": "maxsize",
        "lifetime": N_("idle lifetime (s)"),
        "concurrency": N_("concurrency"),
        "hold_ms": N_("hold (ms)"),
    }

    def run(values: dict, output: w.Output) -> None:
        values["minsize"] = controls["minsize"].value = min(values["minsize"], values["maxsize"])
        output.clear_output()
        with output:
            show_tuning_run(run_tuning_lab(app=app, **values))

    return _lab_panel(controls, labels, N_("Run"), run)


def _axis_top(fixed: float, values: Sequence[float], headroom: float = 1.1) -> float:
    """The top of an axis: ``fixed``, or ``headroom`` above the largest value once one passes it.

    ``_axis_top(1000, [300, 900])`` is 1000; ``_axis_top(1000, [300, 1158])`` is about 1274.
    """
    largest = max(values, default=fixed)
    return fixed if largest <= fixed else largest * headroom


def draw_exhaustion(run: ExhaustionRun) -> Figure:
    """The live chart: in_use, idle and waiting over time, and the latencies so far."""
    fig, (pool_ax, latency_ax) = plt.subplots(1, 2, figsize=(11, 3.6), width_ratios=[3, 2])
    samples = list(run.samples)
    times = [s.t_s for s in samples]
    for name in ("in_use", "idle", "waiting"):
        pool_ax.step(
            times,
            [getattr(s, name) for s in samples],
            where="post",
            label=name,
            color=COLORS[name],
            linewidth=2,
        )
    pool_ax.axhline(run.maxsize, color="gray", linestyle="--", linewidth=1)
    pool_ax.set(
        xlabel=_("time (s)"),
        ylabel=_("connections / requests"),
        title=_("pool (maxsize {maxsize})").format(maxsize=run.maxsize),
    )
    pool_ax.legend(loc="upper right")
    # One snapshot of the records for both bars and colours: the burst's thread keeps
    # appending while a live frame is drawn.
    records = sorted(list(run.records), key=lambda r: r.latency_s)
    latencies = [r.latency_s * 1000 for r in records]
    colors = ["tab:green" if r.status == 200 else "tab:red" for r in records]
    latency_ax.bar(range(1, len(latencies) + 1), latencies, color=colors)
    latency_ax.axhline(run.hold_ms, color="gray", linestyle=":", linewidth=1)
    latency_ax.set(
        xlabel=_("request (fastest first)"),
        ylabel=_("latency (ms)"),
        title=_("answered: green 200, red error"),
    )
    latency_ax.set_xlim(0.5, run.concurrency + 0.5)
    # The axes are fixed from the first frame, so the live chart grows in place instead
    # of rescaling every frame: the burst lasts about one hold per round of maxsize
    # requests. A value that passes its axis (a slow machine, a queue longer than
    # expected) grows the axis, so no bar or line is ever cut off at the top.
    rounds = 1 if run.acquire_timeout is not None else math.ceil(run.concurrency / run.maxsize)
    expected_s = rounds * run.hold_ms / 1000
    counts = [getattr(s, name) for s in samples for name in ("in_use", "idle", "waiting")]
    pool_ax.set_xlim(0, _axis_top(1.15 * expected_s, times))
    pool_ax.set_ylim(-0.2, _axis_top(max(run.concurrency, run.maxsize) + 0.5, counts))
    latency_ax.set_ylim(0, _axis_top(1.15 * expected_s * 1000, latencies))
    outcomes = ", ".join(f"{k} {v}" for k, v in run.outcomes.items())
    fig.suptitle(_("Exhaustion lab: {outcomes}").format(outcomes=outcomes))
    fig.tight_layout()
    return fig


def exhaustion_lab_widget(app=None, **defaults) -> w.Widget:
    """Sliders for maxsize, concurrency, hold time and acquire timeout; Run; a live chart."""
    start = {"maxsize": 2, "concurrency": 6, "hold_ms": 300, "acquire_timeout_ms": 0}
    start.update(defaults)
    controls = {
        "maxsize": _int_slider(start["maxsize"], 1, 10),
        "concurrency": _int_slider(start["concurrency"], 1, 20),
        "hold_ms": _int_slider(start["hold_ms"], 50, 1000, step=50),
        "acquire_timeout_ms": _int_slider(start["acquire_timeout_ms"], 0, 1000, step=50),
    }
    labels = {
        "maxsize": "maxsize",
        "concurrency": N_("concurrency"),
        "hold_ms": N_("hold (ms)"),
        "acquire_timeout_ms": N_("acquire timeout (ms, 0 = none)"),
    }

    def run(values: dict, output: w.Output) -> None:
        def redraw(burst: ExhaustionRun) -> None:
            with output:
                clear_output(wait=True)
                display(draw_exhaustion(burst))
                if burst.finished:
                    print(burst.summary())
                plt.close("all")

        timeout_s = values.pop("acquire_timeout_ms") / 1000 or None
        exhaustion_lab(**values, acquire_timeout=timeout_s, app=app, on_update=redraw)

    return _lab_panel(controls, labels, N_("Run burst"), run)


def leak_lab_widget(app=None) -> w.Widget:
    """One button per leak-lab action, and a live table of the app's sessions."""
    # Each button as wide as its text (at least 210 px, so short ones line up).
    layout = w.Layout(width="auto", min_width="210px")
    # Shown in the learner's language; each button still does its English action.
    buttons = [w.Button(description=_(action), layout=layout) for action in ACTIONS]
    action_of = {id(button): action for button, action in zip(buttons, ACTIONS, strict=True)}
    output = w.Output(layout=w.Layout(border="1px solid #ddd"))

    def act(button: w.Button) -> None:
        with output:
            clear_output(wait=True)
            try:
                print(leak_lab(action_of[id(button)], app=app).table())
            except Exception as exc:  # shown in the lab, not lost in the log
                print(f"{type(exc).__name__}: {exc}")

    for button in buttons:
        button.on_click(act)
    return w.VBox([w.HBox(buttons), output])
