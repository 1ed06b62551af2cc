"""docs/z2jh-values.yaml, checked statically: Kubernetes does not run here (docs/kubernetes.md)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import yaml

from labkit.workshop.environment import SERVER_EXTENSION
from labkit.workshop.hubconfig import INSTRUCTOR_SCOPES

ROOT = Path(__file__).resolve().parent.parent
VALUES = ROOT / "docs" / "z2jh-values.yaml"
UNITS = {"": 1, "K": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def values() -> dict:
    return yaml.safe_load(VALUES.read_text(encoding="utf-8"))


def to_bytes(quantity: str) -> float:
    """A Kubernetes memory quantity (``768M``, ``1.5G``, ``2Gi``) in bytes."""
    match = re.fullmatch(r"([0-9.]+)([KMG]i?)?", str(quantity))
    assert match, f"not a memory quantity: {quantity!r}"
    return float(match.group(1)) * UNITS[match.group(2) or ""]


def test_the_values_name_the_image_and_size_each_learner():
    singleuser = values()["singleuser"]
    image = singleuser["image"]
    assert isinstance(image["name"], str) and "/" in image["name"]
    assert isinstance(image["tag"], str) and image["tag"] and image["tag"] != "latest"
    memory, cpu = singleuser["memory"], singleuser["cpu"]
    assert 0 < to_bytes(memory["guarantee"]) <= to_bytes(memory["limit"])
    assert 0 < float(cpu["guarantee"]) <= float(cpu["limit"])
    assert singleuser["defaultUrl"] == "/lab"


def test_idle_servers_are_culled_and_their_services_stopped():
    config = values()
    assert config["cull"]["enabled"] is True
    assert isinstance(config["cull"]["timeout"], int) and config["cull"]["timeout"] > 0
    extension = config["singleuser"]["extraFiles"]["labkit-workshop"]
    assert extension["mountPath"].startswith("/etc/jupyter/jupyter_server_config.d/")
    assert extension["mountPath"].endswith(".json")
    enabled = extension["data"]["ServerApp"]["jpserver_extensions"]
    assert enabled == {SERVER_EXTENSION: True}
    assert importlib.util.find_spec(SERVER_EXTENSION) is not None


def test_a_real_login_and_the_instructor_role_of_the_one_host_hub():
    hub = values()["hub"]
    authenticator = hub["config"]["JupyterHub"]["authenticator_class"]
    assert authenticator not in {"dummy", "null"}
    assert hub["loadRoles"]["instructor"]["scopes"] == INSTRUCTOR_SCOPES
    assert hub["loadRoles"]["instructor"]["services"] == ["instructor"]
    assert "apiToken" not in hub["services"]["instructor"], "the token is set at install"
    # Pods have a loopback each: the shared-host secret is off.
    assert values()["singleuser"]["extraEnv"]["LABKIT_SHARED_HOST"] == "0"


def test_the_kubernetes_page_ships_the_file_and_says_what_was_not_run():
    page = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    assert "z2jh-values.yaml" in page
    assert "does not run here" in page
