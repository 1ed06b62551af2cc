"""ipywidgets front ends for the labs. Each calls a plain function with the same parameters,
which a test (or a learner without widgets) can call directly."""

from __future__ import annotations

import ipywidgets as w
import matplotlib.pyplot as plt
from IPython.display import display

from labkit.plots import plot_latency, plot_pool_timeseries
from labkit.tuning import TuningRun, run_tuning_lab


def show_tuning_run(run: TuningRun) -> None:
    """Print a tuning run's summary and draw its two plots."""
    s = run.settings
    print(
        f"minsize={s['minsize']} maxsize={s['maxsize']} lifetime={s['lifetime']} s, "
        f"{s['concurrency']} concurrent clients, hold {s['hold_ms']} ms"
    )
    print(run.result.summary)
    samples = run.result.samples
    peak_waiting = max((x.waiting for x in samples), default=0)
    print(f"peak in_use {max((x.in_use for x in samples), default=0)}, peak waiting {peak_waiting}")
    display(
        plot_pool_timeseries(
            samples, run.result.records, maxsize=s["maxsize"], title="Pool state during the run"
        )
    )
    display(plot_latency(run.result, title="Latency"))
    plt.close("all")


def tuning_lab(app=None, **defaults) -> w.Widget:
    """Sliders for minsize, maxsize, lifetime, concurrency and hold time; Run; plots.

    >>> tuning_lab(app)  # doctest: +SKIP
    """
    start = {
        "minsize": 1,
        "maxsize": 4,
        "lifetime": 300.0,
        "concurrency": 8,
        "hold_ms": 50,
        **defaults,
    }
    style = {"description_width": "150px"}
    layout = w.Layout(width="460px")
    controls = {
        "minsize": w.IntSlider(
            start["minsize"], 0, 16, description="minsize", style=style, layout=layout
        ),
        "maxsize": w.IntSlider(
            start["maxsize"], 1, 16, description="maxsize", style=style, layout=layout
        ),
        "lifetime": w.FloatLogSlider(
            start["lifetime"],
            base=10,
            min=0,
            max=3,
            step=0.1,
            description="idle lifetime (s)",
            style=style,
            layout=layout,
        ),
        "concurrency": w.IntSlider(
            start["concurrency"], 1, 32, description="concurrency", style=style, layout=layout
        ),
        "hold_ms": w.IntSlider(
            start["hold_ms"], 20, 200, step=10, description="hold (ms)", style=style, layout=layout
        ),
    }
    run_button = w.Button(description="Run", button_style="primary", icon="play")
    output = w.Output()

    def on_run(_button: w.Button) -> None:
        values = {name: control.value for name, control in controls.items()}
        values["minsize"] = min(values["minsize"], values["maxsize"])
        controls["minsize"].value = values["minsize"]
        run_button.disabled = True
        output.clear_output()
        with output:
            try:
                show_tuning_run(run_tuning_lab(app=app, **values))
            finally:
                run_button.disabled = False

    run_button.on_click(on_run)
    return w.VBox([*controls.values(), run_button, output])
