"""Generate HTTP load against the background app and keep every request's record.

>>> result = run_load(app, "/lab/hold", params={"ms": 50}, requests=200)  # doctest: +SKIP
>>> result.summary.throughput_rps  # doctest: +SKIP
158.3
>>> len(result.records)  # exact: 200 sent, 200 records; doctest: +SKIP
200

Each of ``concurrency`` workers keeps one keep-alive connection and sends its
next request as soon as the previous one answers (a closed-loop load). With
``sample_hz`` set, /pool-status is sampled during the run (``result.samples``).
"""

from __future__ import annotations

import asyncio
import itertools
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field

from labkit.infra.blocking import run_blocking
from labkit.infra.http_client import HTTPProtocolError, KeepAliveConnection
from labkit.infra.sampler import PoolSampler, base_url
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
        errors = ", ".join(f"{k}: {v}" for k, v in self.errors.items()) or "none"
        return (
            f"{self.requests} requests in {self.duration_s:.2f} s = "
            f"{self.throughput_rps:.1f} req/s | latency p50 {self.p50_ms:.1f} ms, "
            f"p95 {self.p95_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, max {self.max_ms:.1f} ms "
            f"| errors: {errors}"
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
    """Everything one run measured."""

    path: str | list[str]
    concurrency: int
    duration_s: float
    records: list[RequestRecord]
    samples: list[PoolSample] = field(default_factory=list)

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


def _error_kind(exc: BaseException) -> str:
    if isinstance(exc, asyncio.TimeoutError):
        return "timeout"
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


async def run_load_async(
    target,
    path: str | list[str] = "/lab/ping-db",
    *,
    params: dict | None = None,
    requests: int | None = None,
    duration: float | None = None,
    concurrency: int = 10,
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
    if (requests is None) == (duration is None):
        raise ValueError("give exactly one of requests=N or duration=seconds")
    if requests is not None and requests < 1:
        raise ValueError(f"requests must be at least 1, got {requests}")
    if duration is not None and duration <= 0:
        raise ValueError(f"duration must be positive, got {duration}")
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")

    url = base_url(target)
    paths = [path] if isinstance(path, str) else list(path)
    records = [] if records is None else records
    samples = [] if samples is None else samples
    numbers = itertools.count()  # shared by all workers: request i goes to paths[i % len]
    started = time.perf_counter()
    deadline = started + duration if duration is not None else None

    def next_request() -> int | None:
        if stop is not None and stop.is_set():
            return None
        i = next(numbers)
        if requests is not None:
            return i if i < requests else None
        return i if time.perf_counter() < deadline else None

    async def worker() -> None:
        conn = KeepAliveConnection(url)
        try:
            while (i := next_request()) is not None:
                target_path = paths[i % len(paths)]
                begin = time.perf_counter()
                status, error, retry_after = None, None, None
                try:
                    response = await asyncio.wait_for(conn.get(target_path, params), timeout)
                    status = response.status
                    error = None if status < 400 else f"http {status}"
                    retry_after = response.headers.get("retry-after")
                except Exception as exc:  # recorded, not raised: a load test counts failures
                    error = _error_kind(exc)
                end = time.perf_counter()
                records.append(
                    RequestRecord(
                        target_path, begin - started, end - begin, status, error, retry_after
                    )
                )
        finally:
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

    reporter = asyncio.create_task(report_progress())
    try:
        if sample_hz:
            async with PoolSampler(url, sample_hz, started_at=started, samples=samples):
                await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        reporter.cancel()
        progress_bar.close()
    elapsed = time.perf_counter() - started
    records.sort(key=lambda r: r.start_s)
    return LoadResult(path, concurrency, elapsed, records, samples)


def run_load(target, path: str | list[str] = "/lab/ping-db", **options) -> LoadResult:
    """Send load to ``target`` (a running app or its URL) and wait for the result.

    ``path`` may be a list: request number i goes to ``path[i % len(path)]``.

    Options: ``params``, ``requests`` or ``duration`` (exactly one), ``concurrency``,
    ``timeout`` (per request, s), ``sample_hz`` (pool samples per second, or None),
    ``progress``. See :func:`run_load_async`.
    """
    return run_blocking(run_load_async(target, path, **options))
