"""The per-learner results file the quizzes grade against."""

from __future__ import annotations

import json

import pytest

from labkit.infra.results import get_result, load_results, record_result, results_path


@pytest.fixture(autouse=True)
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))


def test_recorded_figures_are_read_back():
    record_result("01.pooled_vs_unpooled", ratio=6.2, pooled_rps=1680.0)
    record_result("02.knee", knee_maxsize=8)
    assert get_result("01.pooled_vs_unpooled")["ratio"] == 6.2
    assert set(load_results()) == {"01.pooled_vs_unpooled", "02.knee"}
    assert "recorded_at" in get_result("02.knee")


def test_a_rerun_replaces_the_earlier_figures():
    record_result("02.knee", knee_maxsize=4)
    record_result("02.knee", knee_maxsize=8)
    assert get_result("02.knee")["knee_maxsize"] == 8


def test_an_unreadable_file_is_kept_aside_not_lost():
    path = results_path()
    path.write_text("{ this is not json")
    with pytest.warns(UserWarning, match="could not be read"):
        assert load_results() == {}
    backups = list(path.parent.glob("results.json.unreadable-*"))
    assert len(backups) == 1 and backups[0].read_text() == "{ this is not json"
    record_result("02.knee", knee_maxsize=8)
    assert json.loads(path.read_text())["experiments"]["02.knee"]["knee_maxsize"] == 8


def test_recording_nothing_is_refused():
    with pytest.raises(ValueError, match="at least one figure"):
        record_result("02.knee")
