"""Exercises graded against the live system: your code runs inside the example app.

1. :func:`grade_leak_fix` mounts your ``handler(pool, fail)`` on the app, fires
   concurrent requests (half of them make it fail), and passes when afterwards no
   connection is left checked out and none is idle in transaction.
2. :func:`grade_pool_settings` runs a fixed load with your ``maxsize`` and
   ``acquire_timeout`` and passes when the latency and error targets are met
   within the connection budget.

Each run records its outcome for the quizzes, and in the cell's output for the
gradebook, under the bank's exercise question (``02-e1``, ``05-e1``).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import httpx

from labkit.grading.banks import QuizError, bank_files, load_bank, notebook_of, quiz_mode
from labkit.grading.checking import grade
from labkit.grading.records import display_records, record
from labkit.grading.sheet import SHEET
from labkit.infra.load import run_load
from labkit.infra.results import record_result
from labkit.infra.sessions import app_sessions
from labkit.labs.leaks import checked_out
from labkit.messages import N_, _

__all__ = ["ExerciseResult", "grade_leak_fix", "grade_pool_settings", "maxsize_budget"]

Handler = Callable[..., Awaitable[None]]

# Exercise 2's scenario and targets
CLIENTS, HOLD_MS, DURATION_S = 12, 100, 3.0
P95_TARGET_MS, ERROR_TARGET = 250.0, 0.05
WORKERS = 4  # the exercise's app runs as four worker processes, each with its own pool


@dataclass(frozen=True)
class ExerciseResult:
    exercise: str
    passed: bool
    details: list[str]

    def __str__(self) -> str:
        verdict = _("PASSED ✔") if self.passed else _("NOT YET ✘")
        lines = [f"{_(self.exercise)}: {verdict}"] + [f"  - {d}" for d in self.details]
        return "\n".join(lines)


def grade_leak_fix(handler: Handler, app=None, requests: int = 12, concurrency: int = 6):
    """Mount ``handler`` and run it ``requests`` times; pass if nothing is left behind.

    ``handler(pool, fail)`` gets the app's asyncpg pool; when ``fail`` is true it
    must raise (a declined payment, say) and still give its connection back.
    """
    from labkit.infra.runner import running_app

    app = running_app(app)
    app.restart(minsize=1, maxsize=3, acquire_timeout=1.0)  # a leak fails fast, not forever
    app._fastapi_app.state.exercise = handler
    paths = ["/exercise/run?fail=false", "/exercise/run?fail=true"]
    result = run_load(app, paths, requests=requests, concurrency=concurrency, progress=False)
    time.sleep(0.2)
    left = checked_out(app)
    idle_tx = [s.pid for s in app_sessions(app) if s.state == "idle in transaction"]
    statuses = result.summary.statuses
    details = [
        _("responses: {statuses} (the failing half should answer 500, the rest 200)").format(
            statuses=statuses
        ),
        _("connections still checked out afterwards: {count}").format(count=len(left)),
        _("sessions idle in transaction afterwards: {count}").format(count=len(idle_tx)),
    ]
    passed = not left and not idle_tx and statuses.get(200, 0) == requests // 2
    with httpx.Client(base_url=app.url, timeout=10) as client:
        client.post("/exercise/cleanup").raise_for_status()
    app._fastapi_app.state.exercise = None
    record_result("exercise.leak_fix", passed=passed, left_checked_out=len(left))
    _record_for_grading("exercise.leak_fix", passed)
    return ExerciseResult(N_("Fix the leaking handler"), passed, details)


def maxsize_budget(dsn: str) -> int:
    """The largest maxsize per worker that fits the server: notebook 06's rule,
    workers × maxsize + reserved ≤ max_connections, with the server's real settings."""
    from labkit.labs.client_limits import connection_budget

    return connection_budget(workers=WORKERS, maxsize=1, dsn=dsn).largest_maxsize


def grade_pool_settings(maxsize: int, acquire_timeout: float | None, app=None):
    """Run 12 clients holding 100 ms each for 3 s with your settings, and check the targets:
    p95 latency ≤ 250 ms, at most 5% errors, and maxsize within the connection budget of
    four workers on this server (:func:`maxsize_budget`).
    """
    from labkit.infra.runner import running_app

    app = running_app(app)
    budget = maxsize_budget(app.database.dsn)
    details = []
    if maxsize > budget:
        details.append(
            _(
                "maxsize {maxsize} is over the budget of {budget} per worker: {workers} workers × "
                "{maxsize} would not fit this server's max_connections (notebook 06's rule)"
            ).format(maxsize=maxsize, budget=budget, workers=WORKERS)
        )
        return ExerciseResult(N_("Choose pool settings"), False, details)
    app.restart(minsize=maxsize, maxsize=maxsize, acquire_timeout=acquire_timeout)
    result = run_load(
        app,
        "/lab/hold",
        params={"ms": HOLD_MS},
        duration=DURATION_S,
        concurrency=CLIENTS,
        progress=False,
    )
    summary = result.summary
    errors = sum(summary.errors.values()) / summary.requests
    latency_ok = summary.p95_ms <= P95_TARGET_MS
    errors_ok = errors <= ERROR_TARGET
    details += [
        _("p95 latency {p95:.0f} ms (target ≤ {target:.0f}): {verdict}").format(
            p95=summary.p95_ms,
            target=P95_TARGET_MS,
            verdict=_("ok") if latency_ok else _("too slow"),
        ),
        _("errors {errors:.1%} (target ≤ {target:.0%}): {verdict}").format(
            errors=errors,
            target=ERROR_TARGET,
            verdict=_("ok") if errors_ok else _("too many refused"),
        ),
        _("throughput {rps:.0f} req/s").format(rps=summary.throughput_rps),
    ]
    passed = latency_ok and errors_ok
    record_result(
        "exercise.pool_settings",
        passed=passed,
        maxsize=maxsize,
        p95_ms=summary.p95_ms,
        error_rate=errors,
    )
    return ExerciseResult(N_("Choose pool settings"), passed, details)


def _exercise_question(experiment: str) -> dict | None:
    """The bank question an exercise's outcome answers (None when the banks have none)."""
    for path in bank_files().values():
        for item in load_bank(path)["questions"]:
            if item["type"] == "exercise" and item["source"]["experiment"] == experiment:
                return item
    return None


def _record_for_grading(experiment: str, passed: bool) -> None:
    """Leave the outcome in the cell's output, as the record of the exercise question."""
    try:
        item = _exercise_question(experiment)
    except QuizError:
        return  # no banks to be found: the exercise still ran, nothing to record
    if item is None:
        return
    mode = quiz_mode(notebook_of(item["id"]))
    SHEET.add(item["id"], passed, feedback=True, via="exercise")
    attempts = SHEET.attempts(item["id"])
    figure = 1.0 if passed else 0.0
    result = grade(item, None, expected=figure) if mode == "self-check" else None
    made = record(item, attempts, mode, result, expected=figure)
    display_records([made], _("{question}: recorded for grading").format(question=item["id"]))
