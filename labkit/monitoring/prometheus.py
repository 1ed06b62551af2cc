"""A real Prometheus for the labs, without Docker: the ``prometheus`` binary, if present.

It scrapes the background app every second, evaluates the kit's alert rules,
listens on 127.0.0.1 only, and keeps its data in LABKIT_HOME/prometheus.
On a shared host (``LABKIT_SHARED_HOST=1``) it asks for a per-start secret with
HTTP Basic authentication (``--web.config.file``, a bcrypt hash), its ``url``
carries that secret as httpx expects, and it scrapes the app with the app's own.
The binary comes from Debian's ``prometheus`` package (CI) or conda-forge's
(Binder); set LABKIT_PROMETHEUS=off to pretend there is none.

>>> prom = start_prometheus(app)                                     # doctest: +SKIP
>>> prom.query('db_client_connections_usage{state="used"}')          # doctest: +SKIP
[{'metric': {...}, 'value': [1764084000.0, '3']}]
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from labkit.errors import LabkitError
from labkit.infra.access import (
    USERNAME,
    new_secret,
    shared_host,
    split_credentials,
    with_credentials,
)
from labkit.infra.home import labkit_home
from labkit.infra.jsonfile import write_json
from labkit.infra.ports import free_port
from labkit.infra.processes import process_tree, terminate
from labkit.messages import _

COMPOSE_DIR = Path(__file__).resolve().parent.parent / "compose"
RULES_FILE = COMPOSE_DIR / "prometheus" / "alerts.yml"
SCRAPE_INTERVAL = "1s"
START_TIMEOUT_S = 30


class PrometheusError(LabkitError):
    """Prometheus could not be started or did not answer a query."""


def prometheus_binary() -> str | None:
    """The prometheus executable, or None (also when LABKIT_PROMETHEUS=off)."""
    if os.environ.get("LABKIT_PROMETHEUS", "").lower() in {"off", "0", "no", "false"}:
        return None
    return shutil.which("prometheus")


def promtool_check(metrics_text: str) -> str:
    """What ``promtool check metrics`` says about a /metrics text, as one sentence."""
    if not shutil.which("promtool"):
        return _("promtool is not installed here; CI runs `promtool check metrics` on this output")
    check = subprocess.run(
        ["promtool", "check", "metrics"], input=metrics_text, capture_output=True, text=True
    )
    problems = check.stdout + check.stderr
    if check.returncode == 0 and not problems:
        return _("promtool check metrics: clean")
    return _("promtool check metrics: {problems}").format(problems=problems)


def lab_config(app_url: str, scrape_interval: str = SCRAPE_INTERVAL) -> dict:
    """The kit's prometheus.yml for the app at ``app_url``, with the kit's alert rules.

    A URL with ``user:password@`` becomes the scrape's ``basic_auth``: Prometheus
    takes bare ``host:port`` targets and the credentials separately.
    """
    bare, credentials = split_credentials(app_url)
    target = bare.removeprefix("http://").rstrip("/")
    job: dict = {"job_name": "poollab-app", "static_configs": [{"targets": [target]}]}
    if credentials is not None:
        job["basic_auth"] = {"username": credentials[0], "password": credentials[1]}
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(RULES_FILE)],
        "scrape_configs": [job],
    }


def web_config(secret: str) -> dict:
    """Prometheus's ``--web.config.file``: one user, ``labkit``, whose password is ``secret``.

    Prometheus keeps only a bcrypt hash. A low cost factor is enough here: the
    secret is 128 random bits, so nobody guesses it whatever the hash costs, and
    each uncached check would otherwise cost the learner's CPU ~0.1 s.
    """
    import bcrypt

    hashed = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(rounds=6)).decode("ascii")
    return {"basic_auth_users": {USERNAME: hashed}}


@dataclass
class PrometheusServer:
    """A running Prometheus process; ``url`` is its HTTP API (with its route prefix).

    ``route_prefix`` is the path Prometheus serves under: empty, or under a Jupyter
    server the path jupyter-server-proxy's absolute mode forwards in full,
    ``<base_url>proxy/absolute/<port>`` (see :func:`proxy_route_prefix`).
    """

    process: subprocess.Popen
    url: str
    home: Path
    kind: str = "prometheus"
    route_prefix: str = ""

    @property
    def address(self) -> str:
        """``url`` without its credentials: safe to print or show in a link."""
        return split_credentials(self.url)[0]

    def __repr__(self) -> str:  # never print the secret
        return f"<PrometheusServer at {self.address}, data in {self.home}>"

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        """An instant PromQL query: the ``result`` list of Prometheus's answer."""
        params = {"query": expr, **({"time": at} if at is not None else {})}
        return self._get("/api/v1/query", params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float = 1.0) -> list[dict]:
        """A range query: one ``{"metric", "values": [[t, "v"], ...]}`` per series."""
        params = {"query": expr, "start": start, "end": end, "step": step}
        return self._get("/api/v1/query_range", params)["result"]

    def targets_up(self) -> bool:
        targets = self._get("/api/v1/targets", {})["activeTargets"]
        return bool(targets) and all(t["health"] == "up" for t in targets)

    def _get(self, path: str, params: dict) -> dict:
        try:
            response = httpx.get(f"{self.url}{path}", params=params, timeout=10)
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise PrometheusError(
                _("Prometheus at {address} did not answer {path}: {error}").format(
                    address=self.address, path=path, error=exc
                )
            ) from exc
        if body.get("status") != "success":
            raise PrometheusError(
                _("Prometheus refused {query!r}: {body}").format(
                    query=params.get("query", path), body=body
                )
            )
        return body["data"]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        (self.home / "pid").unlink(missing_ok=True)


def _stop_leftover(home: Path) -> bool:
    """A Prometheus left by a killed kernel still holds its data dir's lock: end it.

    True if one was running.
    """
    pid_file = home / "pid"
    processes = []
    with contextlib.suppress(ValueError, OSError):
        processes = process_tree(int(pid_file.read_text()), must_mention=str(home))
        terminate(processes, timeout=5)
    pid_file.unlink(missing_ok=True)
    return bool(processes)


def stop_prometheus(home: Path | None = None) -> bool:
    """Stop the Prometheus that labkit started in ``home`` (default: LABKIT_HOME), if any.

    It runs in a session of its own, so it outlives the kernel that started it:
    ``labkit stop`` and the workshop's server extension call this. True if one was running.
    """
    return _stop_leftover((home or labkit_home()) / "prometheus")


_current: PrometheusServer | None = None


def proxy_route_prefix(port: int) -> tuple[str, str]:
    """(external URL, route prefix) for a Prometheus on ``port`` under this Jupyter server.

    Both empty outside a Jupyter server with jupyter-server-proxy. Prometheus's
    classic UI (Debian's package) writes absolute paths into its pages
    (``/classic/static/...``), so it must know the path the browser uses. It then
    serves under that path, and the proxy's absolute mode passes the full path on;
    in the proxy's relative mode its redirects would get the prefix twice.
    """
    from labkit.urls import proxy_server

    server = proxy_server()
    if server is None:
        return "", ""
    route = server.base_url + f"proxy/absolute/{port}"
    return (server.origin or f"http://127.0.0.1:{port}") + route + "/", route


def start_prometheus(app) -> PrometheusServer | None:
    """Start (or restart) Prometheus scraping ``app``; None when there is no binary.

    Waits until Prometheus is ready and has scraped the app once. That takes about
    5 s: Prometheus's service discovery hands new targets to its scraper in 5 s
    batches, even for a static config.
    """
    global _current
    binary = prometheus_binary()
    if binary is None:
        return None
    if _current is not None:
        _current.stop()
    home = labkit_home() / "prometheus"
    home.mkdir(parents=True, exist_ok=True)
    _stop_leftover(home)
    # A fresh store each start: series of an earlier app (another port) would otherwise stay
    # queryable for Prometheus's 5-minute lookback and be summed with this app's.
    shutil.rmtree(home / "data", ignore_errors=True)
    config = home / "prometheus.yml"
    # JSON is YAML; write_json makes the file private from its first byte, and on a
    # shared host it holds the app's secret.
    write_json(config, lab_config(app.url), mode=0o600)
    port = free_port()
    external_url, route = proxy_route_prefix(port)
    arguments = [
        binary,
        f"--config.file={config}",
        f"--storage.tsdb.path={home / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--storage.tsdb.retention.time=2h",
        # The route prefix follows the external URL's path (none without a proxy).
        *([f"--web.external-url={external_url}"] if external_url else []),
    ]
    secret = new_secret() if shared_host() else None
    if secret is not None:
        write_json(home / "web.yml", web_config(secret), mode=0o600)
        arguments.append(f"--web.config.file={home / 'web.yml'}")
    log = open(home / "prometheus.log", "w")  # noqa: SIM115 - the process keeps writing to it
    process = subprocess.Popen(
        arguments,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C in the kernel must not kill it mid-lab
    )
    log.close()
    (home / "pid").write_text(str(process.pid))
    url = with_credentials(f"http://127.0.0.1:{port}{route}", secret)
    server = PrometheusServer(process, url, home, route_prefix=route)
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if process.poll() is not None:
            tail = (home / "prometheus.log").read_text(errors="replace")[-2000:]
            raise PrometheusError(
                _("Prometheus exited at start (code {code}):\n{tail}").format(
                    code=process.returncode, tail=tail
                )
            )
        with contextlib.suppress(httpx.HTTPError, PrometheusError):
            if httpx.get(f"{server.url}/-/ready", timeout=2).status_code == 200 and (
                server.targets_up()
            ):
                break
        if time.monotonic() > deadline:
            server.stop()
            raise PrometheusError(
                _("Prometheus did not become ready in {seconds} s").format(seconds=START_TIMEOUT_S)
            )
        time.sleep(0.2)
    _current = server
    return server
