"""The quiz engine in self-check mode, the question banks, the gradebook and the live exercises.

No answer is spelled here: grading tests run on a copy of the banks re-keyed at random
(the ``rekeyed`` fixture), and the public banks are checked by recovering their answers
the way anyone could, by hashing every option.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import nbformat
import pytest
import yaml

from labkit.grading import authoring, banks, checking, exercises, quiz, quiz_widgets, records
from labkit.grading.gradebook import grade_all, write_csv, write_json
from labkit.grading.sheet import Attempt
from labkit.infra.results import record_result

ROOT = Path(__file__).resolve().parent.parent
BANKS = sorted((ROOT / "quizzes").glob("*.yaml"))


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_HOME", str(tmp_path))
    return tmp_path


def grade(qid: str, response):
    return checking.grade(banks.question(qid), response)


def recover(item: dict) -> object:
    """The attack on a self-check bank: hash every option (or a grid of numbers)."""

    def digest(salt: str, canonical: str) -> str:
        return hashlib.sha256(f"{salt}:{canonical}".encode()).hexdigest()

    stored = item["answer"]
    if item["type"] == "single":
        return [o for o in item["options"] if digest(stored["salt"], o) == stored["hash"]]
    if item["type"] == "multiple":
        return [o for o, h in stored["options"].items() if digest(stored["salt"], f"{o}:1") == h]
    step = 10 ** -stored["decimals"]
    return [
        round(k * step, stored["decimals"])
        for k in range(0, 100_000)
        if digest(stored["salt"], f"{k * step:.{stored['decimals']}f}") == stored["hash"]
    ]


def public_items() -> list[dict]:
    return [item for path in BANKS for item in yaml.safe_load(path.read_text())["questions"]]


# ----------------------------------------------------------------------------- grading
def test_single_choice_only_the_keyed_letter_is_right(rekeyed):
    for qid in rekeyed.questions("04", "single") + rekeyed.questions("00", "single"):
        right = rekeyed.right(qid)
        assert grade(qid, right).correct
        assert grade(qid, right.lower()).correct  # letters in either case
        others = [o for o in rekeyed.items[qid]["options"] if o != right]
        assert [grade(qid, o).points for o in others] == [0] * len(others)


def test_multiple_choice_gives_the_stated_partial_credit(rekeyed):
    for qid in rekeyed.questions("00", "multiple") + rekeyed.questions("06", "multiple"):
        item = rekeyed.items[qid]
        right = rekeyed.right(qid).split(",")
        wrong = [o for o in item["options"] if o not in right]
        share = item["points"] / len(right)
        assert grade(qid, ",".join(right)).points == item["points"]
        assert grade(qid, list(reversed(right))).points == item["points"]
        assert grade(qid, right[0]).points == pytest.approx(share, abs=1e-3)
        one_off = (len(right) - 1) * share  # one wrong choice takes one share away
        assert grade(qid, [*right, wrong[0]]).points == pytest.approx(one_off, abs=1e-3)
        assert grade(qid, wrong).points == 0
        assert "partial credit" in grade(qid, wrong[0]).feedback
        if len(right) > 1:
            assert not grade(qid, right[0]).correct


def test_numeric_answers_are_accepted_up_to_the_tolerance_edges(rekeyed):
    for qid in rekeyed.questions("02", "numeric") + rekeyed.questions("06", "numeric"):
        spec = rekeyed.answers[qid]
        value, tolerance = spec["answer"], spec["tolerance"]
        inside = [value, str(value), value - tolerance, value + tolerance]
        assert [grade(qid, x).correct for x in inside] == [True] * 4
        outside = [value - tolerance - 0.01, value + tolerance + 0.01, value + 10]
        assert [grade(qid, x).correct for x in outside] == [False] * 3


def test_measured_questions_are_graded_against_the_learners_own_numbers(own_home):
    record_result("02.knee", knee_maxsize=8)
    assert grade("02-q4", 8).correct and not grade("02-q4", 7).correct
    record_result("01.pooled_vs_unpooled", ratio=6.0)
    assert grade("01-q4", 6.6).correct  # within 10%
    assert grade("01-q4", 5.4).correct
    assert not grade("01-q4", 6.61).correct
    assert "6" in grade("01-q4", 6).feedback


def test_a_re_run_figure_is_graded_with_the_wider_rerun_tolerance(own_home):
    item = banks.question("01-q4")  # own run: ±10%; another machine's re-run: ±50%
    assert not checking.grade(item, 8, expected=6.0).correct
    assert checking.grade(item, 8, expected=6.0, rerun=True).correct
    assert not checking.grade(item, 9.1, expected=6.0, rerun=True).correct


def test_measured_question_before_its_experiment_says_what_to_run(own_home):
    with pytest.raises(banks.QuizError, match="has not run yet"):
        grade("04-q4", 4)


@pytest.mark.parametrize(
    ("qid", "bad", "hint"),
    [
        ("04-q1", "E", "one letter from A, B, C, D"),
        ("04-q1", "A,B", "one letter"),
        ("04-q1", 3, "one letter"),
        ("06-q4", "", "letters such as"),
        ("02-q2", "ten", "a number"),
        ("02-q2", True, "a number"),
    ],
)
def test_a_wrong_answer_format_says_what_to_send(qid, bad, hint):
    with pytest.raises(banks.AnswerFormatError, match=hint):
        grade(qid, bad)


def test_answer_records_and_progress(own_home, rekeyed, capsys):
    assert quiz.answer("04-q1", None) is None  # not answered yet: nothing graded
    result = quiz.answer("04-q1", rekeyed.right("04-q1"))
    assert result.correct
    rows = quiz.progress()
    assert rows[0]["question"] == "04-q1" and rows[0]["points"] == 1
    assert "1 questions answered" in capsys.readouterr().out


# ----------------------------------------------------------------------------- banks
@pytest.mark.parametrize("path", BANKS, ids=lambda p: p.name)
def test_every_bank_validates_is_bilingual_and_has_a_measured_question(path):
    bank = banks.load_bank(path)
    asked = [item for item in bank["questions"] if item["type"] != "exercise"]
    assert 3 <= len(asked) <= 6
    assert bank.get("mode", "self-check") == "self-check"  # the public banks self-check
    for item in bank["questions"]:
        assert item["text"]["en"] and item["text"]["zh"]
        assert item["explanation"]["en"] and item["explanation"]["zh"]
    assert "measured" in {item["type"] for item in bank["questions"]}


def test_every_notebook_ends_with_its_self_check_quiz():
    for nb_path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        number = nb_path.name[:2]
        cells = json.loads(nb_path.read_text())["cells"]
        source = "".join("".join(c["source"]) for c in cells)
        assert f'quiz.show_quiz("{number}")' in source, nb_path.name
        assert "quiz.submit(my_answers)" in source
        assert "## Quiz (self-check)" in source and "not a grade" in source, nb_path.name
        bank = banks.load_bank(next(p for p in BANKS if p.name.startswith(number)))
        for item in bank["questions"]:  # every question has its place in my_answers
            if item["type"] == "exercise":  # ...but an exercise, passed in its own cell
                call = "exercises.grade_" + item["source"]["experiment"].split(".")[1]
                assert call in source, (nb_path.name, item["id"])
                assert f'"{item["id"]}"' not in source
            else:
                assert f'"{item["id"]}": None' in source, (nb_path.name, item["id"])


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


def test_public_self_check_banks_are_consistent_and_anyone_can_recover_them():
    """Why self-check banks are never secret: hashing every option finds each answer.

    It also proves each public bank is consistent: exactly one letter per
    single-choice question, at least one right choice per multiple-choice one, and
    one value per numeric one.
    """
    for item in public_items():
        if item["type"] in ("measured", "exercise"):
            assert "answer" not in item
            continue
        found = recover(item)
        if item["type"] == "single":
            assert len(found) == 1, item["id"]
        else:
            assert len(found) >= 1, item["id"]


def test_right_letters_of_single_choice_questions_are_spread_over_the_options():
    singles = [item for item in public_items() if item["type"] == "single"]
    letters = Counter(recover(item)[0] for item in singles)
    fair_share = math.ceil(len(singles) / 4)
    assert max(letters.values()) <= fair_share + 1, letters  # not "most answers are B"
    assert len(letters) == 4, letters


def test_no_answer_key_or_plain_answer_anywhere_in_the_repository():
    """Grep the whole repository (every tracked file) for the public answers."""
    assert not (ROOT / "tests" / "quiz_answers.yaml").exists()
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    texts = {}
    for name in tracked:
        path = ROOT / name
        if path.suffix in {".py", ".md", ".yaml", ".yml", ".ipynb", ".json", ".txt", ".toml"}:
            texts[name] = path.read_text(encoding="utf-8", errors="replace")
    for item in public_items():
        if item["type"] in ("measured", "exercise"):
            continue
        found = recover(item)
        plain = ",".join(found) if item["type"] != "numeric" else f"{found[0]:g}"
        qid = item["id"]
        leaks = [
            f'"{qid}": "{plain}"',
            f"'{qid}': '{plain}'",
            f'"{qid}": {plain}',
            f'answer("{qid}", "{plain}")',
            f"answer('{qid}', '{plain}')",
            f"{qid}: {plain}",
            f"{qid}: '{plain}'",
            f'{qid}: "{plain}"',
            f"{qid}: {{answer: {plain}",
            f'{qid}: {{answer: "{plain}"',
        ]
        for name, content in texts.items():
            for pattern in leaks:
                assert pattern not in content, f"{name} gives away {qid}"
    for name, content in texts.items():  # no file shaped like a key: `00-q1: {answer: ...}`
        if name.endswith((".yaml", ".yml")):
            data = yaml.safe_load(content)
            if isinstance(data, dict):
                assert not any(
                    isinstance(v, dict) and "answer" in v and k[:2].isdigit()
                    for k, v in data.items()
                ), f"{name} looks like an answer key"


def test_banks_store_only_salted_hashes():
    for item in public_items():
        stored = item.get("answer", {})
        assert set(stored) <= {"salt", "hash", "options", "decimals", "tolerance"}
        hashes = [stored["hash"]] if "hash" in stored else list(stored.get("options", {}).values())
        assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)
        assert "correct" not in item and "solution" not in item


def test_set_answer_writes_only_a_salted_hash(tmp_path):
    bank = tmp_path / "04_pool_exhaustion.yaml"
    bank.write_text((ROOT / "quizzes" / "04_pool_exhaustion.yaml").read_text(encoding="utf-8"))
    for letter in "CA":
        authoring.set_answer(bank, "04-q1", letter)
        item = next(q for q in yaml.safe_load(bank.read_text())["questions"] if q["id"] == "04-q1")
        assert set(item["answer"]) == {"salt", "hash"}
        assert recover(item) == [letter]
    with pytest.raises(banks.QuizError, match="measured question"):
        authoring.set_answer(bank, "04-q4", "4")


def copy_banks(tmp_path: Path) -> Path:
    folder = tmp_path / "banks"
    folder.mkdir()
    for path in BANKS:
        (folder / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def not_the_answer(qid: str) -> str:
    """A well-formed answer to ``qid`` that is not its public one (no answer is spelled here)."""
    item = banks.question(qid)
    if item["type"] == "numeric":
        return f"{recover(item)[0] + 7:g}"
    wrong = [o for o in item["options"] if o not in recover(item)]
    return wrong[0] if item["type"] == "single" else ",".join(wrong[:2])


def test_set_answers_takes_a_plain_value_as_shorthand_for_answer(tmp_path, capsys):
    from labkit.cli import main

    folder = copy_banks(tmp_path)
    given = {qid: not_the_answer(qid) for qid in ("00-q5", "00-q3", "01-q3")}
    answers = tmp_path / "answers.yaml"
    answers.write_text(
        f"00-q5: {given['00-q5']}\n00-q3: {given['00-q3']}\n"
        f"01-q3: {{answer: {given['01-q3']}, tolerance: 1}}\n"
    )
    assert main(["quiz", "set-answers", str(answers), "--banks", str(folder)]) == 0
    assert "3 answers" in capsys.readouterr().out
    stored = {q["id"]: q for q in yaml.safe_load((folder / BANKS[0].name).read_text())["questions"]}
    assert ",".join(recover(stored["00-q5"])) == given["00-q5"]
    assert ",".join(recover(stored["00-q3"])) == given["00-q3"]


@pytest.mark.parametrize(
    "bad, named",
    [
        ("00-q9: A", "00-q9"),  # unknown question id
        ("77-q1: A", "77-q1"),  # unknown bank
        ("00-q1: {answr: A}", "00-q1"),  # misspelt key
        ("00-q1: [A, B]", "00-q1"),  # a list is not an answer
        ("00-q1: Z", "00-q1"),  # not one of the options
        ("00-q4: 12", "00-q4"),  # a measured question has no key
        ("- 00-q5", "<id>: <answer>"),  # not a mapping: the message shows the shape
    ],
)
def test_set_answers_refuses_a_bad_entry_and_writes_nothing(tmp_path, capsys, bad, named):
    from labkit.cli import main

    folder = copy_banks(tmp_path)
    before = {p.name: p.read_text() for p in folder.iterdir()}
    answers = tmp_path / "answers.yaml"
    good = "" if bad.startswith("-") else f"00-q5: {not_the_answer('00-q5')}\n"
    answers.write_text(good + bad + "\n")
    assert main(["quiz", "set-answers", str(answers), "--banks", str(folder)]) == 2
    err = capsys.readouterr().err
    assert named in err and "Traceback" not in err
    assert {p.name: p.read_text() for p in folder.iterdir()} == before


# ----------------------------------------------------------------------------- language
def test_labkit_lang_zh_renders_chinese(monkeypatch):
    monkeypatch.setenv("LABKIT_LANG", "zh")
    assert banks.text(banks.question("04-q1")) == "当数据库响应变慢时，如何快速判断是否连接池不足？"
    widget = quiz_widgets.show("05-q1")
    assert "以下哪种情况可能导致连接泄漏" in widget.children[0].value
    assert any("所有选项都可能" in label for label, _ in widget.children[1].options)
    assert "自测" in quiz_widgets.show_quiz("04").children[0].value
    monkeypatch.setenv("LABKIT_LANG", "fr")
    with pytest.raises(banks.QuizError, match="not supported"):
        banks.language()


def test_a_chinese_learners_submit_feedback_is_chinese_end_to_end(
    rekeyed, own_home, monkeypatch, capsys
):
    monkeypatch.setenv("LABKIT_LANG", "zh")
    quiz.SHEET.clear()
    outcomes = quiz.submit(
        {"04-q1": rekeyed.right("04-q1"), "00-q3": rekeyed.wrong("00-q3"), "01-q3": "1000"}
    )
    said = "\n".join(str(o) for o in outcomes)
    for word in ("✔ 正确", "✘ 还不对", "个正确选项中选对了", "部分得分规则", "以内都算对"):
        assert word in said, said
    for english in ("correct", "not quite", "right choices", "partial credit", "accepted within"):
        assert english not in said, said
    with pytest.raises(checking.AnswerFormatError, match=r"请从 .* 中选一个字母作答"):
        quiz.submit({"04-q1": "Z"})
    capsys.readouterr()
    quiz.progress()
    assert "自测得分" in capsys.readouterr().out
    quiz.answer("04-q1", None)
    assert "04-q1：还没有作答。" in capsys.readouterr().out
    quiz.SHEET.clear()
    quiz.submit({"04-q1": None})
    assert "还没有作答：请在上面的控件里作答" in capsys.readouterr().out


def test_english_is_the_default(monkeypatch):
    monkeypatch.delenv("LABKIT_LANG", raising=False)
    assert banks.text(banks.question("04-q1")).startswith("When the database slows down")
    assert "Self-check" in quiz_widgets.show_quiz("04").children[0].value


@pytest.mark.parametrize(("lang", "word"), [("en", "correct"), ("zh", "等待队列")])
def test_self_check_widgets_give_instant_feedback_with_the_explanation(
    lang, word, rekeyed, own_home, monkeypatch
):
    monkeypatch.setenv("LABKIT_LANG", lang)
    quiz.SHEET.clear()
    said = str(quiz.record_widget_answer("04-q1", rekeyed.right("04-q1")))
    assert "✔" in said and banks.text(banks.question("04-q1"), "explanation") in said
    assert word in said  # in Chinese, the explanation speaks of the wait queue
    assert "✘" in str(quiz.record_widget_answer("04-q1", rekeyed.wrong("04-q1")))


# ----------------------------------------------------------------------------- gradebook
def submission(path: Path, learner: str, responses: dict, feedback: bool = True) -> Path:
    """A notebook whose quiz cell ran with these responses, as a learner would save it."""
    made = []
    for qid, response in responses.items():
        item = banks.question(qid)
        attempt = Attempt(checking.canonical(item, response), "2026-01-01T10:00:00", feedback, "x")
        result = checking.grade(item, response) if feedback else None
        made.append(records.record(item, [attempt], "self-check", result))
    cell = nbformat.v4.new_code_cell("results = quiz.submit(my_answers)")
    cell.outputs = [
        nbformat.v4.new_output(
            "display_data", data={records.RECORD_MIME: made, "text/plain": "graded"}
        )
    ]
    nb = nbformat.v4.new_notebook(cells=[cell], metadata={"labkit": {"learner": learner}})
    nbformat.write(nb, path)
    return path


def test_gradebook_grades_the_class_and_reports_a_malformed_notebook(tmp_path, rekeyed):
    folder = tmp_path / "submissions"
    folder.mkdir()
    asked = ["06-q1", "06-q2", "06-q4", "06-q5"]  # numeric, numeric, multiple, single
    points = {qid: float(rekeyed.items[qid]["points"]) for qid in asked}
    right = {qid: rekeyed.right(qid) for qid in asked}
    submission(folder / "ada.ipynb", "ada", right)
    submission(
        folder / "bo.ipynb",
        "bo",
        {"06-q5": rekeyed.wrong("06-q5"), "06-q4": right["06-q4"], "06-q1": right["06-q1"]},
    )
    (folder / "cy.ipynb").write_text("{ this is not a notebook")
    rows = {row.student_id: row for row in grade_all([folder])}
    assert rows["ada"].raw_score == sum(points.values()) and rows["ada"].error == ""
    # the maximum counts every question of the bank, answered or not
    assert rows["ada"].max_score == sum(rekeyed.items[q]["points"] for q in rekeyed.questions("06"))
    assert rows["bo"].points == {"06-q5": 0, "06-q4": points["06-q4"], "06-q1": points["06-q1"]}
    assert "not a readable notebook" in rows["cy"].error
    out = tmp_path / "grades.csv"
    write_csv(list(rows.values()), out)
    lines = out.read_text().splitlines()
    assert lines[0].startswith("assignment,timestamp,student_id,06-q1,")
    assert len(lines) == 4
    write_json(list(rows.values()), tmp_path / "grades.json")
    assert len(json.loads((tmp_path / "grades.json").read_text())) == 3


def test_a_tampered_record_gets_an_error_row(tmp_path, rekeyed):
    path = submission(tmp_path / "eve.ipynb", "eve", {"04-q1": rekeyed.wrong("04-q1")})
    nb = json.loads(path.read_text())
    record = nb["cells"][0]["outputs"][0]["data"][records.RECORD_MIME][0]
    record["response"] = rekeyed.right("04-q1")  # changed after it ran: the checksum fails
    path.write_text(json.dumps(nb))
    [row] = grade_all([path])
    assert row.error.startswith("tampered")


def test_grade_command_writes_csv_json_summary_and_plot(tmp_path, rekeyed):
    submission(tmp_path / "ada.ipynb", "ada", {"04-q1": rekeyed.right("04-q1")})
    (tmp_path / "bad.ipynb").write_text("[]")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "labkit.cli",
            "grade",
            str(tmp_path),
            "--banks",
            str(rekeyed.banks),
            "--out",
            str(tmp_path / "g.csv"),
            "--json",
            str(tmp_path / "g.json"),
            "--summary",
            str(tmp_path / "s.csv"),
            "--plot",
            str(tmp_path / "scores.png"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "ERROR" in result.stdout and "ada" in result.stdout
    for name in ("g.csv", "g.json", "s.csv"):
        assert (tmp_path / name).exists()
    assert (tmp_path / "scores.png").read_bytes()[:4] == b"\x89PNG"


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
    assert not checking.grade(banks.question("05-e1"), None).correct
    assert exercises.grade_leak_fix(reference_handler, app).passed  # the leak was cleaned up
    assert checking.grade(banks.question("05-e1"), None).correct  # its quiz question, too


@pytest.mark.parametrize(
    ("maxsize", "timeout", "passes"),
    # The embedded server's 30 slots give four workers at most 7 each (4 × 8 = 32 > 30).
    [(7, None, True), (8, None, False), (2, None, False), (16, None, False), (7, 0.02, False)],
)
def test_pool_settings_exercise(start_app, maxsize, timeout, passes):
    app = start_app()
    assert exercises.grade_pool_settings(maxsize, timeout, app).passed is passes
