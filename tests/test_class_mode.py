"""Class mode: the key outside the repository, a release without answers, attempts, and
each attack on the quiz tried and failing.

Keys are drawn at random for each run (the ``rekeyed`` fixture): no answer is spelled here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from labkit.cli import main
from labkit.grading import banks, cell_source, checking, quiz, records
from labkit.grading.gradebook import GradingOptions, grade_all
from labkit.grading.key import AnswerKeyError, key_template, load_key, lopsided
from labkit.grading.release import release_banks
from labkit.grading.sheet import Attempt
from labkit.grading.summary import format_summary, plot_scores, summarize, write_summary_csv
from labkit.infra.results import record_result

ROOT = Path(__file__).resolve().parent.parent
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("LABKIT_HOME", str(home))
    quiz.SHEET.clear()
    yield home
    quiz.SHEET.clear()


@pytest.fixture
def release(rekeyed, tmp_path, monkeypatch) -> Path:
    """The class release of the re-keyed banks, in force."""
    out = tmp_path / "release"
    release_banks(out)
    monkeypatch.setenv("LABKIT_BANKS", str(out))
    return out


def attempt(item: dict, response, at: str, feedback: bool = False) -> Attempt:
    return Attempt(checking.canonical(item, response), at, feedback, "widget")


def notebook_with(path: Path, made: list[dict], learner: str) -> Path:
    cell = nbformat.v4.new_code_cell("results = quiz.submit(my_answers)")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={records.RECORD_MIME: made, "text/plain": ""})
    ]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"labkit": {"learner": learner}})
    nbformat.write(nb, path)
    return path


# ----------------------------------------------------------------------------- the key
def test_a_key_inside_the_repository_is_refused():
    inside = ROOT / "docs" / "key.yaml"
    with pytest.raises(AnswerKeyError, match="outside"):
        load_key(inside)
    assert main(["quiz", "key-template", "--out", str(ROOT / "key.yaml")]) == 2
    assert not (ROOT / "key.yaml").exists()


def test_a_key_is_checked_against_the_banks(rekeyed, tmp_path):
    key = load_key(rekeyed.key_path)
    assert set(key.entries) == set(rekeyed.answers)
    bad = tmp_path / "bad.yaml"
    for text, says in [
        ("00-q1: {answer: Z}", "one letter"),
        ("99-q1: {answer: A}", "no question bank"),
        ("00-q4: {answer: 3}", "measured question"),
        ("00-q1: Z", "needs an answer"),
        ("- just a list", "must map question ids"),
    ]:
        bad.write_text(text)
        with pytest.raises(banks.QuizError, match=says):
            load_key(bad)


def test_a_lopsided_key_is_pointed_out(rekeyed, tmp_path):
    singles = [q for q in rekeyed.items if rekeyed.items[q]["type"] == "single"]
    same = tmp_path / "same.yaml"
    same.write_text(yaml.safe_dump({q: {"answer": "B"} for q in singles}))
    assert "single-choice answers are B" in lopsided(load_key(same))
    spread = tmp_path / "spread.yaml"
    spread.write_text(yaml.safe_dump({q: {"answer": "ABCD"[i % 4]} for i, q in enumerate(singles)}))
    assert lopsided(load_key(spread)) is None


def test_the_key_template_lists_every_question_with_no_answer(rekeyed, tmp_path):
    out = tmp_path / "course" / "key.yaml"
    out.parent.mkdir()
    assert main(["quiz", "key-template", "--out", str(out), "--notebook", "04"]) == 0
    template = yaml.safe_load(out.read_text())
    graded_by_key = [
        q
        for q in rekeyed.questions("04")
        if rekeyed.items[q]["type"] in ("single", "multiple", "numeric")
    ]
    assert sorted(template) == sorted(graded_by_key)
    assert all(spec["answer"] is None for spec in template.values())
    assert "OUTSIDE" in key_template(["04"])


# ----------------------------------------------------------------------------- the release
def test_the_class_release_carries_no_answer_material(rekeyed, tmp_path):
    out = tmp_path / "release"
    written = release_banks(out)
    assert {p.name for p in written} == {p.name for p in rekeyed.banks.glob("*.yaml")}
    for path in written:
        text = path.read_text(encoding="utf-8")
        bank = banks.load_bank(path)  # still valid against the schema
        assert bank["mode"] == "class"
        assert not HEX64.search(text), path.name  # no hash left to brute-force
        assert "salt" not in text and "answer:" not in text
        source = banks.load_bank(rekeyed.banks / path.name)
        assert [q["id"] for q in bank["questions"]] == [q["id"] for q in source["questions"]]
        for item in bank["questions"]:  # explanations often state the answer: kept back
            assert item["explanation"]["en"] == "Explained with your grades."
    kept = release_banks(tmp_path / "kept", ["04"], keep_explanations=True)
    original = banks.load_bank(rekeyed.banks / kept[0].name)["questions"][0]["explanation"]
    assert banks.load_bank(kept[0])["questions"][0]["explanation"] == original


def test_brute_forcing_the_release_recovers_nothing(release, rekeyed):
    """Every option of every choice question is graded the same: there is nothing to try."""
    for qid, item in rekeyed.items.items():
        if item["type"] not in ("single", "multiple"):
            continue
        for option in item["options"]:
            with pytest.raises(banks.QuizError, match="graded by your instructor"):
                checking.grade(banks.question(qid), option)


def test_a_schema_refuses_answers_in_a_class_release(release, tmp_path):
    bank = yaml.safe_load((release / "04_pool_exhaustion.yaml").read_text())
    bank["questions"][0]["answer"] = {"salt": "0123456789", "hash": "0" * 64}
    sneaky = tmp_path / "04_sneaky.yaml"
    sneaky.write_text(yaml.safe_dump(bank))
    with pytest.raises(banks.QuizError, match="not a valid question bank"):
        banks.load_bank(sneaky)


def test_class_mode_quiz_records_answers_without_saying_whether_they_are_right(
    release, rekeyed, own_home, capsys
):
    assert quiz.mode("04") == "class"
    said = quiz.answer("04-q1", rekeyed.right("04-q1"))
    assert isinstance(said, quiz.Recorded)
    wrong = quiz.record_widget_answer("04-q1", rekeyed.wrong("04-q1"))
    assert "recorded" in str(wrong) and "✘" not in str(wrong) and "✔" not in str(wrong)
    assert "Class quiz" in quiz.show_quiz("04").children[0].value
    outcomes = quiz.submit({"04-q1": None, "04-q3": rekeyed.right("04-q3")})
    assert all(isinstance(o, quiz.Recorded) for o in outcomes)
    printed = capsys.readouterr().out
    assert "✔" not in printed and "correct" not in printed
    assert all(r["points"] is None for r in quiz.progress())


def test_the_quiz_mode_setting_turns_off_feedback(rekeyed, own_home, monkeypatch):
    monkeypatch.setenv("LABKIT_QUIZ_MODE", "class")
    assert isinstance(quiz.answer("04-q1", rekeyed.right("04-q1")), quiz.Recorded)
    monkeypatch.setenv("LABKIT_QUIZ_MODE", "exam")
    with pytest.raises(banks.QuizError, match="not a mode"):
        quiz.mode("04")


# ----------------------------------------------------------------------------- one answer
def test_widget_answers_are_recorded_by_the_submit_cell_without_retyping(rekeyed, own_home):
    quiz.record_widget_answer("04-q1", rekeyed.wrong("04-q1"))
    quiz.record_widget_answer("04-q1", rekeyed.right("04-q1"))
    quiz.record_widget_answer("04-q3", rekeyed.right("04-q3"))
    my_answers = {"04-q1": None, "04-q2": None, "04-q3": None}
    results = quiz.submit(my_answers)
    assert [r.question for r in results] == ["04-q1", "04-q3"]
    assert all(r.correct for r in results)
    assert my_answers["04-q1"] == rekeyed.right("04-q1")  # the dict is filled in, too
    assert my_answers["04-q2"] is None
    attempts = quiz.SHEET.attempts("04-q1")
    assert [a.response for a in attempts] == [rekeyed.wrong("04-q1"), rekeyed.right("04-q1")]
    assert attempts[0].at <= attempts[1].at and attempts[0].feedback


def test_the_submit_cell_rewrites_its_own_dict_for_a_grader_that_re_runs_it():
    source = (
        'my_answers = {"04-q1": None, "04-q3": None}  # e.g. "B"\n'
        "results = quiz.submit(my_answers)\n"
    )
    new = cell_source.with_answers(source, {"04-q1": "D", "04-q3": 17.0, "99-q9": "A"})
    assert new.splitlines()[0] == 'my_answers = {"04-q1": "D", "04-q3": 17.0}  # e.g. "B"'
    assert new.splitlines()[1] == "results = quiz.submit(my_answers)"
    assert cell_source.with_answers("answers = make()\n", {"04-q1": "C"}) is None


# ----------------------------------------------------------------------------- gradebook
def test_grade_with_key_uses_the_key_and_the_release(release, rekeyed, tmp_path):
    item = banks.question("04-q1")
    right, wrong = rekeyed.right("04-q1"), rekeyed.wrong("04-q1")
    made = [records.record(item, [attempt(item, right, "2026-01-01T10:00:00")], "class")]
    path = notebook_with(tmp_path / "ada.ipynb", made, "ada")
    key = load_key(rekeyed.key_path)
    [row] = grade_all([path], GradingOptions(key=key))
    assert row.points == {"04-q1": 1.0} and not row.error
    [row] = grade_all([path])  # a release carries no answers: only a key can grade it
    assert "graded by your instructor" in row.error
    made = [records.record(item, [attempt(item, wrong, "2026-01-01T10:00:00")], "class")]
    notebook_with(path, made, "ada")
    [row] = grade_all([path], GradingOptions(key=key))
    assert row.points == {"04-q1": 0.0}


def test_attempts_policy_first_last_or_a_penalty_per_retry(rekeyed, tmp_path):
    item = banks.question("04-q1")
    tries = [
        attempt(item, rekeyed.wrong("04-q1"), "2026-01-01T10:00:00", feedback=True),
        attempt(item, rekeyed.wrong("04-q1"), "2026-01-01T10:01:00", feedback=True),
        attempt(item, rekeyed.right("04-q1"), "2026-01-01T10:02:00", feedback=True),
    ]
    path = notebook_with(tmp_path / "bo.ipynb", [records.record(item, tries, "self-check")], "bo")
    key = load_key(rekeyed.key_path)

    def score(**how) -> float:
        return grade_all([path], GradingOptions(key=key, **how))[0].points["04-q1"]

    assert score() == 1.0  # the default: the last attempt, as nbgrader grades
    assert score(attempts="first") == 0.0
    assert score(attempts="penalty") == 0.5  # two retries after feedback, 0.25 each
    assert score(attempts="penalty", retry_penalty=0.1) == 0.8
    with pytest.raises(banks.QuizError, match="attempts="):
        GradingOptions(attempts="best")


def test_attempts_survive_a_kernel_restart_across_records(rekeyed, tmp_path):
    item = banks.question("04-q1")
    early = records.record(
        item, [attempt(item, rekeyed.wrong("04-q1"), "2026-01-01T09:00:00", True)], "self-check"
    )
    late = records.record(
        item, [attempt(item, rekeyed.right("04-q1"), "2026-01-01T11:00:00", True)], "self-check"
    )
    path = notebook_with(tmp_path / "cy.ipynb", [late, early], "cy")
    key = load_key(rekeyed.key_path)
    [row] = grade_all([path], GradingOptions(key=key, attempts="first"))
    assert row.points["04-q1"] == 0.0  # the earliest attempt, whichever record holds it


def test_a_forged_measured_record_earns_nothing(rekeyed, own_home, tmp_path):
    """The attack: edit the record so the answer equals the figure, recompute the check."""
    record_result("04.exhaustion_no_timeout", peak_waiting=4)
    item = banks.question("04-q2")
    honest = records.record(item, [attempt(item, 9, "2026-01-01T10:00:00")], "class", expected=4.0)
    forged = dict(honest, response=4.0)
    forged["attempts"] = [dict(honest["attempts"][0], response=4.0)]
    forged["check"] = records.record_check(forged)  # anyone can recompute it
    path = notebook_with(tmp_path / "eve.ipynb", [forged], "eve")
    [row] = grade_all([path], GradingOptions(key=load_key(rekeyed.key_path)))
    assert not row.error  # the forgery is not caught...
    assert row.points["04-q2"] == 0.0 and row.raw_score == 0  # ...and earns nothing
    assert row.self_reported == {"04-q2": 2.0}  # listed apart, as the learner's claim
    assert any("self-reported" in flag for flag in row.flags)


def test_a_submission_edited_after_the_fact_is_flagged(rekeyed, tmp_path):
    item = banks.question("04-q1")
    made = records.record(
        item, [attempt(item, rekeyed.wrong("04-q1"), "2026-01-01T10:00:00", True)], "self-check"
    )
    made["attempts"] = []  # hide the failed attempt, leave the check as it was
    path = notebook_with(tmp_path / "eve.ipynb", [made], "eve")
    [row] = grade_all([path], GradingOptions(key=load_key(rekeyed.key_path)))
    assert row.error.startswith("tampered") and row.points == {}


def test_malformed_and_unreadable_submissions_get_one_error_row_each(rekeyed, tmp_path):
    item = banks.question("04-q1")
    good = records.record(
        item, [attempt(item, rekeyed.right("04-q1"), "2026-01-01T10:00:00")], "class"
    )
    notebook_with(tmp_path / "ada.ipynb", [good], "ada")
    notebook_with(tmp_path / "bo.ipynb", [{"question": "04-q1"}], "bo")
    notebook_with(tmp_path / "cy.ipynb", [dict(good, question="77-q1")], "cy")
    (tmp_path / "dee.ipynb").write_bytes(b"\x00\xff")
    rows = {r.student_id: r for r in grade_all([tmp_path], GradingOptions(key=None))}
    assert rows["ada"].points == {"04-q1": 1.0}
    assert "malformed" in rows["bo"].error
    assert rows["cy"].error  # tampered: the question id was changed
    assert "not a readable notebook" in rows["dee"].error


def test_an_exercise_is_self_reported_unless_a_re_run_verifies_it(rekeyed, tmp_path):
    item = banks.question("05-e1")
    passed = Attempt(True, "2026-01-01T10:00:00", True, "exercise")
    made = records.record(item, [passed], "class", expected=1.0)
    path = notebook_with(tmp_path / "ada.ipynb", [made], "ada")
    [row] = grade_all([path], GradingOptions(key=load_key(rekeyed.key_path)))
    assert row.points == {"05-e1": 0.0} and row.self_reported == {"05-e1": 2.0}


def test_the_nbgrader_source_grades_answers_measured_questions_and_exercises(rekeyed):
    from labkit.grading.assignment import source_notebook

    nb = source_notebook(
        ROOT / "notebooks" / "05_connection_leaks.ipynb", load_key(rekeyed.key_path)
    )
    graded = {
        c.metadata["nbgrader"]["grade_id"]: i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade")
    }
    assert sorted(graded) == sorted(rekeyed.questions("05"))
    exercise_cell = nb.cells[graded["05-e1"] - 1]
    assert "exercises.grade_leak_fix" in exercise_cell.source
    assert "nbgrader" not in exercise_cell.metadata  # the learner's fix is theirs to edit
    submit = next(c for c in nb.cells if "quiz.submit(my_answers)" in c.source)
    assert '"05-e1"' not in submit.source and '"05-q3": None' in submit.source
    for qid in rekeyed.questions("05", "single"):
        test = nb.cells[graded[qid]].source
        assert "BEGIN HIDDEN TESTS" in test
        assert json.dumps(rekeyed.answers[qid]) in test  # the key, in the hidden test only
    locked = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("locked")]
    assert any("leaks.leak_lab" in c.source for c in locked)  # the labs run as written


# ----------------------------------------------------------------------------- summary
def test_the_summary_shows_what_the_class_misunderstood(rekeyed, tmp_path):
    item = banks.question("04-q1")
    wrong, right = rekeyed.wrong("04-q1"), rekeyed.right("04-q1")
    for name, answer in [("a", right), ("b", wrong), ("c", wrong), ("d", right), ("e", wrong)]:
        made = records.record(item, [attempt(item, answer, "2026-01-01T10:00:00")], "class")
        notebook_with(tmp_path / f"{name}.ipynb", [made], name)
    rows = grade_all([tmp_path], GradingOptions(key=load_key(rekeyed.key_path)))
    [summary] = summarize(rows)
    assert summary.answered == 5 and summary.share_correct == pytest.approx(0.4)
    assert (summary.common_wrong, summary.common_wrong_count) == (wrong, 3)
    assert f"{wrong} (3×)" in format_summary([summary])
    write_summary_csv([summary], tmp_path / "summary.csv")
    assert "most_common_wrong" in (tmp_path / "summary.csv").read_text()
    assert plot_scores(rows, tmp_path / "scores.png").stat().st_size > 1000


def test_grade_command_in_class_mode(release, rekeyed, tmp_path, capsys):
    item = banks.question("04-q1")
    made = records.record(
        item, [attempt(item, rekeyed.right("04-q1"), "2026-01-01T10:00:00")], "class"
    )
    folder = tmp_path / "subs"
    folder.mkdir()
    notebook_with(folder / "ada.ipynb", [made], "ada")
    out = tmp_path / "grades.json"
    args = ["grade", str(folder), "--key", str(rekeyed.key_path), "--banks", str(release)]
    code = main([*args, "--out", str(tmp_path / "grades.csv"), "--json", str(out)])
    assert code == 0
    [row] = json.loads(out.read_text())
    assert row["points"] == {"04-q1": 1.0}
    assert row["max_score"] == sum(rekeyed.items[q]["points"] for q in rekeyed.questions("04"))
    assert "04-q1" in capsys.readouterr().out
    assert main(["grade", str(folder), "--banks", str(release)]) == 2  # no key: nothing to grade
    assert "--key" in capsys.readouterr().err


# ----------------------------------------------------------------------------- private banks
EXAMPLE = ROOT / "docs" / "examples" / "private-banks"


def test_the_example_private_bank_is_valid_answerless_and_not_the_public_one(monkeypatch, tmp_path):
    monkeypatch.setenv("LABKIT_BANKS", str(EXAMPLE))
    bank = banks.load_bank(EXAMPLE / "00_start_here.yaml")
    assert bank["mode"] == "class" and quiz.mode("00") == "class"
    text = (EXAMPLE / "00_start_here.yaml").read_text(encoding="utf-8")
    assert not HEX64.search(text) and "answer:" not in text
    public = {
        q["id"] for q in banks.load_bank(ROOT / "quizzes" / "00_start_here.yaml")["questions"]
    }
    assert not public & {q["id"] for q in bank["questions"]}
    assert "measured" in {q["type"] for q in bank["questions"]}
    # the instructor writes the key from the template, outside the repository, and grades
    out = tmp_path / "key.yaml"
    assert main(["quiz", "key-template", "--banks", str(EXAMPLE), "--out", str(out)]) == 0
    template = yaml.safe_load(out.read_text())
    assert sorted(template) == sorted(q["id"] for q in bank["questions"] if q["type"] != "measured")
    filled = {qid: {"answer": "B" if qid != "00-p2" else 750} for qid in template}
    filled["00-p3"] = {"answer": "A,B"}
    out.write_text(yaml.safe_dump(filled))
    key = load_key(out)
    item = banks.question("00-p1")
    made = records.record(item, [attempt(item, "B", "2026-01-01T10:00:00")], "class")
    [row] = grade_all(
        [notebook_with(tmp_path / "ada.ipynb", [made], "ada")], GradingOptions(key=key)
    )
    assert row.points == {"00-p1": 1.0} and row.max_score == 6.0


# ----------------------------------------------------------------------------- documentation
def test_readme_says_which_mode_is_in_force_and_the_guide_has_the_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Quizzes: self-check, or graded in class", 1)[1].split("\n## ")[0]
    assert "Self-check is the mode in force" in section
    assert "docs/instructor-grading.md" in section
    guide = (ROOT / "docs" / "instructor-grading.md").read_text(encoding="utf-8")
    for command in (
        "labkit quiz key-template",
        "labkit nbgrader generate",
        "nbgrader generate_assignment",
        "nbgrader autograde",
        "nbgrader export",
        "labkit grade submitted --key",
        "--execute",
    ):
        assert command in guide, command
    assert "Anything in the public repository is public" in guide


def test_a_course_folder_inside_the_repository_is_refused(rekeyed):
    notebook = str(ROOT / "notebooks" / "00_start_here.ipynb")
    args = ["nbgrader", "generate", notebook, "--key", str(rekeyed.key_path)]
    assert main([*args, "--course", str(ROOT / "course")]) == 2
    assert not (ROOT / "course").exists()
