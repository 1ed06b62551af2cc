"""The example app's settings: the pool parameters a lab turns, and where the database is."""

from __future__ import annotations

import os
import secrets

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def new_application_name() -> str:
    """A name unique to one run of the app, so its sessions can be found in pg_stat_activity."""
    return f"labkit-app-{os.getpid()}-{secrets.token_hex(3)}"


class AppSettings(BaseSettings):
    """Pool and database settings, read from ``LABKIT_APP_*`` variables or passed in.

    >>> AppSettings(database_url="postgresql://...", maxsize=2)  # doctest: +SKIP
    """

    model_config = SettingsConfigDict(env_prefix="LABKIT_APP_", frozen=True)

    database_url: str
    minsize: int = Field(1, ge=0, description="connections the pool keeps open even when idle")
    maxsize: int = Field(5, ge=1, description="the most connections the pool will open")
    max_inactive_connection_lifetime: float = Field(
        300.0, ge=0, description="seconds an idle connection lives before it is closed (0: forever)"
    )
    acquire_timeout: float | None = Field(
        None, gt=0, description="seconds to wait for a free connection; None waits forever"
    )
    application_name: str = Field(default_factory=new_application_name, max_length=63)
    metrics: bool = Field(True, description="serve /metrics (off only to measure its overhead)")
    legacy_polling_s: float | None = Field(
        None,
        gt=0,
        description="also run the source article's polling loop, updating a gauge every N s "
        "(for comparison in notebook 03)",
    )
    address_file: str | None = Field(
        None,
        description="the embedded server's state file: each new connection reads the "
        "server's current port and password from it (None: the URL is fixed)",
    )
    statement_cache_size: int | None = Field(
        None,
        ge=0,
        description="asyncpg's prepared-statement cache per connection (None: asyncpg's "
        "default, 100); 0 behind PgBouncer in transaction mode, which cannot keep a "
        "statement prepared on one server connection for the next transaction",
    )
    reset_on_release: bool = Field(
        True,
        description="run asyncpg's reset query (advisory unlocks, CLOSE ALL, UNLISTEN *, "
        "RESET ALL) whenever a connection goes back to the pool; off behind PgBouncer in "
        "transaction mode, where a client has no session of its own to reset (asyncpg still "
        "rolls back a transaction left open)",
    )
    access_secret: str | None = Field(
        None,
        description="on a shared host, the password every HTTP request must carry "
        "(user 'labkit', HTTP Basic); None: the app asks for nothing",
    )
    server_settings: dict[str, str] = Field(
        default_factory=dict,
        description="PostgreSQL settings for every session, e.g. "
        "{'idle_in_transaction_session_timeout': '1000'} (ms)",
    )

    def __repr_args__(self):
        # The URL carries the database password: print it masked, as Database does.
        from labkit.infra.database import mask_password

        for name, value in super().__repr_args__():
            if name == "database_url":
                value = mask_password(value)
            elif name == "access_secret" and value is not None:
                value = "***"
            yield name, value

    @model_validator(mode="after")
    def _min_not_above_max(self) -> AppSettings:
        if self.minsize > self.maxsize:
            raise ValueError(
                f"minsize={self.minsize} is larger than maxsize={self.maxsize}; "
                "the pool can never hold more than maxsize connections, so lower minsize."
            )
        return self
