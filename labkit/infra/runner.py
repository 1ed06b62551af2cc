"""Run the example app in a background thread of the kernel.

The shape follows httpx's test server: a uvicorn ``Server`` in a daemon thread,
started by polling ``started`` and stopped with ``should_exit`` and ``join()``.
The app gets its own event loop in that thread. Talk to it over HTTP from the
notebook; never run ORM queries on the kernel's own loop against its pool, which
would quietly build a second pool.

>>> app = start_app(maxsize=5)            # doctest: +SKIP
>>> app.url                               # doctest: +SKIP
'http://127.0.0.1:40123'

On a shared host (``LABKIT_SHARED_HOST=1``, see :mod:`labkit.infra.access`) the
app asks every request for a per-run secret, and ``app.url`` carries it:
``http://labkit:<secret>@127.0.0.1:40123``. httpx sends it by itself.
>>> app.restart(maxsize=10)               # doctest: +SKIP
>>> app.stop()                            # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx

from labkit.errors import AppStartError
from labkit.infra.access import new_secret, shared_host, split_credentials, with_credentials
from labkit.infra.blocking import run_blocking
from labkit.infra.database import Database, ensure_database
from labkit.infra.ports import bind_tcp
from labkit.infra.sessions import fetch_sessions
from labkit.messages import _

START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0

_current: BackgroundApp | None = None
_current_lock = threading.Lock()


@dataclass
class BackgroundApp:
    """The example app, served by uvicorn in a daemon thread.

    ``settings`` holds the pool parameters in force (see ``AppSettings``).
    """

    database: Database
    settings: Any  # labkit.app.settings.AppSettings, imported lazily
    port: int = 0
    url: str = ""
    _server: Any = field(default=None, repr=False)
    _fastapi_app: Any = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def application_name(self) -> str:
        """The ``application_name`` every connection of this run carries."""
        return self.settings.application_name

    @property
    def address(self) -> str:
        """``url`` without its credentials: safe to print or show in a link."""
        return split_credentials(self.url)[0]

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _start(self) -> None:
        import uvicorn

        from labkit.app.main import create_app

        app = self._fastapi_app = create_app(self.settings)
        sock = bind_tcp(self.port)
        self.port = sock.getsockname()[1]
        self.url = with_credentials(f"http://127.0.0.1:{self.port}", self.settings.access_secret)
        config = uvicorn.Config(
            app, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._serve, args=(sock,), name=f"labkit-app-{self.port}", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                cause = app.state.startup_error
                raise AppStartError(
                    _(
                        "The example app did not start: {cause!r}. Check that the database "
                        "answers (`labkit db status`) and that the pool settings are valid."
                    ).format(cause=cause)
                ) from cause
            time.sleep(0.02)
        self._wait_until_answering(deadline)

    def _serve(self, sock: socket.socket) -> None:
        try:
            self._server.run(sockets=[sock])
        except SystemExit:  # uvicorn exits this way when the lifespan fails
            pass
        finally:
            sock.close()

    def _wait_until_answering(self, deadline: float) -> None:
        while True:
            try:
                if httpx.get(f"{self.url}/pool-status", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise AppStartError(
                    _("The example app at {address} never answered /pool-status.").format(
                        address=self.address
                    )
                )
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server, close the pool, and wait until none of its sessions remain."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            if self._thread.is_alive():
                self._server.force_exit = True
                self._thread.join(STOP_TIMEOUT_S)
        self._thread = None
        self._wait_for_sessions_to_end()

    def _wait_for_sessions_to_end(self, timeout: float = 5.0) -> None:
        # A closed connection's backend leaves pg_stat_activity a moment later.
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                left = len(run_blocking(fetch_sessions(self.database.dsn, self.application_name)))
            except (OSError, asyncpg.PostgresError, asyncio.TimeoutError):
                return  # the database itself is gone: nothing of ours is left in it
            if left == 0:
                return
            time.sleep(0.05)

    def restart(self, **changes: Any) -> BackgroundApp:
        """Stop, then start again with some settings changed (a new application_name too).

        >>> app.restart(maxsize=10, acquire_timeout=0.1)  # doctest: +SKIP
        """
        from labkit.app.settings import AppSettings, new_application_name

        self.stop()
        merged = {
            **self.settings.model_dump(),
            "application_name": new_application_name(),
            **changes,
        }
        self.settings = AppSettings(**merged)
        self._start()
        return self

    @property
    def pool(self):
        """The app's live asyncpg Pool, for looking at, never for queries.

        It belongs to the app's event loop in another thread: reading its state is
        fine, but acquiring from it here would break it. Send requests instead.
        """
        if not self.running:
            raise AppStartError(_("the app is not running: start it with labkit.start_app()"))
        return self._fastapi_app.state.db_client.pool

    @property
    def proxy_url(self) -> str | None:
        """The app's address through the Jupyter server (``…/proxy/<port>/``), if any.

        None outside a Jupyter server with jupyter-server-proxy. The app reads the
        proxy's prefix from each request, so its ``/docs`` works there too.
        """
        from labkit.urls import proxy_server, service_url

        return service_url(self) if proxy_server() is not None else None

    @property
    def browser_url(self) -> str:
        """The address a learner's browser opens: :attr:`proxy_url`, else :attr:`url`."""
        from labkit.urls import service_url

        return service_url(self)

    def pool_status(self) -> dict[str, int]:
        """GET /pool-status, as a dict."""
        response = httpx.get(f"{self.url}/pool-status", timeout=10)
        response.raise_for_status()
        return response.json()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        s = self.settings
        # The browser's address, not the kernel's: on a hosted session 127.0.0.1 is
        # not the learner's machine.
        where = self.browser_url if self.port else "(not started)"
        return (
            f"<BackgroundApp {state} at {where} minsize={s.minsize} maxsize={s.maxsize} "
            f"acquire_timeout={s.acquire_timeout} "
            f"max_inactive_connection_lifetime={s.max_inactive_connection_lifetime} "
            f"application_name={s.application_name!r}>"
        )


def start_app(
    *,
    minsize: int = 1,
    maxsize: int = 5,
    max_inactive_connection_lifetime: float = 300.0,
    acquire_timeout: float | None = None,
    server_settings: dict[str, str] | None = None,
    port: int = 0,
    database: Database | str | None = None,
) -> BackgroundApp:
    """Start the example app in the background and return once it answers.

    Starts or reattaches the database first when none is given (``database`` may
    also be a DSN string). Re-running the
    cell is safe: the app this kernel started before is stopped first.
    ``acquire_timeout`` is in seconds; None waits forever, as Tortoise does.
    ``server_settings`` are PostgreSQL settings for every session the app opens.
    """
    from labkit.app.settings import AppSettings

    global _current
    with _current_lock:
        if _current is not None:
            _current.stop()
            _current = None
        if isinstance(database, str):
            database = Database("given", database)
        database = database or ensure_database()
        settings = AppSettings(
            database_url=database.dsn,
            minsize=minsize,
            maxsize=maxsize,
            max_inactive_connection_lifetime=max_inactive_connection_lifetime,
            acquire_timeout=acquire_timeout,
            server_settings=server_settings or {},
            address_file=_address_file(database),
            # A new secret per start on a shared host; none on your own machine.
            access_secret=new_secret() if shared_host() else None,
        )
        app = BackgroundApp(database=database, settings=settings, port=port)
        app._start()
        _current = app
        return app


def _address_file(database: Database) -> str | None:
    """For the embedded server, its state file: the app then follows it to a new port."""
    if database.kind != "embedded":
        return None
    from labkit.infra.embedded import EmbeddedPostgres

    return str(EmbeddedPostgres().state_file)


def current_app() -> BackgroundApp | None:
    """The app this kernel started last, if any."""
    return _current


def running_app(app: BackgroundApp | None = None) -> BackgroundApp:
    """``app``, or else the one this kernel started last; it must be running."""
    app = app or _current
    if app is None or not app.running:
        raise AppStartError(
            _("the example app is not running: start it with app = labkit.start_app()")
        )
    return app
