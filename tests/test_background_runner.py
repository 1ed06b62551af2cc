"""The background runner: start, restart, stop, and recovery from bad starts."""

from __future__ import annotations

import os
import socket

import httpx
import psutil
import pytest
from pydantic import ValidationError

from labkit.errors import AppStartError
from labkit.infra.database import Database
from labkit.infra.ports import bind_tcp
from labkit.infra.runner import current_app, start_app
from labkit.infra.sessions import app_sessions


def test_start_restart_stop_three_times_leaves_no_sessions(database):
    for _ in range(3):
        app = start_app(minsize=2, maxsize=4, database=database)
        assert httpx.get(f"{app.url}/lab/ping-db").json() == {"one": 1}
        first_name = app.application_name
        assert len(app_sessions(app)) == 2

        app.restart(maxsize=6, acquire_timeout=0.5)
        assert app.application_name != first_name
        assert app.settings.maxsize == 6 and app.settings.acquire_timeout == 0.5
        assert app.pool_status()["max_size"] == 6
        assert httpx.get(f"{app.url}/metrics").status_code == 200  # no duplicate timeseries

        app.stop()
        assert not app.running
        assert app_sessions(app) == []


def test_rerunning_start_app_stops_the_previous_app(database):
    first = start_app(database=database)
    second = start_app(database=database)
    try:
        assert not first.running
        assert app_sessions(first) == []
        assert current_app() is second
        assert httpx.get(f"{second.url}/pool-status").status_code == 200
    finally:
        second.stop()


def test_a_busy_port_is_avoided(database):
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        with pytest.warns(UserWarning, match=f"port {busy} is busy"):
            app = start_app(port=busy, database=database)
        try:
            assert app.port != busy
            assert httpx.get(f"{app.url}/pool-status").status_code == 200
        finally:
            app.stop()


def test_a_failed_start_does_not_poison_the_next(database):
    dead = Database("env", "postgresql://labkit:wrong@127.0.0.1:1/labkit")
    with pytest.raises(AppStartError, match="did not start"):
        start_app(database=dead)
    app = start_app(database=database)
    try:
        assert httpx.get(f"{app.url}/lab/ping-db").status_code == 200
    finally:
        app.stop()


def test_bad_pool_settings_are_refused_with_a_reason(database):
    with pytest.raises(ValidationError, match="lower minsize"):
        start_app(minsize=5, maxsize=2, database=database)
    with pytest.raises(ValidationError):
        start_app(acquire_timeout=0, database=database)


def test_start_app_with_no_database_given_starts_one():
    app = start_app()
    try:
        assert app.database.kind in {"embedded", "env", "compose"}
        assert app.pool_status()["size"] >= 1
    finally:
        app.stop()


def test_responses_are_not_delayed_by_nagle(database):
    """Without TCP_NODELAY every response stalled ~40 ms on delayed ACKs.

    Checked on the mechanism, not on a latency: the app's end of a connection has
    TCP_NODELAY set (the app runs in this process, so its sockets are ours to read).
    """
    with bind_tcp(0) as sock:
        assert sock.proto == socket.IPPROTO_TCP  # so asyncio sets TCP_NODELAY on accept
    app = start_app(database=database)
    try:
        with socket.create_connection(("127.0.0.1", app.port)) as client:
            client.sendall(b"GET /pool-status HTTP/1.1\r\nHost: x\r\n\r\n")
            assert client.recv(4096).startswith(b"HTTP/1.1 200")  # accepted and answered
            client_port = client.getsockname()[1]
            assert app_side_nodelay(app.port, client_port) == 1
    finally:
        app.stop()


def app_side_nodelay(app_port: int, client_port: int) -> int:
    """TCP_NODELAY on the app's end of the connection from ``client_port``."""
    for conn in psutil.Process().net_connections("tcp"):
        if conn.laddr.port == app_port and conn.raddr and conn.raddr.port == client_port:
            with socket.socket(fileno=os.dup(conn.fd)) as sock:  # a copy: the app keeps its own
                return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
    raise AssertionError(f"no connection from port {client_port} to the app on {app_port}")
