"""The load generator's ceiling: how many req/s it can drive on /lab/ping-db.

    python benchmarks/load_ceiling.py [--requests 3000] [--rounds 3]

The app, the client and the kernel share one process (and its GIL) on a 2-core
machine, as in a notebook. We compare labkit's keep-alive client with an httpx
AsyncClient doing the same work, alternating them in one run, and print req/s
for each and their ratio. Experiments should need at most a third of the ceiling.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

import httpx
import psutil

from labkit.infra.blocking import run_blocking
from labkit.infra.load import run_load
from labkit.infra.runner import start_app


async def httpx_load(url: str, requests: int, concurrency: int) -> float:
    tickets = iter(range(requests))
    async with httpx.AsyncClient(
        base_url=url, limits=httpx.Limits(max_connections=concurrency)
    ) as c:

        async def worker() -> None:
            while next(tickets, None) is not None:
                (await c.get("/lab/ping-db")).raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    app = start_app(minsize=8, maxsize=8)
    try:
        run_load(app, requests=300, concurrency=args.concurrency, progress=False)  # warm up
        ours, theirs = [], []
        for _ in range(args.rounds):
            result = run_load(
                app, requests=args.requests, concurrency=args.concurrency, progress=False
            )
            assert result.summary.errors == {}, result.summary.errors
            ours.append(result.summary.throughput_rps)
            theirs.append(run_blocking(httpx_load(app.url, args.requests, args.concurrency)))
        rss = psutil.Process().memory_info().rss / 2**20
    finally:
        app.stop()

    print(
        f"/lab/ping-db, {args.requests} requests x {args.rounds} rounds, "
        f"concurrency {args.concurrency}, app in the same process"
    )
    print(
        f"  labkit keep-alive client  {statistics.median(ours):7.0f} req/s  "
        f"(rounds: {', '.join(f'{x:.0f}' for x in ours)})"
    )
    print(
        f"  httpx AsyncClient         {statistics.median(theirs):7.0f} req/s  "
        f"(rounds: {', '.join(f'{x:.0f}' for x in theirs)})"
    )
    print(f"  ratio labkit / httpx      {statistics.median(ours) / statistics.median(theirs):7.2f}")
    print(
        f"  a third of the ceiling    {statistics.median(ours) / 3:7.0f} req/s "
        "(the most any experiment should need)"
    )
    print(f"  process RSS               {rss:7.1f} MB")


if __name__ == "__main__":
    main()
