"""The workshop hub's ``jupyterhub_config.py``, written from a few settings.

The file it writes is meant to be read: each setting says why it is there.
What a real workshop changes is only the authentication (see ``docs/workshop.md``):
the dummy authenticator with one random password is for the test, on loopback.

>>> settings = HubSettings(environment=env, run_dir=Path("/srv/poollab"),  # doctest: +SKIP
...                        learners=["ada", "alan"])
>>> write_hub_config(settings)                                             # doctest: +SKIP
PosixPath('/srv/poollab/jupyterhub_config.py')
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path

from labkit.infra.ports import free_port
from labkit.workshop.environment import HubEnvironment

INSTRUCTOR_SERVICE = "instructor"
# What the instructor's token may do: start and stop servers, read their state,
# and reach each learner's Jupyter API (contents, kernels) through the hub.
INSTRUCTOR_SCOPES = ["list:users", "read:users", "admin:servers", "access:servers"]
# What jupyterhub-idle-culler needs to cull servers (not users).
CULLER_SCOPES = ["list:users", "read:users:activity", "read:servers", "delete:servers"]


AUTHENTICATORS = {
    "dummy": """\
# REHEARSAL ONLY: one random password for every learner, on loopback. A real
# workshop uses its institution's login (OAuthenticator, LTI) or PAM ("pam" below).
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = {password!r}
""",
    "pam": """\
# Each learner logs in with their own system account's password (PAM).
# Serve the hub over HTTPS (c.JupyterHub.ssl_cert / ssl_key, or a TLS proxy in front).
c.JupyterHub.authenticator_class = "pam"
""",
}


@dataclass
class HubSettings:
    """Everything the hub's config needs; ports are chosen free on 127.0.0.1 by default."""

    environment: HubEnvironment
    run_dir: Path
    learners: list[str]
    port: int = field(default_factory=free_port)
    hub_port: int = field(default_factory=free_port)
    proxy_api_port: int = field(default_factory=free_port)
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    instructor_token: str = field(default_factory=lambda: secrets.token_hex(32))
    cull_timeout_s: int = 3600
    cull_every_s: int = 300
    # How often each server tells the hub it is active, and the hub reads the
    # proxy's activity. JupyterHub's default is 300 s; culling tests need it short.
    activity_interval_s: int = 300
    # More variables for every learner's server: LABKIT_BANKS (a class release of
    # the question banks, in a folder every learner can read), LABKIT_LANG...
    extra_environment: dict[str, str] = field(default_factory=dict)
    # "dummy" (one shared random password; rehearsals on loopback only) or "pam"
    # (each learner's own system password: a real workshop on one host).
    authenticator: str = "dummy"

    def __post_init__(self) -> None:
        if self.authenticator not in AUTHENTICATORS:
            raise ValueError(
                f"authenticator {self.authenticator!r}: choose one of {sorted(AUTHENTICATORS)}"
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_file(self) -> Path:
        return self.run_dir / "jupyterhub_config.py"


TEMPLATE = """\
# The Pool Lab workshop hub, written by labkit.workshop.hubconfig.
# See docs/workshop.md. Everything listens on 127.0.0.1 only.
c = get_config()  # noqa: F821 (JupyterHub provides it)

c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{proxy_api_port}"
c.ConfigurableHTTPProxy.command = [{proxy!r}]
c.JupyterHub.db_url = "sqlite:///{run_dir}/jupyterhub.sqlite"
c.JupyterHub.cookie_secret_file = "{run_dir}/jupyterhub_cookie_secret"
c.JupyterHub.pid_file = "{run_dir}/jupyterhub.pid"

{authentication}c.Authenticator.allowed_users = {learners!r}

# Each learner's server runs as their own system account, from an environment
# every account can execute (built from the system Python: labkit.workshop.environment).
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [{singleuser!r}]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
# A room pressing "Run all" at once starts slowly on a small host.
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
c.Spawner.environment = {{
    # Other learners share this host's 127.0.0.1: the example app and Prometheus
    # ask for a per-start secret (labkit.infra.access).
    "LABKIT_SHARED_HOST": "1",
    # Only the environment's programs and the system's (prometheus from Debian):
    # never the hub's own PATH, which may point into /root.
    "PATH": "{env_bin}:/usr/local/bin:/usr/bin:/bin",
    "JUPYTERHUB_ACTIVITY_INTERVAL": "{activity_interval_s}",
}}
c.Spawner.environment.update({extra_environment!r})
c.JupyterHub.last_activity_interval = {activity_interval_s}

c.JupyterHub.services = [
    # The instructor's scripts (start, stop, collect) use this token.
    {{"name": "{instructor}", "api_token": {instructor_token!r}}},
    # Servers idle for {cull_timeout_s} s are stopped; labkit.workshop.serverext then
    # stops that learner's database and Prometheus too.
    {{
        "name": "idle-culler",
        "command": [
            {python!r},
            "-m",
            "jupyterhub_idle_culler",
            "--timeout={cull_timeout_s}",
            "--cull-every={cull_every_s}",
        ],
    }},
]
c.JupyterHub.load_roles = [
    {{"name": "{instructor}", "scopes": {instructor_scopes!r}, "services": ["{instructor}"]}},
    {{"name": "idle-culler", "scopes": {culler_scopes!r}, "services": ["idle-culler"]}},
]
"""


def render_hub_config(settings: HubSettings) -> str:
    """The text of ``jupyterhub_config.py`` for ``settings``."""
    env = settings.environment
    authentication = AUTHENTICATORS[settings.authenticator].format(password=settings.password)
    return TEMPLATE.format(
        authentication=authentication,
        port=settings.port,
        hub_port=settings.hub_port,
        proxy_api_port=settings.proxy_api_port,
        proxy=env.proxy,
        run_dir=settings.run_dir,
        learners=sorted(settings.learners),
        singleuser=env.command("jupyterhub-singleuser"),
        env_bin=env.prefix / "bin",
        python=str(env.python),
        activity_interval_s=settings.activity_interval_s,
        extra_environment=dict(sorted(settings.extra_environment.items())),
        instructor=INSTRUCTOR_SERVICE,
        instructor_token=settings.instructor_token,
        cull_timeout_s=settings.cull_timeout_s,
        cull_every_s=settings.cull_every_s,
        instructor_scopes=INSTRUCTOR_SCOPES,
        culler_scopes=CULLER_SCOPES,
    )


def write_hub_config(settings: HubSettings) -> Path:
    """Write the config into ``settings.run_dir`` (private: it holds the tokens).

    The instructor's token goes beside it in ``instructor-token``, for
    ``labkit workshop collect --token-file``.
    """
    settings.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.run_dir.chmod(0o700)
    for path, text in [
        (settings.config_file, render_hub_config(settings)),
        (settings.run_dir / "instructor-token", settings.instructor_token + "\n"),
    ]:
        path.touch(mode=0o600)
        path.chmod(0o600)
        path.write_text(text)
    return settings.config_file
