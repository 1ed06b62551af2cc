"""The quiz engine, the question banks, the gradebook and the live exercises."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
import yaml

from labkit.grading import authoring, banks, checking, exercises, quiz, quiz_widgets, records
from labkit.grading.gradebook import grade_all, write_csv, write_json
from labkit.infra.results import record_result

ROOT = Path(__file__).resolve().parent.parent
ANSWERS = yaml.safe_load((Path(__file__).parent / "quiz_answers.yaml").read_text())


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    return tmp_path


def grade(qid: str, response):
    return checking.grade(banks.question(qid), response)


# ----------------------------------------------------------------------------- grading
def test_articles_first_question_only_b_is_right():
    assert grade("04-q1", "B").correct
    assert [grade("04-q1", x).correct for x in "ACD"] == [False, False, False]
    assert grade("04-q1", "b").correct  # letters in either case


def test_articles_second_question_only_d_is_right():
    assert grade("04-q2", "D").correct
    assert [grade("04-q2", x).points for x in "ABC"] == [0, 0, 0]


def test_multiple_choice_gives_the_stated_partial_credit():
    # 04-q5 is worth 2 points; its right choices are A and C
    assert grade("04-q5", "A,C").points == 2
    assert grade("04-q5", ["C", "A"]).points == 2
    assert grade("04-q5", "A").points == 1
    assert grade("04-q5", "A,C,D").points == 1
    assert grade("04-q5", "A,B").points == 0
    assert grade("04-q5", "B,D").points == 0
    assert not grade("04-q5", "A").correct
    assert "partial credit" in grade("04-q5", "A").feedback


def test_numeric_answers_are_accepted_up_to_the_tolerance_edges():
    # 02-q2: 10 connections, within ±0.5
    assert [grade("02-q2", x).correct for x in (10, "10", 9.5, 10.5)] == [True] * 4
    assert [grade("02-q2", x).correct for x in (9.49, 10.51, 0)] == [False] * 3
    # 04-q3: exactly 6
    assert grade("04-q3", 6).correct and grade("04-q3", "6.0").correct
    assert not grade("04-q3", 7).correct and not grade("04-q3", 5.9).correct


def test_measured_questions_are_graded_against_the_learners_own_numbers(own_home):
    record_result("02.knee", knee_maxsize=8)
    assert grade("02-q4", 8).correct and not grade("02-q4", 7).correct
    record_result("01.pooled_vs_unpooled", ratio=6.0)
    assert grade("01-q4", 6.6).correct  # within 10%
    assert grade("01-q4", 5.4).correct
    assert not grade("01-q4", 6.61).correct
    assert "6" in grade("01-q4", 6).feedback


def test_measured_question_before_its_experiment_says_what_to_run(own_home):
    with pytest.raises(banks.QuizError, match="has not run yet"):
        grade("04-q4", 4)


@pytest.mark.parametrize(
    ("qid", "bad", "hint"),
    [
        ("04-q1", "E", "one letter from A, B, C, D"),
        ("04-q1", "A,B", "one letter"),
        ("04-q1", 3, "one letter"),
        ("04-q5", "", "letters such as"),
        ("02-q2", "ten", "a number"),
        ("02-q2", True, "a number"),
    ],
)
def test_a_wrong_answer_format_says_what_to_send(qid, bad, hint):
    with pytest.raises(banks.AnswerFormatError, match=hint):
        grade(qid, bad)


def test_answer_records_and_progress(own_home, capsys):
    assert quiz.answer("04-q1", None) is None  # not answered yet: nothing graded
    result = quiz.answer("04-q1", "B")
    assert result.correct
    rows = quiz.progress()
    assert rows[0]["question"] == "04-q1" and rows[0]["points"] == 1
    assert "1 questions answered" in capsys.readouterr().out


# ----------------------------------------------------------------------------- banks
BANKS = sorted((ROOT / "quizzes").glob("*.yaml"))


@pytest.mark.parametrize("path", BANKS, ids=lambda p: p.name)
def test_every_bank_validates_and_is_bilingual(path):
    bank = banks.load_bank(path)
    assert 3 <= len(bank["questions"]) <= 6
    for item in bank["questions"]:
        assert item["text"]["en"] and item["text"]["zh"]
        assert item["explanation"]["en"] and item["explanation"]["zh"]
    kinds = {item["type"] for item in bank["questions"]}
    if bank["notebook"] != "00":
        assert "measured" in kinds


def test_every_notebook_ends_with_its_quiz():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        number = nb_path.name[:2]
        source = "".join("".join(c["source"]) for c in json.loads(nb_path.read_text())["cells"])
        assert f'quiz.show_quiz("{number}")' in source, nb_path.name
        assert "quiz.submit(my_answers)" in source
        assert any(p.name.startswith(number) for p in BANKS)


def test_a_broken_bank_is_refused_with_the_reason(tmp_path):
    broken = tmp_path / "09_broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            {
                "notebook": "09",
                "title": {"en": "x", "zh": "x"},
                "questions": [{"id": "09-q1", "type": "single"}],
            }
        )
    )
    with pytest.raises(banks.QuizError, match="not a valid question bank"):
        banks.load_bank(broken)


def test_no_answer_appears_in_plain_text_in_banks_or_notebooks():
    files = [*BANKS, *(ROOT / "notebooks").glob("*.ipynb")]
    texts = {path.name: path.read_text(encoding="utf-8") for path in files}
    for qid, spec in ANSWERS.items():
        plain = str(spec["answer"])
        leaks = [
            f'"{qid}": "{plain}"',
            f"'{qid}': '{plain}'",
            f'"{qid}": {plain}',
            f'answer("{qid}", "{plain}")',
            f"answer('{qid}', '{plain}')",
            f"{qid}: {plain}",
            f"{qid}: '{plain}'",
        ]
        for name, content in texts.items():
            for pattern in leaks:
                assert pattern not in content, f"{name} gives away {qid}"
    for path in BANKS:
        for item in yaml.safe_load(path.read_text())["questions"]:
            stored = item.get("answer", {})
            assert set(stored) <= {"salt", "hash", "options", "decimals", "tolerance"}
            hashes = (
                [stored["hash"]] if "hash" in stored else list(stored.get("options", {}).values())
            )
            assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes)
            assert "correct" not in item and "solution" not in item


def test_set_answer_writes_only_a_salted_hash(tmp_path, monkeypatch):
    bank = tmp_path / "04_error_handling.yaml"
    bank.write_text((ROOT / "quizzes" / "04_error_handling.yaml").read_text(encoding="utf-8"))
    authoring.set_answer(bank, "04-q1", "C")
    item = next(q for q in yaml.safe_load(bank.read_text())["questions"] if q["id"] == "04-q1")
    assert set(item["answer"]) == {"salt", "hash"}
    assert checking.grade(item, "C").correct and not checking.grade(item, "B").correct
    with pytest.raises(banks.QuizError, match="measured question"):
        authoring.set_answer(bank, "04-q4", "4")


# ----------------------------------------------------------------------------- language
def test_labkit_lang_zh_renders_chinese(monkeypatch):
    monkeypatch.setenv("LABKIT_LANG", "zh")
    assert banks.text(banks.question("04-q1")) == "当数据库响应变慢时，如何快速判断是否连接池不足？"
    widget = quiz_widgets.show("04-q2")
    assert "以下哪种情况可能导致连接泄漏" in widget.children[0].value
    assert any("所有选项都可能" in label for label, _ in widget.children[1].options)
    monkeypatch.setenv("LABKIT_LANG", "fr")
    with pytest.raises(banks.QuizError, match="not supported"):
        banks.language()


def test_english_is_the_default(monkeypatch):
    monkeypatch.delenv("LABKIT_LANG", raising=False)
    assert banks.text(banks.question("04-q1")).startswith("When the database slows down")


# ----------------------------------------------------------------------------- gradebook
def submission(path: Path, learner: str, responses: dict) -> Path:
    """A notebook whose quiz cell ran with these responses, as a learner would save it."""
    made = [records.record(checking.grade(banks.question(q), r)) for q, r in responses.items()]
    cell = nbformat.v4.new_code_cell("results = quiz.submit(my_answers)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={records.RECORD_MIME: made, "text/plain": "graded"}
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"labkit": {"learner": learner}})
    nbformat.write(nb, path)
    return path


def test_gradebook_grades_the_class_and_reports_a_malformed_notebook(tmp_path):
    folder = tmp_path / "submissions"
    folder.mkdir()
    submission(
        folder / "ada.ipynb", "ada", {"04-q1": "B", "04-q2": "D", "04-q3": 6, "04-q5": "A,C"}
    )
    submission(folder / "bo.ipynb", "bo", {"04-q1": "A", "04-q2": "D", "04-q5": "A"})
    (folder / "cy.ipynb").write_text("{ this is not a notebook")
    rows = {row.student_id: row for row in grade_all([folder])}
    assert rows["ada"].raw_score == 5 and rows["ada"].error == ""  # 1 + 1 + 1 + 2
    assert rows["ada"].max_score == 7  # 04-q4 (measured, 2 points) was not answered
    assert rows["bo"].points == {"04-q1": 0, "04-q2": 1, "04-q5": 1}
    assert "not a readable notebook" in rows["cy"].error
    out = tmp_path / "grades.csv"
    write_csv(list(rows.values()), out)
    lines = out.read_text().splitlines()
    assert lines[0].startswith("assignment,timestamp,student_id,04-q1,")
    assert len(lines) == 4
    write_json(list(rows.values()), tmp_path / "grades.json")
    assert len(json.loads((tmp_path / "grades.json").read_text())) == 3


def test_a_tampered_record_gets_an_error_row(tmp_path):
    path = submission(tmp_path / "eve.ipynb", "eve", {"04-q1": "A"})
    nb = json.loads(path.read_text())
    record = nb["cells"][0]["outputs"][0]["data"][records.RECORD_MIME][0]
    record["response"] = "B"  # changed after grading; the checksum no longer matches
    path.write_text(json.dumps(nb))
    [row] = grade_all([path])
    assert row.error.startswith("tampered")


def test_grade_command_writes_csv_and_json(tmp_path):
    submission(tmp_path / "ada.ipynb", "ada", {"04-q1": "B"})
    (tmp_path / "bad.ipynb").write_text("[]")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "labkit.cli",
            "grade",
            str(tmp_path),
            "--out",
            str(tmp_path / "g.csv"),
            "--json",
            str(tmp_path / "g.json"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR" in result.stdout and "ada" in result.stdout
    assert (tmp_path / "g.csv").exists() and (tmp_path / "g.json").exists()


# ----------------------------------------------------------------------------- exercises
async def leaky_handler(pool, fail):
    conn = await pool.acquire()
    await conn.execute("BEGIN")
    await conn.fetchval("SELECT count(*) FROM users")
    if fail:
        raise RuntimeError("payment declined")
    await conn.execute("COMMIT")
    await pool.release(conn)


async def reference_handler(pool, fail):
    async with pool.acquire() as conn, conn.transaction():
        await conn.fetchval("SELECT count(*) FROM users")
        if fail:
            raise RuntimeError("payment declined")


def test_leak_exercise_passes_the_reference_and_fails_the_leak(start_app):
    app = start_app()
    assert not exercises.grade_leak_fix(leaky_handler, app).passed
    assert exercises.grade_leak_fix(reference_handler, app).passed  # the leak was cleaned up


@pytest.mark.parametrize(
    ("maxsize", "timeout", "passes"),
    # The embedded server's 30 slots give four workers at most 7 each (4 × 8 = 32 > 30).
    [(7, None, True), (8, None, False), (2, None, False), (16, None, False), (7, 0.02, False)],
)
def test_pool_settings_exercise(start_app, maxsize, timeout, passes):
    app = start_app()
    assert exercises.grade_pool_settings(maxsize, timeout, app).passed is passes
