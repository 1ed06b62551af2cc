"""PgBouncer in front of the real database: its pool, its modes, and asyncpg's pitfall.

These need a ``pgbouncer`` binary (Debian: ``apt-get install pgbouncer``; CI installs
it). Without one they are skipped, and the tests of the skip path still run.
"""

from __future__ import annotations

import asyncio
import stat

import asyncpg
import psutil
import pytest
from conftest import fetch

from labkit.infra.blocking import run_blocking
from labkit.infra.home import is_root
from labkit.infra.pgbouncer import (
    HOW_TO_GET_PGBOUNCER,
    PgBouncerError,
    pgbouncer_binary,
    start_pgbouncer,
)
from labkit.infra.workers import WorkerStartError, start_workers
from labkit.labs import pooler_modes, scale_out

needs_pgbouncer = pytest.mark.skipif(
    pgbouncer_binary() is None, reason="no pgbouncer binary (apt-get install pgbouncer)"
)


def client_backends(dsn: str) -> int:
    """Client sessions on the server, without the one that counts them."""
    return fetch(
        dsn,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()",
    )[0][0]


@pytest.fixture
def bouncers(database):
    """``start(**options)`` for a test; every PgBouncer it started is stopped after."""
    started = []

    def start(**options):
        bouncer = start_pgbouncer(database, **options)
        started.append(bouncer)
        return bouncer

    yield start
    for bouncer in started:
        bouncer.stop()


# ----------------------------------------------------------------------------- the tests
@needs_pgbouncer
def test_transaction_mode_serves_40_clients_with_default_pool_size_server_connections(
    database, bouncers
):
    pool_size = 4
    bouncer = bouncers(pool_mode="transaction", default_pool_size=pool_size)
    group = start_workers(
        4,
        maxsize=10,
        minsize=10,
        database=bouncer.dsn,
        server_dsn=database.dsn,
        statement_cache_size=0,
    )
    try:
        run = scale_out.run_under_load(
            group, "pgbouncer", hold_ms=30, concurrency=40, duration=2.0, bouncer=bouncer
        )
        after = client_backends(database.dsn)
    finally:
        group.stop()
    summary = run.result.summary
    assert summary.requests > 40 and summary.statuses == {200: summary.requests}  # all succeed
    assert run.peak_clients == 40  # 4 workers x maxsize 10, all connected to PgBouncer
    # The admin console is PgBouncer's own database: it opens no server connection.
    assert 0 < run.peak_server_connections <= pool_size
    assert after <= pool_size
    assert max(s.pool.cl_waiting for s in run.samples) > 0  # 40 clients queued for 4 servers
    assert run.stats.xact_count >= summary.requests


@needs_pgbouncer
def test_prepared_statement_error_reproduces_and_statement_cache_size_0_fixes_it(bouncers):
    transaction = bouncers(pool_mode="transaction", default_pool_size=2)
    broken = pooler_modes.prepared_statement(transaction)
    assert not broken.works
    assert type(broken.error) is asyncpg.exceptions.InvalidSQLStatementNameError
    text = pooler_modes.error_text(broken.error)
    assert text.startswith(
        'asyncpg.exceptions.InvalidSQLStatementNameError: prepared statement "__asyncpg_stmt_'
    )
    assert "set statement_cache_size to 0" in text  # asyncpg's own hint
    fixed = pooler_modes.prepared_statement(transaction, statement_cache_size=0)
    assert fixed.works and fixed.error is None
    session = bouncers(pool_mode="session", default_pool_size=2)
    assert pooler_modes.prepared_statement(session).works


@needs_pgbouncer
def test_worker_processes_collide_on_prepared_statement_names_in_transaction_mode(
    database, bouncers
):
    bouncer = bouncers(pool_mode="transaction", default_pool_size=2)
    with pytest.raises(WorkerStartError) as caught:
        start_workers(2, maxsize=2, minsize=2, database=bouncer.dsn, server_dsn=database.dsn)
    assert caught.value.error_lines[0] == (
        'asyncpg.exceptions.DuplicatePreparedStatementError: prepared statement "'
        '__asyncpg_stmt_1__" already exists'
    )
    group = start_workers(
        2, maxsize=2, minsize=2, database=bouncer.dsn, server_dsn=database.dsn,
        statement_cache_size=0,
    )  # fmt: skip
    group.stop()


@needs_pgbouncer
@pytest.mark.parametrize(("reset_on_release", "per_request"), [(True, 2), (False, 1)])
def test_asyncpg_reset_on_release_is_a_second_trip_through_pgbouncer(
    database, bouncers, reset_on_release, per_request
):
    bouncer = bouncers(pool_mode="transaction", default_pool_size=2)
    group = start_workers(
        1,
        maxsize=2,
        minsize=2,
        database=bouncer.dsn,
        server_dsn=database.dsn,
        statement_cache_size=0,
        reset_on_release=reset_on_release,
    )
    try:
        run = scale_out.run_under_load(
            group, "trips", hold_ms=1, rate=100, duration=0.3, bouncer=bouncer
        )
    finally:
        group.stop()
    requests = len(run.result.records)
    assert requests > 5 and run.result.summary.statuses == {200: requests}
    assert run.stats.xact_count == per_request * requests
    points = scale_out.predicted_vs_measured([run], record_as=None)
    assert points[0].run is run and points[0].mmc.servers == 2
    assert 0 < run.server_utilisation < 1


@needs_pgbouncer
def test_show_stats_wait_and_busy_time_add_up(bouncers):
    """Three 100 ms queries on one server connection: 300 ms busy, 100 + 200 ms waiting.

    PgBouncer 1.18 counts a transaction's time from when its client asks for a server
    connection, so the labs take the wait out of total_xact_time to get the busy time.
    """
    bouncer = bouncers(pool_mode="transaction", default_pool_size=1)

    async def three_at_once() -> None:
        conns = [await asyncpg.connect(bouncer.dsn, statement_cache_size=0) for _ in range(3)]
        await asyncio.gather(*(c.execute("SELECT pg_sleep(0.1)") for c in conns))
        for conn in conns:
            await conn.close()

    before = bouncer.stats()
    run_blocking(three_at_once())
    used = bouncer.stats() - before
    assert used.xact_count == 3
    assert used.wait_time_s == pytest.approx(0.3, abs=0.08)
    assert used.xact_time_s - used.wait_time_s == pytest.approx(0.3, abs=0.08)


@needs_pgbouncer
def test_stopping_pgbouncer_leaves_no_process_no_session_and_no_password(database, bouncers):
    bouncer = bouncers(pool_mode="transaction", default_pool_size=3)

    async def busy() -> None:
        conns = [await asyncpg.connect(bouncer.dsn, statement_cache_size=0) for _ in range(3)]
        await asyncio.gather(*(c.execute("SELECT pg_sleep(0.1)") for c in conns))
        for conn in conns:
            await conn.close()

    run_blocking(busy())
    pids = bouncer.server_pids()
    assert len(pids) == 3 == bouncer.server_sessions()
    process = psutil.Process(bouncer.process.pid)
    bouncer.stop()
    assert not process.is_running() or process.status() == psutil.STATUS_ZOMBIE
    assert (
        fetch(database.dsn, "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)", pids)[0][0]
        == 0
    )
    assert not bouncer.folder.exists()
    assert scale_out.leftovers(database.dsn)["pgbouncer processes"] == 0


# ----------------------------------------------------------------------------- the two modes
@needs_pgbouncer
@pytest.mark.parametrize(
    "demo",
    [
        pooler_modes.set_is_kept,
        pooler_modes.advisory_lock,
        pooler_modes.listen_notify,
        pooler_modes.prepared_statement,
    ],
    ids=lambda f: f.__name__,
)
def test_session_state_survives_in_session_mode_and_breaks_in_transaction_mode(bouncers, demo):
    session = bouncers(pool_mode="session", default_pool_size=2)
    transaction = bouncers(pool_mode="transaction", default_pool_size=2)
    assert demo(session).works, demo(session)
    outcome = demo(transaction)
    assert not outcome.works, outcome


@needs_pgbouncer
def test_advisory_lock_taken_in_transaction_mode_stays_with_the_server_connection(bouncers):
    outcome = pooler_modes.advisory_lock(bouncers(pool_mode="transaction", default_pool_size=2))
    assert "you don't own a lock of type ExclusiveLock" in "\n".join(outcome.steps)
    assert outcome.steps[-1].endswith("pg_advisory_unlock: True")  # another client freed it


@needs_pgbouncer
def test_session_mode_makes_an_extra_client_wait_for_an_idle_one(bouncers):
    session = pooler_modes.waits_for_a_server(bouncers(pool_mode="session", default_pool_size=2))
    assert not session.works
    assert "cl_waiting = 1" in session.steps[1]
    transaction = bouncers(pool_mode="transaction", default_pool_size=2)
    assert pooler_modes.waits_for_a_server(transaction).works


# ----------------------------------------------------------------------------- the process
@needs_pgbouncer
def test_pgbouncer_listens_on_loopback_only_with_private_files(bouncers):
    bouncer = bouncers(pool_mode="session", default_pool_size=1)
    listening = [
        c.laddr
        for c in psutil.Process(bouncer.process.pid).net_connections("all")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening == [("127.0.0.1", bouncer.port)]  # no unix socket, no other address
    for name in ("pgbouncer.ini", "userlist.txt"):
        mode = (bouncer.folder / name).stat().st_mode
        assert stat.S_IMODE(mode) == 0o600, name
    assert stat.S_IMODE(bouncer.folder.stat().st_mode) == 0o700
    user = psutil.Process(bouncer.process.pid).username()
    assert user == ("embedded_postgres" if is_root() else psutil.Process().username())
    assert bouncer.version.startswith("PgBouncer ")
    assert bouncer.pool().pool_mode == "session"
    assert "pool_mode" in bouncer.config()


@needs_pgbouncer
def test_bad_settings_are_refused_with_what_to_do(database):
    with pytest.raises(ValueError, match="pool_mode must be one of"):
        start_pgbouncer(database, pool_mode="sessions")
    with pytest.raises(ValueError, match="default_pool_size"):
        start_pgbouncer(database, default_pool_size=0)
    with pytest.raises(PgBouncerError, match="has none"):
        start_pgbouncer("postgresql://labkit@127.0.0.1:5432/labkit")


# ----------------------------------------------------------------------------- no binary
def test_labkit_pgbouncer_off_means_no_binary_and_says_how_to_get_one(monkeypatch, database):
    monkeypatch.setenv("LABKIT_PGBOUNCER", "off")
    assert pgbouncer_binary() is None
    assert scale_out.pgbouncer_skip_reason() == HOW_TO_GET_PGBOUNCER
    assert "apt-get install pgbouncer" in HOW_TO_GET_PGBOUNCER
    with pytest.raises(PgBouncerError, match="conda-forge pgbouncer"):
        start_pgbouncer(database)


def test_labkit_pgbouncer_pointing_nowhere_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_PGBOUNCER", str(tmp_path / "nope"))
    with pytest.raises(PgBouncerError, match="not an executable file"):
        pgbouncer_binary()
    assert "not an executable file" in scale_out.pgbouncer_skip_reason()
