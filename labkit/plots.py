"""Plots for the labs. Each returns a matplotlib Figure with a title and labelled axes."""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from labkit.fonts import use_cjk_fallback
from labkit.infra.load import LoadResult, RequestRecord
from labkit.pool import PoolSample

# Chart labels are said in the learner's language: Chinese needs a CJK font behind DejaVu.
use_cjk_fallback()

__all__ = [
    "COLORS",
    "plot_alert",
    "plot_bars",
    "plot_connections_over_time",
    "plot_direct_vs_pgbouncer",
    "plot_latency",
    "plot_monitoring_views",
    "plot_outage",
    "plot_pool_timeseries",
    "plot_queue_predictions",
    "plot_sweep",
    "plot_worker_ladder",
]

COLORS = {"in_use": "tab:red", "idle": "tab:green", "size": "tab:blue", "waiting": "tab:orange"}


def plot_latency(result: LoadResult, title: str = "Request latency") -> Figure:
    """Histogram of latencies beside the p50/p95/p99 bars."""
    summary = result.summary
    latencies = [r.latency_s * 1000 for r in result.records]
    fig, (hist, bars) = plt.subplots(1, 2, figsize=(10, 3.5), width_ratios=[2, 1])
    hist.hist(latencies, bins=40, color="tab:blue", alpha=0.8)
    hist.set(xlabel="latency (ms)", ylabel="requests", title="distribution")
    names = ["p50", "p95", "p99"]
    values = [summary.p50_ms, summary.p95_ms, summary.p99_ms]
    bars.bar(names, values, color=["tab:green", "tab:orange", "tab:red"])
    bars.bar_label(bars.containers[0], fmt="%.1f")
    bars.set(ylabel="latency (ms)", title="percentiles")
    fig.suptitle(f"{title}: {summary.requests} requests, {summary.throughput_rps:.0f} req/s")
    fig.tight_layout()
    return fig


def plot_bars(values: dict[str, float], *, ylabel: str, title: str, fmt: str = "%.1f") -> Figure:
    """One bar per label, each with its value written on top (for side-by-side comparisons)."""
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(list(values), list(values.values()), color=["tab:blue", "tab:gray", "tab:orange"])
    ax.bar_label(ax.containers[0], fmt=fmt)
    ax.set(ylabel=ylabel, title=title)
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
    title: str = "Pool state over time",
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
            label="requests in flight",
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
    ax.set(xlabel="time since the run began (s)", ylabel="connections / requests", title=title)
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
    left.plot(xs, throughput, "o-", color="tab:blue", label="throughput")
    left.set(xlabel=xlabel, ylabel="throughput (req/s)", title=title)
    left.set_xscale("log", base=2)
    left.set_xticks(list(xs), [str(x) for x in xs])
    left.set_ylim(bottom=0)
    right = left.twinx()
    right.plot(xs, p95_ms, "s--", color="tab:red", label="p95 latency")
    right.set(ylabel="p95 latency (ms)")
    right.set_ylim(bottom=0)
    if mark_x is not None:
        left.axvline(mark_x, color="gray", linestyle=":")
        left.annotate(
            mark_label, (mark_x, 0), textcoords="offset points", xytext=(4, 8), color="gray"
        )
    lines = left.get_lines()[:1] + right.get_lines()[:1]
    left.legend(lines, [ln.get_label() for ln in lines], loc="center right")
    left.grid(alpha=0.3)
    fig.tight_layout()
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
    top.set(ylabel="responses per 100 ms", title="Requests while the database stops and restarts")
    top.legend(loc="upper right", title="status")
    times = [s.t_s for s in run.samples]
    for name in ("size", "in_use", "idle"):
        values = [getattr(s, name) for s in run.samples]
        bottom.step(times, values, where="post", label=name, color=COLORS[name], linewidth=2)
    bottom.set(xlabel="time since the run began (s)", ylabel="connections")
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
        (axes[0][0], ["used", "idle", "waiting"], "connections / requests", 1.0),
        (axes[0][1], ["request_rate"], "requests per second", 1.0),
        (axes[1][0], ["latency_p95"], "request latency p95 (ms)", 1000.0),
        (axes[1][1], ["acquire_wait_p95"], "acquire wait p95 (ms)", 1000.0),
    ]
    for ax, names, ylabel, scale in panels:
        for name in names:
            points = views.get(name, [])
            ax.plot(
                [t - start for t, _ in points],
                [v * scale for _, v in points],
                label=name,
                **styles.get(name, {}),
            )
        ax.set(ylabel=ylabel)
        ax.legend(loc="upper right")
        ax.grid(alpha=0.3)
    for ax in axes[1]:
        ax.set_xlabel("seconds since the load began")
    fig.suptitle(title)
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
    labels = [f"{s.asked} worker{'s' if s.asked > 1 else ''}" for s in steps]
    fig, ax = plt.subplots(figsize=(8, 4))
    bars = ax.bar(labels, [s.workers_sessions for s in steps], color="tab:blue", alpha=0.8)
    ax.bar_label(bars)
    asked = [s.asked * s.maxsize for s in steps]
    ax.plot(labels, asked, "o", color="black", label="workers asked × maxsize")
    limit = steps[0].max_connections
    ax.axhline(limit, color="tab:red", linestyle="--", label=f"max_connections = {limit}")
    for label, step in zip(labels, steps, strict=True):
        if step.refused:
            ax.plot([label], [limit], "x", color="tab:red", markersize=14, mew=3)
    ax.set(
        xlabel="worker processes asked for",
        ylabel="server connections (sessions)",
        title=f"Each worker brings its own pool of {steps[0].maxsize}",
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    return fig


def plot_alert(waiting: Sequence, states: Sequence, start: float, *, title: str) -> Figure:
    """Waiting requests and an alert's state (0 off, 1 pending, 2 firing) over time."""
    fig, ax = plt.subplots(figsize=(10, 3.5))
    ax.step([t - start for t, _ in waiting], [v for _, v in waiting], where="post",
            label="waiting requests", color=COLORS["waiting"])  # fmt: skip
    ax.step([t - start for t, _ in states], [s for _, s in states], where="post",
            label="alert: 0 off, 1 pending, 2 firing", color="black")  # fmt: skip
    ax.set(xlabel="seconds since the exhaustion began", ylabel="requests / alert state",
           title=title)  # fmt: skip
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
            label=f"{run.label}: server connections",
        )
        if any(s.pool is not None for s in run.samples):
            clients = [s.pool.clients if s.pool else 0 for s in run.samples]
            ax.step(
                times,
                clients,
                where="post",
                color=color,
                linestyle="--",
                label=f"{run.label}: client connections to PgBouncer",
            )
    ax.set(xlabel="time since the run began (s)", ylabel="connections", title=title)
    ax.set_ylim(bottom=0)
    ax.legend(loc="center right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_direct_vs_pgbouncer(direct, pooled) -> Figure:
    """Two ``scale_out.LoadRun`` side by side: server connections, throughput, p95."""
    figures = {
        "server connections (peak)": (
            [direct.peak_server_connections, pooled.peak_server_connections],
            "%d",
        ),
        "throughput (req/s)": ([direct.throughput_rps, pooled.throughput_rps], "%.1f"),
        "p95 latency (ms)": ([direct.p95_ms, pooled.p95_ms], "%.0f"),
    }
    fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
    for ax, (ylabel, (values, fmt)) in zip(axes, figures.items(), strict=True):
        ax.bar([direct.label, pooled.label], values, color=["tab:blue", "tab:orange"])
        ax.bar_label(ax.containers[0], fmt=fmt)
        ax.set(ylabel=ylabel)
        ax.tick_params(axis="x", labelsize=8)
    fig.suptitle("The same offered load, without and with PgBouncer")
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
        label="Erlang C (M/M/c): exponential hold times",
    )
    ax.plot(
        rhos,
        [1000 * mgc_wait(r, hold_s, servers, 0.0).mean_wait_s for r in rates],
        color="tab:blue",
        linestyle="--",
        label="M/D/c (fixed hold time), Allen–Cunneen",
    )
    ax.plot(
        [p.utilisation for p in points],
        [p.measured_wait_ms for p in points],
        "o",
        color="tab:red",
        markersize=8,
        label="measured by PgBouncer (SHOW STATS)",
    )
    top = max(p.measured_wait_ms for p in points)
    ax.set_ylim(0, max(top * 1.3, 1000 * mmc_wait(rates[-6], hold_s, servers).mean_wait_s))
    ax.set(
        xlabel="utilisation ρ = λ·S / c",
        ylabel="mean wait per request (ms)",
        title=f"Waiting for one of {servers} server connections, {hold_s * 1000:.0f} ms each",
    )
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
