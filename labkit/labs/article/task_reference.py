"""Section 3's ``asyncio.create_task(_task())``, its result thrown away: what can happen.

The event loop keeps only weak references to tasks. A pending task that nothing else
references can be garbage-collected before it finishes. The article's loop sits in
``asyncio.sleep(5)`` most of the time, and the sleep's timer holds the task, so *that*
loop survives; a task waiting on anything only it holds (a future, a queue) does not.
The kit keeps its tasks in attributes (``AppMetrics._polling_task``,
``DatabaseHealth._probing``) and cancels them on shutdown.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import re
import weakref
from dataclasses import dataclass

from labkit.infra.blocking import run_blocking


@dataclass(frozen=True)
class TaskReferenceRun:
    """Three pending tasks under ``gc.collect()``: dropped, dropped but asleep, and kept."""

    dropped_collected: bool  # waiting on a future only it holds, no reference kept: gone
    report: str  # what asyncio reported as it went
    sleeping_survived: bool  # inside asyncio.sleep(), no reference kept: the timer holds it
    kept_survived: bool  # the kit's pattern: a reference kept
    python_says: str  # the warning in the installed Python's asyncio source ("" if none)


def run_task_reference_demo() -> TaskReferenceRun:
    """Start three tasks, keep a reference to one, collect garbage, see which survive."""
    return run_blocking(_task_reference())


async def _task_reference() -> TaskReferenceRun:
    loop = asyncio.get_running_loop()
    reports: list[dict] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, report: reports.append(report))

    async def waits_for_a_reply() -> None:
        await loop.create_future()  # held by this task alone, and it holds the task

    async def polls_every_5_s() -> None:
        while True:
            await asyncio.sleep(5)

    try:
        dropped = weakref.ref(asyncio.create_task(waits_for_a_reply()))
        sleeping = weakref.ref(asyncio.create_task(polls_every_5_s()))
        kept = asyncio.create_task(waits_for_a_reply())  # the reference pattern
        await asyncio.sleep(0)  # all three start, and suspend
        gc.collect()
        run = TaskReferenceRun(
            dropped_collected=dropped() is None,
            report=next((report["message"] for report in reports), ""),
            sleeping_survived=sleeping() is not None,
            kept_survived=not kept.done(),
            python_says=asyncio_reference_warning(),
        )
        for task in (sleeping(), kept):
            if task is not None:
                task.cancel()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    return run


def asyncio_reference_warning() -> str:
    """The "Save a reference..." paragraph of the installed asyncio source, if it has one.

    (Python's documentation of ``asyncio.create_task`` says the same; in 3.11 the source
    carries it in ``asyncio.shield``'s docstring.)
    """
    source = inspect.getsource(asyncio.tasks)
    found = re.search(r"Save a reference.*?(?=\n\s*\n|\"\"\")", source, re.DOTALL)
    return " ".join(found.group(0).split()) if found else ""
