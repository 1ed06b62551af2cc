"""Notebook 04's outage lab: the database stops under load, comes back, and the pool heals.

>>> run = database_outage_lab(app, down_s=1.5)      # doctest: +SKIP
>>> print(run.summary())                             # doctest: +SKIP

Requests flow the whole time. Part way through, the embedded server is stopped
(what ``labkit db stop`` does), left down for ``down_s`` seconds, and started again
(``labkit db start``). Every response and a 20 Hz reading of /pool-status are kept,
so the notebook can show what a client saw (503 with Retry-After, the app's own
message), what the pool did, and how long the first success took once the server
answered again.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx

from labkit.infra.load import RequestRecord, run_load_async
from labkit.infra.results import record_result
from labkit.messages import _
from labkit.pool import PoolSample

__all__ = ["OutageRun", "database_outage_lab"]


@dataclass
class OutageRun:
    """One outage: when the server went down and came back, and what happened meanwhile."""

    down_s: float
    records: list[RequestRecord] = field(default_factory=list)
    samples: list[PoolSample] = field(default_factory=list)
    stopped_at_s: float = 0.0  # seconds since the run began: the server was down
    restarting_at_s: float = 0.0  # `labkit db start` began
    answering_at_s: float = 0.0  # the server answered again
    port_before: int = 0
    port_after: int = 0
    example_503: tuple = ()  # (status, Retry-After, JSON body) of one refused request, verbatim
    pool_while_down: dict = field(default_factory=dict)  # /pool-status during the outage
    skipped: str = ""  # why the lab did not run (not the embedded server)

    def statuses(self, start_s: float, end_s: float) -> Counter:
        """How the requests that started in [start_s, end_s) ended, by status."""
        return Counter(r.status or r.error for r in self.records if start_s <= r.start_s < end_s)

    @property
    def during(self) -> Counter:
        """Requests sent while the server was down (before the restart began)."""
        return self.statuses(self.stopped_at_s, self.restarting_at_s)

    @property
    def first_success_after_s(self) -> float | None:
        """From the server answering again to the first 200 that began after it."""
        times = [
            r.start_s + r.latency_s
            for r in self.records
            if r.start_s >= self.answering_at_s and r.status == 200
        ]
        return min(times) - self.answering_at_s if times else None

    @property
    def errors_after_recovery(self) -> int:
        """5xx and failed requests that began after the server answered again."""
        return sum(
            1
            for r in self.records
            if r.start_s >= self.answering_at_s and (r.status is None or r.status >= 500)
        )

    def recovery(self) -> str:
        """How the pool came back, in one sentence computed from this run."""
        first = self.first_success_after_s
        port = (
            _("the server kept its port ({port_after})")
            if self.port_after == self.port_before
            else _(
                "the server moved from port {port_before} to {port_after}, and the app followed it"
            )
        ).format(port_before=self.port_before, port_after=self.port_after)
        if first is None:
            return _(
                "No request succeeded in the time the lab kept the load on after the server "
                "answered again ({errors} failed); {port}."
            ).format(errors=self.errors_after_recovery, port=port)
        return _(
            "The first request after the server answered again succeeded {first_ms:.0f} ms "
            "later, without restarting the app; {errors} request(s) failed "
            "after that, and {port}."
        ).format(first_ms=first * 1000, errors=self.errors_after_recovery, port=port)

    def summary(self) -> str:
        if self.skipped:
            return self.skipped
        first = self.first_success_after_s
        figures = dict(
            stopped_at_s=self.stopped_at_s,
            answering_at_s=self.answering_at_s,
            port_before=self.port_before,
            port_after=self.port_after,
            during=dict(self.during),
            errors=self.errors_after_recovery,
        )
        lines = [
            _(
                "server down at {stopped_at_s:.1f} s, answering again at "
                "{answering_at_s:.1f} s (port {port_before} -> {port_after})"
            ).format(**figures),
            _("while it was down: {during}").format(**figures),
            _("after it answered: first 200 after never, {errors} errors").format(**figures)
            if first is None
            else _("after it answered: first 200 after {first_ms:.0f} ms, {errors} errors").format(
                first_ms=first * 1000, **figures
            ),
        ]
        return "\n".join(lines)


def database_outage_lab(
    app, down_s: float = 1.5, before_s: float = 1.0, after_s: float = 2.0, concurrency: int = 4
) -> OutageRun:
    """Stop the embedded server under load for ``down_s`` seconds, then start it again."""
    run = OutageRun(down_s=down_s)
    if app.database.kind != "embedded":
        run.skipped = _(
            "This lab stops the embedded server, but the kit uses {database}. "
            "Stop your own server instead (e.g. `docker compose stop postgres`), watch "
            "/pool-status and the 503s, then start it again."
        ).format(database=app.database.describe())
        return run
    from labkit.infra.blocking import run_blocking

    run_blocking(_outage(app, run, before_s, after_s, concurrency))
    during = run.during
    record_result(
        "04.database_outage",
        responses_while_down=sum(during.values()),
        count_503_while_down=during.get(503, 0),
        count_500=sum(1 for r in run.records if r.status == 500),
        first_success_after_ms=round(1000 * (run.first_success_after_s or -0.001), 1),
        errors_after_recovery=run.errors_after_recovery,
        same_port=int(run.port_before == run.port_after),
    )
    return run


async def _outage(app, run: OutageRun, before_s: float, after_s: float, concurrency: int) -> None:
    from labkit.infra.embedded import EmbeddedPostgres

    server = EmbeddedPostgres()
    run.port_before = server.running().port
    started = time.perf_counter()
    # Stopping and starting take as long as they take (seconds on a busy machine), so the
    # load runs until ``after_s`` past the moment the server answers again, then stops.
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_load_async(
            app,
            "/lab/ping-db",
            duration=3600,
            concurrency=concurrency,
            timeout=10,
            sample_hz=20,
            progress=False,
            records=run.records,
            samples=run.samples,
            stop=stop,
        )
    )
    await asyncio.sleep(before_s)
    await asyncio.to_thread(server.stop)
    run.stopped_at_s = time.perf_counter() - started
    async with httpx.AsyncClient(base_url=app.url, timeout=10) as client:
        await asyncio.sleep(run.down_s / 2)
        refused = await client.get("/lab/ping-db")  # one refusal, verbatim
        run.example_503 = (refused.status_code, refused.headers.get("retry-after"), refused.json())
        run.pool_while_down = (await client.get("/pool-status")).json()
        await asyncio.sleep(run.down_s / 2)
    run.restarting_at_s = time.perf_counter() - started
    running = await asyncio.to_thread(server.start)
    run.answering_at_s = time.perf_counter() - started
    run.port_after = running.port
    await asyncio.sleep(after_s)
    stop.set()
    await load
