"""Generate HTTP load against the background app and keep every request's record.

>>> result = run_load(app, "/lab/hold", params={"ms": 50}, requests=200)  # doctest: +SKIP
>>> result.summary.throughput_rps  # doctest: +SKIP
158.3
>>> len(result.records)  # exact: 200 sent, 200 records; doctest: +SKIP
200

Two shapes of load:

- **closed loop** (the default): each of ``concurrency`` clients keeps one keep-alive
  connection and sends its next request as soon as the previous one answers. The
  offered load adapts to the system: a slow server gets fewer requests.
- **open loop** (``rate=`` requests per second): requests arrive at random, as a
  Poisson process (exponential gaps between arrivals), whatever the server does,
  each in its own task. This is the arrival process of queueing models such as
  Erlang C, and of independent users on the internet.

>>> run_load(app, "/lab/hold", params={"ms": 50}, rate=40, duration=3)  # doctest: +SKIP

``target`` may be a list of apps or URLs (several worker processes): closed-loop
client i, or open-loop request i, goes to ``target[i % len(target)]``, as a
round-robin load balancer would send them. With ``sample_hz`` set, /pool-status of
a single target is sampled during the run (``result.samples``).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

from labkit.infra.blocking import run_blocking
from labkit.infra.http_client import HTTPProtocolError, KeepAliveConnection
from labkit.infra.sampler import PoolSampler, base_url
from labkit.messages import _
from labkit.pool import PoolSample

PROGRESS_AFTER_S = 2.0  # runs shorter than this get no progress bar


@dataclass(frozen=True)
class RequestRecord:
    """One request: when it started (s since the run began), how long it took, how it ended."""

    path: str
    start_s: float
    latency_s: float
    status: int | None  # None when no response came back
    error: str | None  # None for a 2xx/3xx; else "http 503", "timeout", "connection", ...
    retry_after: str | None = None  # the Retry-After header, when the server sent one

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class LoadSummary:
    requests: int
    duration_s: float
    throughput_rps: float  # completed requests per second, whatever their status
    mean_ms: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[int, int]
    errors: dict[str, int]

    def __str__(self) -> str:
        errors = ", ".join(f"{k}: {v}" for k, v in self.errors.items()) or _("none")
        return _(
            "{requests} requests in {duration:.2f} s = {rps:.1f} req/s | latency p50 {p50:.1f} ms, "
            "p95 {p95:.1f} ms, p99 {p99:.1f} ms, max {max:.1f} ms | errors: {errors}"
        ).format(
            requests=self.requests,
            duration=self.duration_s,
            rps=self.throughput_rps,
            p50=self.p50_ms,
            p95=self.p95_ms,
            p99=self.p99_ms,
            max=self.max_ms,
            errors=errors,
        )


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), linear between closest ranks; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


@dataclass
class LoadResult:
    """Everything one run measured.

    ``concurrency`` is the number of clients of a closed loop; for an open loop
    (``rate`` set, in requests per second) it is the most requests that were in
    flight at once.
    """

    path: str | list[str]
    concurrency: int
    duration_s: float
    records: list[RequestRecord]
    samples: list[PoolSample] = field(default_factory=list)
    rate: float | None = None  # open loop: the arrival rate asked for (req/s)

    @property
    def summary(self) -> LoadSummary:
        latencies = [r.latency_s * 1000 for r in self.records]
        return LoadSummary(
            requests=len(self.records),
            duration_s=self.duration_s,
            throughput_rps=len(self.records) / self.duration_s if self.duration_s else 0.0,
            mean_ms=statistics.fmean(latencies) if latencies else 0.0,
            p50_ms=percentile(latencies, 50),
            p95_ms=percentile(latencies, 95),
            p99_ms=percentile(latencies, 99),
            max_ms=max(latencies, default=0.0),
            statuses=dict(sorted(Counter(r.status for r in self.records if r.status).items())),
            errors=dict(Counter(r.error for r in self.records if r.error)),
        )

    def samples_during_load(self) -> list[PoolSample]:
        """The pool samples taken while requests were in flight."""
        if not self.records:
            return []
        first = min(r.start_s for r in self.records)
        last = max(r.start_s + r.latency_s for r in self.records)
        return [s for s in self.samples if first <= s.t_s <= last]


class _Overload(Exception):
    """An open-loop arrival found ``max_in_flight`` requests still open, and was not sent."""


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
    if isinstance(exc, _Overload):
        return "overload"
    if isinstance(exc, HTTPProtocolError):
        return "protocol"
    if isinstance(exc, (ConnectionError, OSError, asyncio.IncompleteReadError)):
        return "connection"
    return type(exc).__name__


class _Progress:
    """A tqdm bar that appears only once a run has lasted PROGRESS_AFTER_S."""

    def __init__(self, enabled: bool, total: float, unit: str) -> None:
        self.enabled, self.total, self.unit = enabled, total, unit
        self.bar = None

    def update(self, elapsed: float, done: int) -> None:
        if not self.enabled or elapsed < PROGRESS_AFTER_S:
            return
        if self.bar is None:
            from tqdm.auto import tqdm

            counting = "{n}/{total} requests" if self.unit == "req" else "{n:.1f}/{total:.1f} s"
            self.bar = tqdm(total=self.total, leave=False, bar_format="{l_bar}{bar}| " + counting)
        self.bar.n = done if self.unit == "req" else min(elapsed, self.total)
        self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_arguments(
    requests: int | None,
    duration: float | None,
    concurrency: int | None,
    rate: float | None,
    max_in_flight: int,
) -> None:
    if (requests is None) == (duration is None):
        raise ValueError(_("give exactly one of requests=N or duration=seconds"))
    if requests is not None and requests < 1:
        raise ValueError(_("requests must be at least 1, got {requests}").format(requests=requests))
    if duration is not None and duration <= 0:
        raise ValueError(_("duration must be positive, got {duration}").format(duration=duration))
    if concurrency is not None and concurrency < 1:
        raise ValueError(
            _("concurrency must be at least 1, got {concurrency}").format(concurrency=concurrency)
        )
    if rate is not None:
        if rate <= 0:
            raise ValueError(
                _("rate must be a positive number of requests per second, got {rate}").format(
                    rate=rate
                )
            )
        if concurrency is not None:
            raise ValueError(
                _(
                    "an open loop (rate=...) has no fixed number of clients: drop concurrency, "
                    "or drop rate for a closed loop of concurrency clients"
                )
            )
    if max_in_flight < 1:
        raise ValueError(
            _("max_in_flight must be at least 1, got {value}").format(value=max_in_flight)
        )


async def _send(
    conn: KeepAliveConnection, path: str, params: dict | None, timeout: float
) -> tuple[int | None, str | None, str | None]:
    """One GET: (status, error, retry_after). Failures are returned, not raised."""
    try:
        response = await asyncio.wait_for(conn.get(path, params), timeout)
    except Exception as exc:  # recorded, not raised: a load test counts failures
        return None, _error_kind(exc), None
    status = response.status
    return status, (None if status < 400 else f"http {status}"), response.headers.get("retry-after")


async def run_load_async(
    target,
    path: str | list[str] = "/lab/ping-db",
    *,
    params: dict | None = None,
    requests: int | None = None,
    duration: float | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
    seed: int | None = None,
    max_in_flight: int = 1000,
    timeout: float = 30.0,
    sample_hz: float | None = None,
    progress: bool = True,
    records: list[RequestRecord] | None = None,
    samples: list[PoolSample] | None = None,
    stop: asyncio.Event | None = None,
) -> LoadResult:
    """The coroutine behind :func:`run_load`, for callers already on an event loop.

    Pass your own ``records`` and ``samples`` lists to watch them fill while the
    run goes on (from another thread, say, to draw a live chart). Setting ``stop``
    ends the run early: no new request starts, the ones in flight finish. (Prefer it
    to cancelling the task: before Python 3.12 ``asyncio.wait_for`` can swallow a
    cancellation that arrives as its request completes, and the loop would go on.)
    """
    _check_arguments(requests, duration, concurrency, rate, max_in_flight)
    targets = list(target) if isinstance(target, (list, tuple)) else [target]
    if not targets:
        raise ValueError(_("give at least one target: an app or its URL"))
    if sample_hz and len(targets) > 1:
        raise ValueError(_("sample_hz samples one app's /pool-status: give a single target"))
    urls = [base_url(t) for t in targets]
    paths = [path] if isinstance(path, str) else list(path)
    records = [] if records is None else records
    samples = [] if samples is None else samples
    started = time.perf_counter()
    deadline = started + duration if duration is not None else None

    def record(i: int, begin: float, outcome: tuple[int | None, str | None, str | None]) -> None:
        status, error, retry_after = outcome
        end = time.perf_counter()
        records.append(
            RequestRecord(
                paths[i % len(paths)], begin - started, end - begin, status, error, retry_after
            )
        )

    numbers = itertools.count()  # shared by all clients: request i goes to paths[i % len]

    def next_request() -> int | None:
        if stop is not None and stop.is_set():
            return None
        i = next(numbers)
        if requests is not None:
            return i if i < requests else None
        return i if time.perf_counter() < deadline else None

    async def closed_loop_client(k: int) -> None:
        conn = KeepAliveConnection(urls[k % len(urls)])
        try:
            while (i := next_request()) is not None:
                begin = time.perf_counter()
                record(i, begin, await _send(conn, paths[i % len(paths)], params, timeout))
        finally:
            await conn.close()

    peak_in_flight = 0

    async def open_loop() -> None:
        nonlocal peak_in_flight
        arrivals = random.Random(seed)
        idle: dict[str, list[KeepAliveConnection]] = {url: [] for url in urls}
        in_flight: set[asyncio.Task] = set()

        async def one_request(i: int) -> None:
            url = urls[i % len(urls)]
            # Reuse an idle keep-alive connection to that worker, or open another one.
            conn = idle[url].pop() if idle[url] else KeepAliveConnection(url)
            begin = time.perf_counter()
            outcome = await _send(conn, paths[i % len(paths)], params, timeout)
            record(i, begin, outcome)
            idle[url].append(conn)  # a failed request closed it; get() reconnects

        next_at = started
        try:
            for i in itertools.count():
                next_at += arrivals.expovariate(rate)  # exponential gaps: Poisson arrivals
                if requests is not None and i >= requests:
                    break
                if deadline is not None and next_at >= deadline:
                    break
                await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
                if len(in_flight) >= max_in_flight:
                    record(i, time.perf_counter(), (None, _error_kind(_Overload()), None))
                    continue
                task = asyncio.create_task(one_request(i))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
                peak_in_flight = max(peak_in_flight, len(in_flight))
            await asyncio.gather(*in_flight)
        finally:
            for task in in_flight:
                task.cancel()
            for conns in idle.values():
                for conn in conns:
                    await conn.close()

    progress_bar = _Progress(
        progress,
        total=requests if requests is not None else duration,
        unit="req" if requests is not None else "s",
    )

    async def report_progress() -> None:
        while True:
            progress_bar.update(time.perf_counter() - started, len(records))
            await asyncio.sleep(0.25)

    async def generate() -> None:
        if rate is not None:
            await open_loop()
        else:
            await asyncio.gather(*(closed_loop_client(k) for k in range(concurrency or 10)))

    reporter = asyncio.create_task(report_progress())
    try:
        if sample_hz:
            async with PoolSampler(urls[0], sample_hz, started_at=started, samples=samples):
                await generate()
        else:
            await generate()
    finally:
        reporter.cancel()
        progress_bar.close()
    elapsed = time.perf_counter() - started
    records.sort(key=lambda r: r.start_s)
    clients = peak_in_flight if rate is not None else (concurrency or 10)
    return LoadResult(path, clients, elapsed, records, samples, rate)


def run_load(target, path: str | list[str] = "/lab/ping-db", **options) -> LoadResult:
    """Send load to ``target`` (a running app, its URL, or a list of them) and wait.

    ``path`` may be a list: request number i goes to ``path[i % len(path)]``.

    Options: ``params``, ``requests`` or ``duration`` (exactly one), then either
    ``concurrency`` (closed loop, default 10 clients) or ``rate`` (open loop: Poisson
    arrivals per second; ``seed`` makes them repeatable, ``max_in_flight`` bounds the
    requests open at once, and an arrival beyond it is recorded as "overload"
    unsent); ``timeout`` (per request, s), ``sample_hz`` (pool samples per second, or
    None), ``progress``. See :func:`run_load_async`.
    """
    return run_blocking(run_load_async(target, path, **options))
