"""The learner's own measurements, kept in a small JSON file for the quizzes.

Each experiment records its key figures under a name such as
``"01.pooled_vs_unpooled"``; a later quiz grades answers against them.

>>> record_result("01.pooled_vs_unpooled", ratio=9.4, pooled_rps=1180.0)  # doctest: +SKIP
>>> load_results()["01.pooled_vs_unpooled"]["ratio"]                     # doctest: +SKIP
9.4
"""

from __future__ import annotations

import json
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

from labkit.infra.home import labkit_home
from labkit.infra.jsonfile import write_json

FORMAT_VERSION = 1


def results_path() -> Path:
    """``results.json`` in the learner's LABKIT_HOME: one file per learner."""
    return labkit_home() / "results.json"


def load_results() -> dict[str, dict]:
    """Every recorded experiment, by name. An unreadable file is set aside, never lost."""
    path = results_path()
    try:
        data = json.loads(path.read_text())
        if data.get("version") != FORMAT_VERSION or not isinstance(data.get("experiments"), dict):
            raise ValueError("not a labkit results file")
        return data["experiments"]
    except FileNotFoundError:
        return {}
    except (ValueError, AttributeError) as exc:
        backup = path.with_name(f"{path.name}.unreadable-{int(time.time())}")
        path.rename(backup)
        warnings.warn(
            f"{path} could not be read ({exc}); it was kept as {backup.name} and a new "
            "results file was started. Re-run an experiment to record its figures again.",
            stacklevel=2,
        )
        return {}


def record_result(experiment: str, **figures: float | int | str) -> dict:
    """Store ``figures`` under ``experiment`` (replacing an earlier run's) and return them."""
    if not experiment or not figures:
        raise ValueError("give an experiment name and at least one figure, e.g. ratio=9.4")
    experiments = load_results()
    entry = {**figures, "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    experiments[experiment] = entry
    _write({"version": FORMAT_VERSION, "experiments": experiments})
    return entry


def get_result(experiment: str) -> dict | None:
    """The figures one experiment recorded, or None if it has not been run yet."""
    return load_results().get(experiment)


def _write(data: dict) -> None:
    write_json(results_path(), data)
