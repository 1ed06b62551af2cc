"""Notebook 09's PgBouncer mode demos: what session and transaction mode allow and break.

In **session** mode a client keeps one server connection from login to logout, so
everything that lives in a session works: ``SET``, session advisory locks,
``LISTEN``, prepared statements. The price: a connected client holds a server
connection even while it does nothing, so a pool of N connections serves N clients.

In **transaction** mode a client gets a server connection only for one transaction,
and the next transaction may run on another one. Session state then goes wrong in
two ways: it is missing where you expect it, and it shows up for other clients.
Each demo below runs the same steps in either mode and reports what happened.

Each demo uses plain asyncpg connections through the given PgBouncer (with
``statement_cache_size=0``, except the prepared-statement demo, which is about it).
They rely on PgBouncer handing out server connections last-in first-out (its
default, ``server_round_robin = 0``), and on a client that keeps a transaction open
to hold one server connection, so that the next transaction must use another.

>>> for bouncer in (session, transaction):                 # doctest: +SKIP
...     print(set_is_kept(bouncer))
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import asyncpg

from labkit.infra.blocking import run_blocking
from labkit.infra.pgbouncer import PgBouncer
from labkit.infra.results import record_result
from labkit.messages import N_, _

__all__ = [
    "CacheCost",
    "ModeOutcome",
    "advisory_lock",
    "error_text",
    "listen_notify",
    "prepared_statement",
    "set_is_kept",
    "statement_cache_cost",
    "tracks_prepared_statements",
    "waits_for_a_server",
]

CHANNEL = "labkit_demo"
LOCK_KEY = 615  # the advisory lock the demo takes


@dataclass(frozen=True)
class ModeOutcome:
    """What one demo saw in one pool mode: the steps, and whether the feature held."""

    mode: str
    feature: str  # English (marked with N_), shown translated
    works: bool
    steps: list[str]
    error: BaseException | None = None  # the exception a step raised, if one did
    setting: str = ""  # the client setting the demo ran with, shown after the feature

    def __str__(self) -> str:
        if self.works:
            line = _("{mode} mode, {feature}: works")
        else:
            line = _("{mode} mode, {feature}: BREAKS")
        feature = _(self.feature) + (f" ({self.setting})" if self.setting else "")
        lines = [line.format(mode=self.mode, feature=feature)]
        return "\n".join(lines + [f"  {step}" for step in self.steps])


def error_text(exc: BaseException | None) -> str:
    """An exception exactly as raised: module, class and message (with asyncpg's hint)."""
    if exc is None:
        return _("no error")
    kind = type(exc)
    return f"{kind.__module__}.{kind.__qualname__}: {exc}"


@contextlib.asynccontextmanager
async def _clients(dsn: str, count: int, **options) -> AsyncIterator[list[asyncpg.Connection]]:
    options.setdefault("statement_cache_size", 0)
    conns = [await asyncpg.connect(dsn, timeout=10, **options) for _i in range(count)]
    try:
        yield conns
    finally:
        for conn in conns:
            await conn.close()


@contextlib.asynccontextmanager
async def _holding_a_server(conn: asyncpg.Connection) -> AsyncIterator[int]:
    """Keep a transaction open on ``conn``: in transaction mode it pins one server connection.

    Yields that server connection's backend pid.
    """
    transaction = conn.transaction()
    await transaction.start()
    try:
        yield await conn.fetchval("SELECT pg_backend_pid()")
    finally:
        await transaction.rollback()


def set_is_kept(bouncer: PgBouncer) -> ModeOutcome:
    """Client A runs ``SET statement_timeout``; then who sees it, A or another client?"""

    async def demo() -> ModeOutcome:
        async with _clients(bouncer.dsn, 2) as (a, b):
            await a.execute("SET statement_timeout = '1234ms'")
            steps = ["A: SET statement_timeout = '1234ms'"]
            b_sees = await b.fetchval("SHOW statement_timeout")
            steps.append(
                _("B (another client) runs SHOW statement_timeout: {value}").format(value=b_sees)
            )
            async with _holding_a_server(b) as pid:
                a_sees = await a.fetchval("SHOW statement_timeout")
                steps.append(
                    _("B keeps a transaction open (backend {pid}); A runs SHOW: {value}").format(
                        pid=pid, value=a_sees
                    )
                )
            # Undo it wherever it landed: a server connection keeps its settings.
            await a.execute("RESET statement_timeout")
            await b.execute("RESET statement_timeout")
        works = a_sees == "1234ms" and b_sees != "1234ms"
        return ModeOutcome(bouncer.pool_mode, N_("SET (session settings)"), works, steps)

    return run_blocking(demo())


def advisory_lock(bouncer: PgBouncer) -> ModeOutcome:
    """Client A takes a session advisory lock, then tries to release it."""

    async def demo() -> ModeOutcome:
        notices: list[str] = []
        # The watcher reads pg_locks on PostgreSQL itself, beside PgBouncer.
        async with (
            _clients(bouncer.dsn, 2) as (a, b),
            _clients(bouncer.server_dsn, 1) as (watcher,),
        ):
            a.add_log_listener(lambda _conn, message: notices.append(message.message))
            await a.execute(f"SELECT pg_advisory_lock({LOCK_KEY})")
            steps = [f"A: SELECT pg_advisory_lock({LOCK_KEY})"]
            async with _holding_a_server(b) as pid:
                released = await a.fetchval(f"SELECT pg_advisory_unlock({LOCK_KEY})")
                await asyncio.sleep(0.05)  # the WARNING arrives as a notice
                if notices:
                    step = _(
                        "B keeps a transaction open (backend {pid}); A: pg_advisory_unlock: "
                        '{released} (server WARNING: "{warning}")'
                    ).format(pid=pid, released=released, warning=notices[0])
                else:
                    step = _(
                        "B keeps a transaction open (backend {pid}); A: pg_advisory_unlock: "
                        "{released}"
                    ).format(pid=pid, released=released)
                steps.append(step)
                holders = await watcher.fetchval(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1",
                    LOCK_KEY,
                )
                steps.append(
                    _("sessions still holding the lock: {holders}").format(holders=holders)
                )
                if holders:
                    # Only the server connection that took it can let it go: here, B's.
                    by_b = await b.fetchval(f"SELECT pg_advisory_unlock({LOCK_KEY})")
                    steps.append(
                        _("B (another client!) runs pg_advisory_unlock: {released}").format(
                            released=by_b
                        )
                    )
        feature = N_("session advisory locks")
        return ModeOutcome(bouncer.pool_mode, feature, bool(released), steps)

    return run_blocking(demo())


def listen_notify(bouncer: PgBouncer, wait_s: float = 0.5) -> ModeOutcome:
    """Client A runs ``LISTEN``; client C sends ``NOTIFY``: does A hear it?"""

    async def demo() -> ModeOutcome:
        heard: list[str] = []
        async with _clients(bouncer.dsn, 2) as (a, c):
            await a.add_listener(CHANNEL, lambda *args: heard.append(args[-1]))
            await c.execute(f"NOTIFY {CHANNEL}, 'hello'")
            await asyncio.sleep(wait_s)
            await a.execute("SELECT 1")  # give a notification one more chance to arrive
            await asyncio.sleep(0.05)
        steps = [
            f"A: LISTEN {CHANNEL}",
            _("C (another client): NOTIFY {channel}, 'hello'").format(channel=CHANNEL),
            _("A heard within {wait_s:g} s: {heard}").format(
                wait_s=wait_s, heard=heard or _("nothing")
            ),
        ]
        return ModeOutcome(bouncer.pool_mode, N_("LISTEN/NOTIFY"), heard == ["hello"], steps)

    return run_blocking(demo())


def waits_for_a_server(bouncer: PgBouncer) -> ModeOutcome:
    """``default_pool_size`` clients stay connected, idle; one more client sends a query.

    In session mode every connected client keeps its server connection, so the extra
    client waits until another one disconnects. In transaction mode it does not wait.
    """
    size = bouncer.default_pool_size

    async def demo() -> ModeOutcome:
        async with _clients(bouncer.dsn, size + 1) as conns:
            *idle_ones, extra = conns
            for conn in idle_ones:
                await conn.execute("SELECT 1")  # each logs in and runs one query, then idles
            began = time.perf_counter()
            query = asyncio.create_task(extra.execute("SELECT 1"))
            done, _pending = await asyncio.wait({query}, timeout=0.5)
            pool = await bouncer.pool_async()
            steps = [
                _("{size} clients connected and idle; one more client sends SELECT 1").format(
                    size=size
                ),
                _(
                    "after 0.5 s: answered = {answered}; SHOW POOLS: cl_waiting = {cl_waiting}, "
                    "sv_active = {sv_active}, maxwait = {maxwait:.2f} s"
                ).format(
                    answered=bool(done),
                    cl_waiting=pool.cl_waiting,
                    sv_active=pool.sv_active,
                    maxwait=pool.maxwait_s,
                ),
            ]
            if not done:
                await idle_ones[0].close()
                await query
                steps.append(
                    _("one idle client disconnects: answered after {took:.2f} s").format(
                        took=time.perf_counter() - began
                    )
                )
        # "works": the extra client was served at once, idle clients did not block it
        feature = N_("many idle clients, few servers")
        return ModeOutcome(bouncer.pool_mode, feature, bool(done), steps)

    return run_blocking(demo())


def prepared_statement(bouncer: PgBouncer, statement_cache_size: int = 100) -> ModeOutcome:
    """asyncpg prepares and caches a statement; does running it again work?

    asyncpg's default (``statement_cache_size=100``) prepares each query once per
    connection as a named statement, ``__asyncpg_stmt_N__``, and later only sends
    "execute that statement". The outcome's ``error`` is the exception, as raised.
    """

    async def demo() -> ModeOutcome:
        error: BaseException | None = None
        options = {"statement_cache_size": statement_cache_size}
        async with _clients(bouncer.dsn, 2, **options) as (a, b):
            first = await a.fetchval("SELECT pg_backend_pid()")
            steps = [
                _("A: SELECT pg_backend_pid() -> {pid} (prepared there, then run)").format(
                    pid=first
                )
            ]
            async with _holding_a_server(b) as pid:
                try:
                    again = await a.fetchval("SELECT pg_backend_pid()")
                    steps.append(
                        _("B keeps a transaction open (backend {pid}); A again -> {again}").format(
                            pid=pid, again=again
                        )
                    )
                except asyncpg.PostgresError as exc:
                    error = exc
                    steps.append(
                        _("B keeps a transaction open (backend {pid}); A again fails:").format(
                            pid=pid
                        )
                    )
                    steps.append(error_text(exc).splitlines()[0])
        setting = f"statement_cache_size={statement_cache_size}"
        feature = N_("prepared statements")
        return ModeOutcome(bouncer.pool_mode, feature, error is None, steps, error, setting)

    return run_blocking(demo())


def tracks_prepared_statements(bouncer: PgBouncer) -> bool:
    """Does this PgBouncer know ``max_prepared_statements`` (PgBouncer 1.21 and later)?"""
    return "max_prepared_statements" in bouncer.config()


@dataclass(frozen=True)
class CacheCost:
    """Mean time per query with asyncpg's statement cache, and without it."""

    cached_us: float
    uncached_us: float
    queries: int

    @property
    def extra_us(self) -> float:
        return self.uncached_us - self.cached_us

    @property
    def ratio(self) -> float:
        return self.uncached_us / self.cached_us

    def __str__(self) -> str:
        return _(
            "{queries} queries each: {cached_us:.0f} µs per query with the cache, "
            "{uncached_us:.0f} µs without ({ratio:.2f}×, +{extra_us:.0f} µs)"
        ).format(
            queries=self.queries,
            cached_us=self.cached_us,
            uncached_us=self.uncached_us,
            ratio=self.ratio,
            extra_us=self.extra_us,
        )


COST_QUERY = (
    "SELECT c.relname, n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.oid = $1"
)


def statement_cache_cost(dsn: str, queries: int = 400, rounds: int = 3) -> CacheCost:
    """Time the same parameterised query with ``statement_cache_size`` 100 and 0.

    Runs on ``dsn`` directly (give PostgreSQL's, to see the cost of the cache alone):
    without the cache, asyncpg sends every query to be parsed and planned again, and
    asks the server to describe it first (one more round trip). The best of
    ``rounds`` rounds counts, so a busy moment on a shared machine does not.
    Recorded for the quiz as ``10.statement_cache``.
    """

    async def per_query_us(cache: int) -> float:
        conn = await asyncpg.connect(dsn, timeout=10, statement_cache_size=cache)
        try:
            oid = await conn.fetchval("SELECT 'pg_class'::regclass::oid")
            best = float("inf")
            for _round in range(rounds):
                began = time.perf_counter()
                for _query in range(queries):
                    await conn.fetchrow(COST_QUERY, oid)
                best = min(best, (time.perf_counter() - began) / queries)
            return best * 1e6
        finally:
            await conn.close()

    async def measure() -> CacheCost:
        return CacheCost(await per_query_us(100), await per_query_us(0), queries)

    cost = run_blocking(measure())
    record_result(
        "10.statement_cache",
        cached_us=round(cost.cached_us, 1),
        uncached_us=round(cost.uncached_us, 1),
        ratio=round(cost.ratio, 2),
    )
    return cost
