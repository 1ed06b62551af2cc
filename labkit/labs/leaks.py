"""The leak lab: take connections and never give them back, find them, cure them.

Every action goes to the app over HTTP (the leaked connections live in the app);
the detector reads PostgreSQL's own view, ``pg_stat_activity``, beside the
app's record of how long each connection has been out of its pool.

>>> leak_lab("leak a connection", app)                # doctest: +SKIP
>>> find_leaks(app, older_than_s=0)                     # doctest: +SKIP
[LeakSuspect(pid=4242, state='idle', held_s=0.02, ...)]
"""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
import httpx

from labkit.infra.blocking import run_blocking
from labkit.infra.results import record_result
from labkit.infra.server_log import server_log_lines
from labkit.infra.sessions import Session, app_sessions
from labkit.messages import N_, _, display_width

__all__ = [
    "ACTIONS",
    "ForgottenCommit",
    "LeakLabState",
    "LeakSuspect",
    "checked_out",
    "detect_leaks",
    "find_leaks",
    "forgotten_commit",
    "leak_connection",
    "leak_lab",
    "leave_transaction_open",
    "release_leaks",
    "request_completes",
    "server_log_of",
    "terminate_backend",
    "use_leaked_connections",
]

# The leak lab's buttons; N_ marks them for translation (the widget shows them translated,
# and still passes the English to leak_lab).
ACTIONS = (
    N_("leak a connection"),
    N_("leave a transaction open"),
    N_("release everything"),
)


def _client(app) -> httpx.Client:
    return httpx.Client(base_url=app.url, timeout=10)


def _leak(app, path: str) -> int:
    with _client(app) as client:
        response = client.post(path)
    if response.status_code == 503:
        raise RuntimeError(
            _(
                "the pool has no free connection left to leak: every slot is taken. "
                "Choose 'release everything' to recover."
            )
        )
    return response.raise_for_status().json()["pid"]


def leak_connection(app) -> int:
    """The app acquires a connection and never releases it. Returns its backend pid."""
    return _leak(app, "/lab/leak/connection")


def leave_transaction_open(app) -> int:
    """The app runs BEGIN and a query, then never commits nor releases. Returns the pid."""
    return _leak(app, "/lab/leak/transaction")


def release_leaks(app) -> dict:
    """The app rolls back and releases everything the lab leaked."""
    with _client(app) as client:
        return client.post("/lab/leak/release").raise_for_status().json()


def use_leaked_connections(app) -> list[dict]:
    """The app runs SELECT 1 on each leaked connection; errors come back verbatim."""
    with _client(app) as client:
        return client.post("/lab/leak/use").raise_for_status().json()


def checked_out(app) -> dict[int, float]:
    """Backend pid -> seconds out of the pool, for every connection the app holds now."""
    with _client(app) as client:
        rows = client.get("/lab/checked-out").raise_for_status().json()
    return {row["pid"]: row["held_s"] for row in rows}


def request_completes(app, timeout_s: float = 1.0, path: str = "/lab/ping-db") -> bool:
    """Does one request answer within ``timeout_s``? (A pool with no free slot hangs.)"""
    try:
        with httpx.Client(base_url=app.url, timeout=timeout_s) as client:
            client.get(path)
    except httpx.TimeoutException:
        return False
    return True


def server_log_of(pid: int) -> list[str] | str:
    """What the server logged about session ``pid``, or why it cannot be read here.

    >>> leaks.server_log_of(4242)                            # doctest: +SKIP
    ['... [4242] FATAL:  terminating connection due to administrator command']
    """
    return server_log_lines([pid]) or _("(only the embedded server's log is readable here)")


def terminate_backend(app, pid: int) -> bool:
    """``SELECT pg_terminate_backend(pid)``: the server ends that session."""

    async def terminate() -> bool:
        conn = await asyncpg.connect(app.database.dsn, timeout=10)
        try:
            return await conn.fetchval("SELECT pg_terminate_backend($1)", pid)
        finally:
            await conn.close()

    return run_blocking(terminate())


@dataclass(frozen=True)
class LeakSuspect:
    """A session of the app that looks leaked, and why."""

    pid: int
    state: str | None
    held_s: float | None  # how long the app has had it out of the pool
    transaction_age_s: float | None
    query: str
    reason: str


def find_leaks(
    app, older_than_s: float = 5.0, idle_in_transaction_older_than_s: float | None = None
) -> list[LeakSuspect]:
    """The app's sessions out of the pool for longer than ``older_than_s``, or idle in
    transaction for longer than ``idle_in_transaction_older_than_s`` (default: the same).
    """
    idle_limit = (
        older_than_s
        if idle_in_transaction_older_than_s is None
        else (idle_in_transaction_older_than_s)
    )
    held = checked_out(app)
    suspects = []
    for session in app_sessions(app):
        reasons = []
        held_s = held.get(session.pid)
        if held_s is not None and held_s > older_than_s:
            reasons.append(_("out of the pool for {held_s:.1f} s").format(held_s=held_s))
        idle_for = session.state_age_s or 0.0
        if session.state == "idle in transaction" and idle_for > idle_limit:
            reasons.append(_("idle in transaction for {idle_for:.1f} s").format(idle_for=idle_for))
        if reasons:
            suspects.append(
                LeakSuspect(
                    pid=session.pid,
                    state=session.state,
                    held_s=held_s,
                    transaction_age_s=session.transaction_age_s,
                    query=" ".join(session.query.split()),
                    reason=_("; ").join(reasons),
                )
            )
    return suspects


def detect_leaks(app, older_than_s: float = 5.0) -> list[LeakSuspect]:
    """The notebook's detector run: :func:`find_leaks`, with its findings recorded for the quiz."""
    suspects = find_leaks(app, older_than_s)
    record_result(
        "05.leak_detector",
        leaked_sessions_found=len(suspects),
        idle_in_transaction_found=sum(s.state == "idle in transaction" for s in suspects),
        older_than_s=older_than_s,
    )
    return suspects


@dataclass(frozen=True)
class LeakLabState:
    """What the leak lab shows after each action."""

    action: str
    outcome: object
    pool: dict[str, int]
    sessions: list[Session]
    checked_out: dict[int, float]

    @property
    def free_slots(self) -> int:
        """Connections the pool could still hand out: max_size - in_use."""
        return self.pool["max_size"] - self.pool["in_use"]

    def table(self) -> str:
        headings = [_("state"), _("out of pool"), _("xact age"), _("last query")]
        state_w = max(20, display_width(headings[0]))
        lines = [
            _("after '{action}': {outcome}").format(action=_(self.action), outcome=self.outcome),
            _(
                "pool: size {size}, in_use {in_use}, idle {idle}, free slots {free} of {max_size}"
            ).format(
                size=self.pool["size"],
                in_use=self.pool["in_use"],
                idle=self.pool["idle"],
                free=self.free_slots,
                max_size=self.pool["max_size"],
            ),
            f"{'pid':>7}  {_pad(headings[0], state_w)} {_rpad(headings[1], 11)} "
            f"{_rpad(headings[2], 9)}  {headings[3]}",
        ]
        for s in self.sessions:
            held = self.checked_out.get(s.pid)
            held_txt = f"{held:.1f} s" if held is not None else "-"
            xact = f"{s.transaction_age_s:.1f} s" if s.transaction_age_s is not None else "-"
            query = " ".join(s.query.split())[:40]
            state = s.state or "-"
            lines.append(f"{s.pid:>7}  {_pad(state, state_w)} {held_txt:>11} {xact:>9}  {query}")
        return "\n".join(lines)


def _pad(text: str, width: int) -> str:
    """``text`` left-aligned in ``width`` columns (a Chinese character takes two)."""
    return text + " " * max(0, width - display_width(text))


def _rpad(text: str, width: int) -> str:
    """``text`` right-aligned in ``width`` columns."""
    return " " * max(0, width - display_width(text)) + text


def leak_lab(action: str = "leak a connection", app=None) -> LeakLabState:
    """Do one of :data:`ACTIONS` to the app, then read its pool and its sessions."""
    from labkit.infra.runner import running_app

    app = running_app(app)
    handlers = {
        "leak a connection": leak_connection,
        "leave a transaction open": leave_transaction_open,
        "release everything": release_leaks,
    }
    if action not in handlers:
        raise ValueError(
            _("action must be one of {actions}, not {action!r}").format(
                actions=list(handlers), action=action
            )
        )
    outcome = handlers[action](app)
    state = LeakLabState(action, outcome, app.pool_status(), app_sessions(app), checked_out(app))
    record_result(
        "05.leaks",
        leaked_connections=len(state.checked_out),
        idle_in_transaction=sum(s.state == "idle in transaction" for s in state.sessions),
        free_slots=state.free_slots,
    )
    return state


@dataclass(frozen=True)
class ForgottenCommit:
    """A handler that forgot COMMIT but released its connection: no leak, lost work."""

    answered: dict  # what the handler told its caller
    rows_saved: int  # rows of that INSERT that exist afterwards
    pool: dict[str, int]  # /pool-status afterwards
    idle_in_transaction: int  # the app's sessions left idle in transaction
    logged: list[str]  # what the app's event loop logged while the connection was reset


def forgotten_commit(app) -> ForgottenCommit:
    """POST /lab/forget-commit, then count the row it inserted and look at the pool.

    asyncpg's reset on release finds the transaction still open and runs ROLLBACK, so
    the connection goes back clean, and the INSERT is silently undone. asyncpg also
    reports it through the event loop's exception handler, which asyncio logs.
    """
    import logging
    import secrets

    tag = f"forgot-{secrets.token_hex(4)}"
    logged: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            logged.append(record.getMessage().split(" <")[0])

    handler = Keep(level=logging.ERROR)
    logging.getLogger("asyncio").addHandler(handler)
    try:
        with _client(app) as client:
            answered = client.post("/lab/forget-commit", params={"tag": tag}).json()
    finally:
        logging.getLogger("asyncio").removeHandler(handler)
    rows = run_blocking(_count_rows(app.database.dsn, f"{tag}@%"))
    idle_tx = sum(s.state == "idle in transaction" for s in app_sessions(app))
    return ForgottenCommit(answered, rows, app.pool_status(), idle_tx, logged)


async def _count_rows(dsn: str, pattern: str) -> int:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval("SELECT count(*) FROM users WHERE email LIKE $1", pattern)
    finally:
        await conn.close()
