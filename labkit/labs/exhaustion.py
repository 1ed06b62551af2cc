"""The exhaustion lab: more simultaneous requests than connections, with or without an
acquire timeout.

- Without one (Tortoise's default) the surplus queues: every request answers 200,
  and latency climbs in steps of the hold time.
- With one, the surplus fails fast: 503 with a Retry-After header.

>>> run = exhaustion_lab(maxsize=2, concurrency=6, hold_ms=300)         # doctest: +SKIP
>>> run.outcomes, run.peak_waiting                                       # doctest: +SKIP
({'200': 6, '503': 0, 'still waiting': 0}, 4)
"""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from labkit.infra.blocking import run_blocking
from labkit.infra.load import RequestRecord, run_load_async
from labkit.infra.results import record_result
from labkit.messages import N_, _
from labkit.pool import PoolSample

__all__ = ["ExhaustionRun", "exhaustion_lab", "request_while_exhausted"]

LIVE_REFRESH_S = 0.2  # the widget redraws at 5 Hz
SAMPLE_HZ = 20


@dataclass
class ExhaustionRun:
    """One burst: its settings, and the pool samples and request records as they arrive."""

    maxsize: int
    concurrency: int
    hold_ms: int
    acquire_timeout: float | None
    samples: list[PoolSample] = field(default_factory=list)
    records: list[RequestRecord] = field(default_factory=list)
    finished: bool = False

    @property
    def outcomes(self) -> dict[str, int]:
        """200s, 503s, other failures, and requests still waiting for an answer."""
        records = list(self.records)
        counts = Counter(str(r.status) if r.status else r.error for r in records)
        return {
            "200": counts.pop("200", 0),
            "503": counts.pop("503", 0),
            **counts,
            N_("still waiting"): self.concurrency - len(records),
        }

    @property
    def peak_waiting(self) -> int:
        return max((s.waiting for s in list(self.samples)), default=0)

    @property
    def latencies_ms(self) -> list[float]:
        return sorted(r.latency_s * 1000 for r in list(self.records))

    def summary(self) -> str:
        outcomes = ", ".join(f"{_(k)}: {v}" for k, v in self.outcomes.items())
        slowest = max(self.latencies_ms, default=0.0)
        figures = dict(
            maxsize=self.maxsize,
            concurrency=self.concurrency,
            hold_ms=self.hold_ms,
            outcomes=outcomes,
            peak_waiting=self.peak_waiting,
            slowest=slowest,
            holds=slowest / self.hold_ms,
        )
        if self.acquire_timeout is None:
            first = _(
                "maxsize={maxsize}, {concurrency} simultaneous requests holding "
                "{hold_ms} ms, acquire timeout none (wait forever)"
            ).format(**figures)
        else:
            first = _(
                "maxsize={maxsize}, {concurrency} simultaneous requests holding "
                "{hold_ms} ms, acquire timeout {timeout_ms:.0f} ms"
            ).format(timeout_ms=self.acquire_timeout * 1000, **figures)
        second = _(
            "outcomes: {outcomes} | peak waiting {peak_waiting} | "
            "slowest {slowest:.0f} ms = {holds:.1f} x hold"
        ).format(**figures)
        return f"{first}\n{second}"


async def _burst(app, run: ExhaustionRun) -> None:
    await run_load_async(
        app,
        "/lab/hold",
        params={"ms": run.hold_ms},
        requests=run.concurrency,
        concurrency=run.concurrency,
        sample_hz=SAMPLE_HZ,
        progress=False,
        records=run.records,
        samples=run.samples,
    )


def exhaustion_lab(
    maxsize: int = 2,
    concurrency: int = 6,
    hold_ms: int = 300,
    acquire_timeout: float | None = None,
    *,
    app=None,
    on_update: Callable[[ExhaustionRun], None] | None = None,
    record: bool = True,
) -> ExhaustionRun:
    """Restart the app with ``maxsize`` and ``acquire_timeout`` (s), fire ``concurrency``
    simultaneous requests that each hold a connection ``hold_ms``, and return the timeline.

    ``on_update(run)`` is called about 5 times a second while the burst runs (the
    widget draws its live chart there). ``record=False`` keeps the run out of the
    learner's results file (for side experiments).
    """
    from labkit.infra.runner import running_app

    app = running_app(app)
    app.restart(minsize=1, maxsize=maxsize, acquire_timeout=acquire_timeout)
    run = ExhaustionRun(maxsize, concurrency, hold_ms, acquire_timeout)

    # The burst runs on its own loop in a worker thread, so that this thread stays
    # free to draw while it runs.
    worker = threading.Thread(target=asyncio.run, args=(_burst(app, run),), daemon=True)
    worker.start()
    while worker.is_alive():
        if on_update is not None:
            on_update(run)
        worker.join(LIVE_REFRESH_S)
    run.finished = True
    if on_update is not None:
        on_update(run)

    if not record:
        return run
    kind = "no_timeout" if acquire_timeout is None else "timeout"
    record_result(
        f"04.exhaustion_{kind}",
        maxsize=maxsize,
        concurrency=concurrency,
        hold_ms=hold_ms,
        acquire_timeout_s=acquire_timeout if acquire_timeout is not None else -1,
        peak_waiting=run.peak_waiting,
        count_200=run.outcomes["200"],
        count_503=run.outcomes["503"],
        slowest_ms=max(run.latencies_ms, default=0.0),
    )
    return run


def request_while_exhausted(app, path: str = "/lab/ping-db", hold_ms: int = 1000):
    """Fill every connection with a ``hold_ms`` request, then send one more: its response.

    With an acquire timeout that response is the app's 503, headers and all.
    """
    import httpx

    async def scenario() -> httpx.Response:
        async with httpx.AsyncClient(base_url=app.url, timeout=30) as client:
            holds = [
                asyncio.create_task(client.get("/lab/hold", params={"ms": hold_ms}))
                for _slot in range(app.settings.maxsize)
            ]
            while (await client.get("/pool-status")).json()["in_use"] < app.settings.maxsize:
                await asyncio.sleep(0.01)
            response = await client.get(path)
            await asyncio.gather(*holds)
            return response

    return run_blocking(scenario())
