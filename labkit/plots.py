"""Plots for the labs. Each returns a matplotlib Figure with a title and labelled axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from labkit.fonts import use_cjk_fallback
from labkit.infra.load import LoadResult, RequestRecord
from labkit.messages import N_, _
from labkit.pool import PoolSample

# Chart labels are said in the learner's language: Chinese needs a CJK font behind DejaVu.
use_cjk_fallback()

__all__ = [
    "COLORS",
    "plot_alert",
    "plot_bars",
    "plot_connections_over_time",
    "plot_direct_vs_pgbouncer",
    "plot_first_wave",
    "plot_latency",
    "plot_monitoring_views",
    "plot_outage",
    "plot_pool_timeseries",
    "plot_queue_predictions",
    "plot_sweep",
    "plot_worker_ladder",
]

COLORS = {"in_use": "tab:red", "idle": "tab:green", "size": "tab:blue", "waiting": "tab:orange"}


def plot_latency(result: LoadResult, title: str = N_("Request latency")) -> Figure:
    """Histogram of latencies beside the p50/p95/p99 bars."""
    summary = result.summary
    latencies = [r.latency_s * 1000 for r in result.records]
    fig, (hist, bars) = plt.subplots(1, 2, figsize=(10, 3.5), width_ratios=[2, 1])
    hist.hist(latencies, bins=40, color="tab:blue", alpha=0.8)
    hist.set(xlabel=_("latency (ms)"), ylabel=_("requests"), title=_("distribution"))
    names = ["p50", "p95", "p99"]
    values = [summary.p50_ms, summary.p95_ms, summary.p99_ms]
    bars.bar(names, values, color=["tab:green", "tab:orange", "tab:red"])
    bars.bar_label(bars.containers[0], fmt="%.1f")
    bars.set(ylabel=_("latency (ms)"), title=_("percentiles"))
    fig.suptitle(
        _("{title}: {requests} requests, {rps:.0f} req/s").format(
            title=_(title), requests=summary.requests, rps=summary.throughput_rps
        )
    )
    fig.tight_layout()
    return fig


def plot_bars(values: dict[str, float], *, ylabel: str, title: str, fmt: str = "%.1f") -> Figure:
    """One bar per label, each with its value written on top (for side-by-side comparisons).

    The labels, ``ylabel`` and ``title`` are English keys, said in the learner's language
    (so are the text arguments of every plot here): a notebook passes its English and
    marks it with ``N_`` in its lab module (``labkit.labs.principles.PLOT_TEXT``).
    """
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(
        [_(label) for label in values],
        list(values.values()),
        color=["tab:blue", "tab:gray", "tab:orange"],
    )
    ax.bar_label(ax.containers[0], fmt=fmt)
    ax.set(ylabel=_(ylabel), title=_(title))
    fig.tight_layout()
    return fig


def in_flight(records: Sequence[RequestRecord], times: Sequence[float]) -> list[int]:
    """How many requests were in flight at each of ``times``."""
    return [sum(r.start_s <= t < r.start_s + r.latency_s for r in records) for t in times]


def plot_pool_timeseries(
    samples: Sequence[PoolSample],
    records: Sequence[RequestRecord] = (),
    *,
    maxsize: int | None = None,
    title: str = N_("Pool state over time"),
    series: Sequence[str] = ("size", "in_use", "idle", "waiting"),
) -> Figure:
    """size, in_use, idle and waiting over time, with requests in flight overlaid."""
    fig, ax = plt.subplots(figsize=(10, 4))
    times = [s.t_s for s in samples]
    for name in series:
        # size is drawn wide and pale, so the lines that often equal it stay visible on top
        width = {"linewidth": 6, "alpha": 0.35} if name == "size" else {"linewidth": 2}
        values = [getattr(s, name) for s in samples]
        ax.step(times, values, where="post", label=name, color=COLORS[name], **width)
    if records:
        ax.plot(
            times,
            in_flight(records, times),
            color="black",
            linestyle=":",
            label=_("requests in flight"),
        )
    if maxsize is not None:
        ax.axhline(maxsize, color="gray", linestyle="--", linewidth=1)
        ax.annotate(
            f"maxsize = {maxsize}",
            (times[0] if times else 0, maxsize),
            textcoords="offset points",
            xytext=(4, 4),
            color="gray",
        )
    ax.set(
        xlabel=_("time since the run began (s)"),
        ylabel=_("connections / requests"),
        title=_(title),
    )
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_sweep(
    xs: Sequence[float],
    throughput: Sequence[float],
    p95_ms: Sequence[float],
    *,
    xlabel: str,
    title: str,
    mark_x: float | None = None,
    mark_label: str = "",
) -> Figure:
    """Throughput (left axis) and p95 latency (right axis) against one parameter."""
    fig, left = plt.subplots(figsize=(8, 4))
    left.plot(xs, throughput, "o-", color="tab:blue", label=_("throughput"))
    left.set(xlabel=_(xlabel), ylabel=_("throughput (req/s)"), title=_(title))
    left.set_xscale("log", base=2)
    left.set_xticks(list(xs), [str(x) for x in xs])
    left.set_ylim(bottom=0)
    right = left.twinx()
    right.plot(xs, p95_ms, "s--", color="tab:red", label=_("p95 latency"))
    right.set(ylabel=_("p95 latency (ms)"))
    right.set_ylim(bottom=0)
    if mark_x is not None:
        left.axvline(mark_x, color="gray", linestyle=":")
        left.annotate(
            _(mark_label) if mark_label else "",
            (mark_x, 0),
            textcoords="offset points",
            xytext=(4, 8),
            color="gray",
        )
    lines = left.get_lines()[:1] + right.get_lines()[:1]
    left.legend(lines, [ln.get_label() for ln in lines], loc="center right")
    left.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_first_wave(cold_ms: Sequence[float], warm_ms: Sequence[float], *, title: str) -> Figure:
    """Latencies of the first wave of simultaneous requests, cold pool against warm pool."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    waves = range(1, len(cold_ms) + 1)
    ax.plot(waves, cold_ms, "o-", label=_("minsize=1 (cold)"))
    ax.plot(waves, warm_ms, "s-", label=_("minsize={warm} (warm)").format(warm=len(warm_ms)))
    ax.set(
        xlabel=_("request in the first wave (fastest to slowest)"),
        ylabel=_("latency (ms)"),
        title=_(title),
    )
    ax.legend()
    return fig


def plot_outage(run) -> Figure:
    """An outage lab run (``labkit.labs.outage``): responses per 100 ms by status, and the pool.

    The shaded span is the time the server was down.
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True)
    end = max((r.start_s + r.latency_s for r in run.records), default=1.0)
    edges = [i * 0.1 for i in range(int(end / 0.1) + 2)]
    for status, color in ((200, "tab:green"), (503, "tab:orange"), (500, "tab:red")):
        starts = [r.start_s for r in run.records if r.status == status]
        if starts or status != 500:
            top.hist(starts, bins=edges, color=color, alpha=0.8, label=f"{status}")
    top.set(
        ylabel=_("responses per 100 ms"), title=_("Requests while the database stops and restarts")
    )
    top.legend(loc="upper right", title=_("status"))
    times = [s.t_s for s in run.samples]
    for name in ("size", "in_use", "idle"):
        values = [getattr(s, name) for s in run.samples]
        bottom.step(times, values, where="post", label=name, color=COLORS[name], linewidth=2)
    bottom.set(xlabel=_("time since the run began (s)"), ylabel=_("connections"))
    bottom.legend(loc="upper right")
    for ax in (top, bottom):
        ax.axvspan(run.stopped_at_s, run.answering_at_s, color="gray", alpha=0.15)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_monitoring_views(views: dict, start: float, *, title: str) -> Figure:
    """Notebook 03's four panels: pool gauges, request rate, request p95, acquire-wait p95.

    ``views`` maps a view name (``labkit.monitoring.VIEWS``) to its ``[(time, value)]``.
    """
    fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex=True)
    styles = {
        "used": {"color": COLORS["in_use"], "linewidth": 3},
        "idle": {"color": COLORS["idle"]},
        "waiting": {"color": COLORS["waiting"], "linestyle": "--"},
    }
    panels = [
        (axes[0][0], ["used", "idle", "waiting"], _("connections / requests"), 1.0),
        (axes[0][1], ["request_rate"], _("requests per second"), 1.0),
        (axes[1][0], ["latency_p95"], _("request latency p95 (ms)"), 1000.0),
        (axes[1][1], ["acquire_wait_p95"], _("acquire wait p95 (ms)"), 1000.0),
    ]
    for ax, names, ylabel, scale in panels:
        for name in names:
            points = views.get(name, [])
            ax.plot(
                [t - start for t, _v in points],
                [v * scale for _t, v in points],
                label=name,
                **styles.get(name, {}),
            )
        ax.set(ylabel=ylabel)
        ax.legend(loc="upper right")
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel(_("seconds since the load began"))
    fig.suptitle(_(title))
    fig.tight_layout()
    return fig


# ---------------------------------------------------------- notebooks 09 and 10: scaling out
RUN_COLORS = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]


def plot_worker_ladder(ladder) -> Figure:
    """Server connections after each step of a worker ladder (``scale_out.connection_ladder``).

    Bars: the workers' sessions that PostgreSQL listed; dots: workers × maxsize; the
    dashed line: max_connections. A refused step is marked with a red cross.
    """
    steps = ladder.steps
    labels = [
        (_("{count} workers") if s.asked > 1 else _("{count} worker")).format(count=s.asked)
        for s in steps
    ]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.bar(labels, [s.workers_sessions for s in steps], color="tab:blue", alpha=0.8)
    ax.bar_label(bars)
    asked = [s.asked * s.maxsize for s in steps]
    ax.plot(labels, asked, "o", color="black", label=_("workers asked × maxsize"))
    limit = steps[0].max_connections
    ax.axhline(limit, color="tab:red", linestyle="--", label=f"max_connections = {limit}")
    for label, step in zip(labels, steps, strict=True):
        if step.refused:
            ax.plot([label], [limit], "x", color="tab:red", markersize=14, mew=3)
    ax.set(
        xlabel=_("worker processes asked for"),
        ylabel=_("server connections (sessions)"),
        title=_("Each worker brings its own pool of {maxsize}").format(maxsize=steps[0].maxsize),
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_alert(waiting: Sequence, states: Sequence, start: float, *, title: str) -> Figure:
    """Waiting requests and an alert's state (0 off, 1 pending, 2 firing) over time."""
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.step([t - start for t, _v in waiting], [v for _t, v in waiting], where="post",
            label=_("waiting requests"), color=COLORS["waiting"])  # fmt: skip
    ax.step([t - start for t, _s in states], [s for _t, s in states], where="post",
            label=_("alert: 0 off, 1 pending, 2 firing"), color="black")  # fmt: skip
    ax.set(xlabel=_("seconds since the exhaustion began"), ylabel=_("requests / alert state"),
           title=_(title))  # fmt: skip
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_connections_over_time(runs: Sequence, *, title: str) -> Figure:
    """Server connections (solid) and, behind PgBouncer, client connections (dashed) over time.

    ``runs`` are ``scale_out.LoadRun`` objects.
    """
    fig, ax = plt.subplots(figsize=(10, 4))
    for run, color in zip(runs, RUN_COLORS, strict=False):  # at most four runs
        times = [s.t_s for s in run.samples]
        ax.step(
            times,
            [s.server_connections for s in run.samples],
            where="post",
            color=color,
            linewidth=2,
            label=_("{label}: server connections").format(label=run.label),
        )
        if any(s.pool is not None for s in run.samples):
            clients = [s.pool.clients if s.pool else 0 for s in run.samples]
            ax.step(
                times,
                clients,
                where="post",
                color=color,
                linestyle="--",
                label=_("{label}: client connections to PgBouncer").format(label=run.label),
            )
    ax.set(xlabel=_("time since the run began (s)"), ylabel=_("connections"), title=_(title))
    ax.set_ylim(bottom=0)
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_direct_vs_pgbouncer(direct, pooled) -> Figure:
    """Two ``scale_out.LoadRun`` side by side: server connections, throughput, p95."""
    figures = {
        N_("server connections (peak)"): (
            [direct.peak_server_connections, pooled.peak_server_connections],
            "%d",
        ),
        N_("throughput (req/s)"): ([direct.throughput_rps, pooled.throughput_rps], "%.1f"),
        N_("p95 latency (ms)"): ([direct.p95_ms, pooled.p95_ms], "%.0f"),
    }
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    for ax, (ylabel, (values, fmt)) in zip(axes, figures.items(), strict=True):
        ax.bar([direct.label, pooled.label], values, color=["tab:blue", "tab:orange"])
        ax.bar_label(ax.containers[0], fmt=fmt)
        ax.set(ylabel=_(ylabel))
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle(_("The same offered load, without and with PgBouncer"))
    fig.tight_layout()
    return fig


def plot_queue_predictions(points) -> Figure:
    """Mean wait for a server connection against utilisation: models (lines), runs (dots).

    ``points`` are ``scale_out.QueuePoint`` objects from runs at the same pool size
    and hold time.
    """
    from labkit.labs.queueing import mgc_wait, mmc_wait

    first = points[0]
    servers, hold_s = first.mmc.servers, first.mmc.service_time_s
    rhos = [i / 100 for i in range(5, 96)]
    rates = [rho * servers / hold_s for rho in rhos]
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.plot(
        rhos,
        [1000 * mmc_wait(r, hold_s, servers).mean_wait_s for r in rates],
        color="tab:blue",
        label=_("Erlang C (M/M/c): exponential hold times"),
    )
    ax.plot(
        rhos,
        [1000 * mgc_wait(r, hold_s, servers, 0.0).mean_wait_s for r in rates],
        color="tab:blue",
        linestyle="--",
        label=_("M/D/c (fixed hold time), Allen–Cunneen"),
    )
    ax.plot(
        [p.utilisation for p in points],
        [p.measured_wait_ms for p in points],
        "o",
        color="tab:red",
        markersize=8,
        label=_("measured by PgBouncer (SHOW STATS)"),
    )
    top = max(p.measured_wait_ms for p in points)
    ax.set_ylim(0, max(top * 1.3, 1000 * mmc_wait(rates[-6], hold_s, servers).mean_wait_s))
    ax.set(
        xlabel=_("utilisation ρ = λ·S / c"),
        ylabel=_("mean wait per request (ms)"),
        title=_("Waiting for one of {servers} server connections, {hold_ms:.0f} ms each").format(
            servers=servers, hold_ms=hold_s * 1000
        ),
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
