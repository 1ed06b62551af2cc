"""Run a coroutine from plain (blocking) code, also inside a Jupyter kernel.

A kernel already runs an event loop on its main thread, so ``asyncio.run`` there
fails with "cannot be called from a running event loop". We then run the
coroutine on a short-lived loop in a worker thread instead.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run_blocking(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to completion and return its result.

    >>> run_blocking(asyncio.sleep(0, result=42))
    42
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="labkit-blocking") as pool:
        return pool.submit(asyncio.run, coro).result()
