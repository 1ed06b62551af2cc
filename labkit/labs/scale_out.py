"""Notebooks 09 and 10: many app workers against one max_connections, and PgBouncer.

- :func:`connection_ladder` adds worker processes (each with its own pool) and counts
  what PostgreSQL sees after each step, until the server refuses a worker;
- :func:`run_under_load` sends load to a group of workers while it samples the
  server's connections and, behind PgBouncer, PgBouncer's own ``SHOW POOLS``;
- :func:`predicted_vs_measured` puts a queueing model's wait beside the wait
  PgBouncer measured (``SHOW STATS``).

The workers and PgBouncer are real processes (:mod:`labkit.infra.workers`,
:mod:`labkit.infra.pgbouncer`); the names a notebook needs are re-exported here.

>>> group = start_workers(0, maxsize=7, minsize=7)       # doctest: +SKIP
>>> ladder = connection_ladder(group, steps=(1, 2, 4, 5))  # doctest: +SKIP
>>> bouncer = start_pgbouncer(pool_mode="transaction", default_pool_size=4)  # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import asyncpg
import psutil

from labkit.infra.blocking import run_blocking
from labkit.infra.load import LoadResult, run_load_async
from labkit.infra.pgbouncer import (
    HOW_TO_GET_PGBOUNCER,
    PgBouncer,
    PgBouncerError,
    PoolRow,
    StatsRow,
    pgbouncer_binary,
    start_pgbouncer,
    stop_all_pgbouncers,
)
from labkit.infra.results import record_result
from labkit.infra.workers import (
    FACTORY,
    WorkerGroup,
    WorkerStartError,
    start_workers,
    stop_all_workers,
)
from labkit.labs.queueing import QueuePrediction, mgc_wait, mmc_wait
from labkit.messages import _

__all__ = [
    "HOW_TO_GET_PGBOUNCER",
    "ConnectionSample",
    "Ladder",
    "LadderStep",
    "LoadRun",
    "PgBouncer",
    "PgBouncerError",
    "PoolRow",
    "QueuePoint",
    "StatsRow",
    "WorkerGroup",
    "WorkerStartError",
    "connection_ladder",
    "leftovers",
    "mean_service_ms",
    "pgbouncer_skip_reason",
    "predict",
    "predicted_vs_measured",
    "record_comparison",
    "run_under_load",
    "start_pgbouncer",
    "start_workers",
    "stop_all",
]


def pgbouncer_skip_reason() -> str | None:
    """None when a pgbouncer binary can be used; otherwise what to do to get one."""
    try:
        binary = pgbouncer_binary()
    except PgBouncerError as exc:  # LABKIT_PGBOUNCER names something that is not a binary
        return str(exc)
    return None if binary else _(HOW_TO_GET_PGBOUNCER)


# ----------------------------------------------------------------- what the server sees
_SESSIONS_SQL = """
SELECT application_name, count(*) AS n
  FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
 GROUP BY application_name
"""


async def _server_view(conn: asyncpg.Connection) -> dict[str, int]:
    """Client sessions on the server by application_name, without our own."""
    return {row["application_name"]: row["n"] for row in await conn.fetch(_SESSIONS_SQL)}


async def _limits(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SHOW max_connections"))


# ----------------------------------------------------------------- 1. more workers
@dataclass(frozen=True)
class LadderStep:
    """What PostgreSQL saw after the group grew to ``asked`` workers."""

    asked: int  # workers the step asked for
    running: int  # workers that came up
    maxsize: int  # each worker's pool (minsize = maxsize: all opened at start)
    per_worker: dict[str, int]  # server sessions of each worker, by application_name
    server_total: int  # every client session on the server: what max_connections limits
    max_connections: int
    refused: str | None  # the error a worker died of, verbatim; None if all came up

    @property
    def predicted(self) -> int:
        """workers × maxsize: what the running workers' pools should hold."""
        return self.running * self.maxsize

    @property
    def workers_sessions(self) -> int:
        return sum(self.per_worker.values())

    def __str__(self) -> str:
        line = _(
            "{asked} worker(s) asked, {running} running: the server shows {sessions} of "
            "their connections ({running} × {maxsize} = {predicted} predicted), {total} "
            "client sessions in all, max_connections = {max_connections}"
        ).format(
            asked=self.asked,
            running=self.running,
            sessions=self.workers_sessions,
            maxsize=self.maxsize,
            predicted=self.predicted,
            total=self.server_total,
            max_connections=self.max_connections,
        )
        if self.refused:
            line += "\n  " + _("refused: {error}").format(error=self.refused)
        return line


@dataclass
class Ladder:
    """Every step of :func:`connection_ladder`; the group keeps the workers that came up."""

    steps: list[LadderStep]
    group: WorkerGroup = field(repr=False)

    @property
    def refused_at(self) -> int | None:
        """The number of workers asked for when the server refused one (None: never)."""
        return next((s.asked for s in self.steps if s.refused), None)


def connection_ladder(group: WorkerGroup, steps: tuple[int, ...] = (1, 2, 4, 5)) -> Ladder:
    """Grow ``group`` to each number of workers in ``steps`` and count its server sessions.

    Stops at the first step where a worker cannot start (PostgreSQL refused its
    connections). The workers that did start keep running in ``group``.
    """
    if list(steps) != sorted(set(steps)) or steps[0] < 1:
        raise ValueError(
            _("steps must be increasing worker counts from 1 up, got {steps}").format(steps=steps)
        )
    maxsize = int(group.settings["maxsize"])
    done: list[LadderStep] = []
    for asked in steps:
        refused = None
        missing = asked - len(group.workers)
        if missing > 0:
            try:
                group.add(missing)
            except WorkerStartError as exc:
                refused = exc.error_line or str(exc)
        done.append(_count_step(group, asked, maxsize, refused))
        if refused:
            break
    ladder = Ladder(done, group)
    last_fit = [s for s in done if not s.refused]
    record_result(
        "09.workers",
        maxsize=maxsize,
        max_connections=done[-1].max_connections,
        most_workers_running=max(s.running for s in done),
        connections_at_most_workers=last_fit[-1].workers_sessions if last_fit else 0,
        refused_at_workers=ladder.refused_at or 0,
    )
    return ladder


def _count_step(group: WorkerGroup, asked: int, maxsize: int, refused: str | None) -> LadderStep:
    async def count() -> LadderStep:
        conn = await asyncpg.connect(group.server_dsn, timeout=10)
        try:
            view, limit = await _server_view(conn), await _limits(conn)
        finally:
            await conn.close()
        ours = {name: view.get(name, 0) for name in group.application_names}
        return LadderStep(
            asked, len(group.workers), maxsize, ours, sum(view.values()), limit, refused
        )

    return run_blocking(count())


# ----------------------------------------------------------------- 2. load, sampled
@dataclass(frozen=True)
class ConnectionSample:
    """One reading during a run: the server's sessions, and PgBouncer's pool if any."""

    t_s: float
    server_connections: int  # client sessions on PostgreSQL (without the sampler's own)
    pool: PoolRow | None  # SHOW POOLS, behind PgBouncer


class _ConnectionSampler:
    """Reads pg_stat_activity (and SHOW POOLS) every ``interval`` s beside a load run."""

    def __init__(self, server_dsn: str, bouncer: PgBouncer | None, interval: float) -> None:
        self.server_dsn, self.bouncer, self.interval = server_dsn, bouncer, interval
        self.samples: list[ConnectionSample] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.started = time.perf_counter()

    async def __aenter__(self) -> _ConnectionSampler:
        self._conn = await asyncpg.connect(self.server_dsn, timeout=10)
        self._task = asyncio.create_task(self._run())
        return self

    async def _run(self) -> None:
        while True:
            pool = await self.bouncer.pool_async() if self.bouncer else None
            total = sum((await _server_view(self._conn)).values())
            self.samples.append(ConnectionSample(time.perf_counter() - self.started, total, pool))
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
                return
            except asyncio.TimeoutError:
                continue

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
        await self._conn.close()


@dataclass
class LoadRun:
    """One load run against a worker group: the requests, the samples, PgBouncer's totals."""

    label: str
    result: LoadResult
    samples: list[ConnectionSample]
    hold_ms: int
    stats: StatsRow | None = None  # SHOW STATS, after minus before (behind PgBouncer)
    pool_size: int | None = None  # PgBouncer's default_pool_size

    @property
    def throughput_rps(self) -> float:
        return self.result.summary.throughput_rps

    @property
    def p95_ms(self) -> float:
        return self.result.summary.p95_ms

    @property
    def errors(self) -> int:
        return sum(self.result.summary.errors.values())

    @property
    def peak_server_connections(self) -> int:
        return max((s.server_connections for s in self.samples), default=0)

    @property
    def peak_clients(self) -> int | None:
        """Client connections PgBouncer held at most (None without PgBouncer)."""
        pools = [s.pool for s in self.samples if s.pool is not None]
        return max(p.clients for p in pools) if pools else None

    @property
    def peak_maxwait_s(self) -> float | None:
        pools = [s.pool for s in self.samples if s.pool is not None]
        return max(p.maxwait_s for p in pools) if pools else None

    @property
    def wait_per_request_s(self) -> float | None:
        """Time requests waited for a PgBouncer server connection, per request (SHOW STATS)."""
        if self.stats is None or not self.result.records:
            return None
        return self.stats.wait_time_s / len(self.result.records)

    @property
    def server_utilisation(self) -> float | None:
        """The share of the run PgBouncer's server connections spent in transactions."""
        if self.stats is None or not self.pool_size or not self.result.duration_s:
            return None
        # PgBouncer 1.18 counts a transaction's time from when the client asked for a
        # server connection, so its xact time includes the wait: take the wait out.
        busy = self.stats.xact_time_s - self.stats.wait_time_s
        return busy / (self.result.duration_s * self.pool_size)

    @property
    def transactions_per_request(self) -> float | None:
        if self.stats is None or not self.result.records:
            return None
        return self.stats.xact_count / len(self.result.records)

    def summary(self) -> str:
        figures = {
            "label": self.label,
            "rps": self.throughput_rps,
            "p95_ms": self.p95_ms,
            "errors": self.errors,
            "peak": self.peak_server_connections,
        }
        if self.peak_clients is None:
            return _(
                "{label}: {rps:.1f} req/s, p95 {p95_ms:.0f} ms, {errors} errors; server "
                "connections at most {peak}"
            ).format(**figures)
        return _(
            "{label}: {rps:.1f} req/s, p95 {p95_ms:.0f} ms, {errors} errors; server "
            "connections at most {peak}; PgBouncer held {clients} client connections"
        ).format(clients=self.peak_clients, **figures)


def run_under_load(
    group: WorkerGroup,
    label: str,
    *,
    hold_ms: int = 50,
    rate: float | None = None,
    concurrency: int | None = None,
    duration: float = 3.0,
    bouncer: PgBouncer | None = None,
    seed: int | None = 6,
    sample_interval: float = 0.2,
) -> LoadRun:
    """Send ``/lab/hold?ms=hold_ms`` to every worker of ``group`` for ``duration`` s.

    Give ``rate`` (open loop: Poisson arrivals per second, spread round-robin over the
    workers) or ``concurrency`` (closed loop). The server's sessions, and PgBouncer's
    SHOW POOLS when ``bouncer`` is given, are sampled every ``sample_interval`` s.
    """
    if not group.workers:
        raise ValueError(_("the group has no running worker: add some with group.add(n)"))

    async def scenario() -> LoadRun:
        before = bouncer.stats() if bouncer else None
        async with _ConnectionSampler(group.server_dsn, bouncer, sample_interval) as sampler:
            result = await run_load_async(
                group.urls,
                "/lab/hold",
                params={"ms": hold_ms},
                duration=duration,
                rate=rate,
                concurrency=concurrency,
                seed=seed if rate else None,
                progress=False,
            )
        stats = bouncer.stats() - before if bouncer and before else None
        return LoadRun(
            label,
            result,
            sampler.samples,
            hold_ms,
            stats,
            bouncer.default_pool_size if bouncer else None,
        )

    return run_blocking(scenario())


# ----------------------------------------------------------------- 5. predicted beside measured
@dataclass(frozen=True)
class QueuePoint:
    """One open-loop run behind PgBouncer: the models' wait beside PgBouncer's own figure."""

    run: LoadRun
    mmc: QueuePrediction  # Erlang C: exponential hold times
    mdc: QueuePrediction  # fixed hold times (pg_sleep), Allen–Cunneen

    @property
    def utilisation(self) -> float:
        return self.mmc.utilisation

    @property
    def measured_wait_ms(self) -> float:
        return 1000 * (self.run.wait_per_request_s or 0.0)

    @property
    def service_ms(self) -> float:
        """How long a request really kept a server connection (PgBouncer's SHOW STATS)."""
        return mean_service_ms(self.run) or 0.0

    @property
    def refit(self) -> tuple[QueuePrediction, QueuePrediction] | None:
        """Both models again with the measured hold time; None if that load is unstable."""
        try:
            return predict(self.run.result.rate, self.service_ms, self.mmc.servers)
        except ValueError:  # the measured hold time puts utilisation at or above 1
            return None

    def refit_summary(self) -> str:
        """What :attr:`refit` predicts, as a clause of a sentence (notebook 10 prints it)."""
        if self.refit is None:
            return _("at that load no model has a steady wait")
        mmc, mdc = self.refit
        return _(
            "with that hold time the models say {mdc_ms:.1f} (M/D/c) to {mmc_ms:.1f} ms (M/M/c)"
        ).format(mdc_ms=mdc.mean_wait_s * 1000, mmc_ms=mmc.mean_wait_s * 1000)

    def __str__(self) -> str:
        return _(
            "ρ = {rho:.2f} ({rate:.0f} req/s): predicted {mmc_ms:.1f} ms (M/M/c), "
            "{mdc_ms:.1f} ms (M/D/c); PgBouncer measured {measured_ms:.1f} ms per request, "
            "{trips:.1f} transactions per request"
        ).format(
            rho=self.utilisation,
            rate=self.run.result.rate,
            mmc_ms=self.mmc.mean_wait_s * 1000,
            mdc_ms=self.mdc.mean_wait_s * 1000,
            measured_ms=self.measured_wait_ms,
            trips=self.run.transactions_per_request,
        )


def predict(rate: float, hold_ms: float, servers: int) -> tuple[QueuePrediction, QueuePrediction]:
    """Erlang C (M/M/c) and the fixed-hold-time approximation (M/D/c) for one run."""
    hold_s = hold_ms / 1000
    return mmc_wait(rate, hold_s, servers), mgc_wait(rate, hold_s, servers, service_cv2=0.0)


def predicted_vs_measured(
    runs: list[LoadRun], record_as: str | None = "10.queueing"
) -> list[QueuePoint]:
    """Each open-loop PgBouncer run with the wait the models predicted for it.

    Records the run at the highest utilisation for the quiz under ``record_as``.
    """
    points = []
    for run in runs:
        if run.result.rate is None or run.pool_size is None or run.stats is None:
            raise ValueError(
                _("{label!r} is not an open-loop run behind PgBouncer").format(label=run.label)
            )
        mmc, mdc = predict(run.result.rate, run.hold_ms, run.pool_size)
        points.append(QueuePoint(run, mmc, mdc))
    points.sort(key=lambda p: p.utilisation)
    if points and record_as:
        top = points[-1]
        record_result(
            record_as,
            utilisation=round(top.utilisation, 3),
            predicted_mmc_ms=round(top.mmc.mean_wait_s * 1000, 2),
            predicted_mdc_ms=round(top.mdc.mean_wait_s * 1000, 2),
            measured_wait_ms=round(top.measured_wait_ms, 2),
            transactions_per_request=round(top.run.transactions_per_request or 0, 2),
        )
    return points


def record_comparison(direct: LoadRun, pooled: LoadRun) -> dict:
    """Record the side-by-side figures of section 2 for the quiz and the report."""
    return record_result(
        "10.pgbouncer",
        default_pool_size=pooled.pool_size or 0,
        client_connections=pooled.peak_clients or 0,
        server_connections_pgbouncer=pooled.peak_server_connections,
        server_connections_direct=direct.peak_server_connections,
        direct_rps=round(direct.throughput_rps, 1),
        direct_p95_ms=round(direct.p95_ms, 1),
        pgbouncer_rps=round(pooled.throughput_rps, 1),
        pgbouncer_p95_ms=round(pooled.p95_ms, 1),
        errors=direct.errors + pooled.errors,
    )


def mean_service_ms(run: LoadRun) -> float | None:
    """Time a request kept a PgBouncer server connection, on average (SHOW STATS)."""
    if run.stats is None or not run.result.records:
        return None
    busy = run.stats.xact_time_s - run.stats.wait_time_s  # see LoadRun.server_utilisation
    return 1000 * busy / len(run.result.records)


# ----------------------------------------------------------------- clean up
def stop_all() -> None:
    """Stop every worker group, then every PgBouncer, that this kernel started.

    Workers first: behind PgBouncer their pools are PgBouncer's clients. Both also
    stop by themselves when the kernel exits normally; this is for a clean finish.
    """
    stop_all_workers()
    stop_all_pgbouncers()


def _serves(process: psutil.Process, server_port: int | None) -> bool:
    """Is this worker process connected to the server on ``server_port``?"""
    try:
        url = process.environ().get("LABKIT_APP_DATABASE_URL", "")
    except psutil.Error:  # another user's process: not ours
        return False
    try:
        return urlsplit(url).port == server_port
    except ValueError:
        return False


def leftovers(server_dsn: str) -> dict[str, int]:
    """What is left after the labs: worker and PgBouncer processes, and lab sessions.

    Counts the processes running the workers' app factory against *this* server (other
    users and other labs on a shared host are not ours to count), every pgbouncer started
    from labkit's home, and every session of a worker.
    """
    from urllib.parse import urlsplit

    from labkit.infra.home import labkit_home

    home = str(labkit_home())
    server = urlsplit(server_dsn).port
    workers = pgbouncers = 0
    for process in psutil.process_iter(["cmdline"]):
        line = " ".join(process.info["cmdline"] or [])
        if FACTORY in line:
            workers += _serves(process, server)
        pgbouncers += "pgbouncer" in line and home in line

    async def sessions() -> int:
        conn = await asyncpg.connect(server_dsn, timeout=10)
        try:
            view = await _server_view(conn)
        finally:
            await conn.close()
        return sum(n for name, n in view.items() if name.startswith("labkit-worker-"))

    return {
        "worker processes": workers,
        "pgbouncer processes": pgbouncers,
        "worker sessions": run_blocking(sessions()),
    }
