"""The Chinese course is in step with the English one, by construction (docs/translating.md).

Catalogs, built notebooks, placeholders, the glossary, the language decision, and the
Chinese notebook 00 run for real against the real database.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import polib
import pytest
import yaml
from test_notebooks import (  # the same executor and checks as the English notebooks
    assert_nothing_left_behind,
    check_conclusions,
    execute_notebook,
    printed_text,
)

import labkit
from labkit import language as lang_module
from labkit import messages
from labkit.messages import _, say
from labkit.translation import catalogs, checks
from labkit.translation.build import build
from labkit.translation.sources import ROOT, markdown_cells, sentences_in

# Every notebook is translated: a new one fails these tests until it has its catalog.
TRANSLATED_NOTEBOOKS = sorted(path.stem for path in (ROOT / "notebooks").glob("*.ipynb"))
# Every module that speaks to a learner. Each other labkit module that has text is in
# ENGLISH_ONLY below, with the reason; a test keeps the two lists covering all of labkit.
TRANSLATED_MODULES = [
    "labkit/cli.py",
    "labkit/environment.py",
    "labkit/grading/checking.py",
    "labkit/grading/banks.py",
    "labkit/grading/exercises.py",
    "labkit/grading/quiz.py",
    "labkit/grading/quiz_widgets.py",
    "labkit/infra/checks.py",
    "labkit/infra/database.py",
    "labkit/infra/embedded/binaries.py",
    "labkit/infra/embedded/server.py",
    "labkit/infra/load.py",
    "labkit/infra/pgbouncer.py",
    "labkit/infra/ports.py",
    "labkit/infra/runner.py",
    "labkit/infra/workers.py",
    "labkit/labs/article/__init__.py",
    "labkit/labs/article/connect_timeout.py",
    "labkit/labs/article/evidence.py",
    "labkit/labs/article/idle_lifetime.py",
    "labkit/labs/article/metrics_snippet.py",
    "labkit/labs/article/models.py",
    "labkit/labs/article/pool_config.py",
    "labkit/labs/article/snippets.py",
    "labkit/labs/article/startup_hook.py",
    "labkit/labs/article/task_reference.py",
    "labkit/labs/article/tortoise_config.py",
    "labkit/labs/article/transaction.py",
    "labkit/labs/article/users_route.py",
    "labkit/labs/client_limits.py",
    "labkit/labs/conclusions.py",
    "labkit/labs/exhaustion.py",
    "labkit/labs/keepalive.py",
    "labkit/labs/leaks.py",
    "labkit/labs/outage.py",
    "labkit/labs/pooler_modes.py",
    "labkit/labs/principles.py",
    "labkit/labs/queueing.py",
    "labkit/labs/scale_out.py",
    "labkit/labs/staleness.py",
    "labkit/labs/start_here.py",
    "labkit/labs/tuning.py",
    "labkit/monitoring/__init__.py",
    "labkit/monitoring/prometheus.py",
    "labkit/monitoring/scraper.py",
    "labkit/monitoring/views.py",
    "labkit/plots.py",
    "labkit/pool.py",
    "labkit/urls.py",
    "labkit/widgets.py",
]
# Modules whose text stays English, and why (docs/translating.md, "What stays English").
ENGLISH_ONLY = {
    "labkit/__init__.py": "Python's own AttributeError for a missing name",
    "labkit/language.py": "an unknown language cannot choose the language of its own error",
    "labkit/messages.py": "the translation machinery's programming errors",
    "labkit/app/": "the example app: HTTP responses, its settings' and schemas' validation",
    "labkit/translation/": "labkit translate: maintainers' commands",
    "labkit/workshop/": "the instructor's workshop commands",
    "labkit/grading/assignment.py": "instructor: nbgrader source notebooks",
    "labkit/grading/authoring.py": "instructor: writing answer hashes",
    "labkit/grading/gradebook.py": "instructor: the class gradebook",
    "labkit/grading/key.py": "instructor: the answer key",
    "labkit/grading/release.py": "instructor: releasing banks",
    "labkit/infra/access.py": "the shared-host secret's programming errors",
    "labkit/infra/http_client.py": "HTTP protocol errors, said as the protocol names them",
    "labkit/infra/results.py": "a damaged results file's warning and a programming error",
    "labkit/infra/sampler.py": "a programming error (a sampling rate that is not positive)",
}
TRANSLATED = {f"notebooks/{name}.ipynb" for name in TRANSLATED_NOTEBOOKS} | set(TRANSLATED_MODULES)
# The article's own words (「FastAPI数据库连接池配置与监控」), which the glossary must keep.
ARTICLE_WORDS = ["连接池", "最小连接数", "最大连接数", "连接泄漏", "等待队列", "事务"]
ARTICLE_WORDS += ["空闲连接存活时间", "耗尽"]


@pytest.fixture(autouse=True)
def own_language(monkeypatch):
    """Whatever a test does with set_language(), LABKIT_LANG is as it was afterwards.

    setenv records the variable's old value (or its absence) for monkeypatch to restore;
    set_language() itself writes os.environ behind monkeypatch's back.
    """
    monkeypatch.setenv("LABKIT_LANG", "en")
    monkeypatch.delenv("LABKIT_LANG")


def has_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


@pytest.fixture(scope="module")
def problems() -> list[checks.Problem]:
    return checks.problems("zh")


# ----------------------------------------------------------------------------- catalogs
def test_catalogs_and_built_notebooks_are_in_step_with_the_english(problems):
    """Nothing to extract or build: the committed catalogs and notebooks/zh are current."""
    assert [str(p) for p in problems if p.kind == "outdated"] == []


def test_converted_notebooks_and_modules_are_translated_and_none_is_stale(problems):
    gaps = [
        str(p) for p in problems if p.kind in ("missing", "stale") and TRANSLATED & set(p.sources)
    ]
    assert gaps == []
    for name in TRANSLATED_NOTEBOOKS:
        assert (ROOT / "notebooks" / "locale" / "zh" / f"{name}.po").exists(), name


def test_every_translation_keeps_the_placeholders_and_code_of_its_english(problems):
    assert [str(p) for p in problems if p.kind in ("placeholders", "code")] == []


def test_translations_use_the_glossary_words(problems):
    assert [str(p) for p in problems if p.kind == "glossary"] == []


def test_a_broken_placeholder_is_reported():
    entry = polib.POEntry(msgid="ready in {took:.3f} s", msgstr="{took} 秒内就绪")
    found = checks._entry_problems(entry, "x.po", (), [], markdown=False)
    assert [p.kind for p in found] == ["placeholders"]
    entry = polib.POEntry(msgctxt="c", msgid="Run `labkit doctor`.", msgstr="运行 labkit doctor。")
    assert [p.kind for p in checks._entry_problems(entry, "x.po", (), [], True)] == ["code"]


def test_check_command_fails_and_lists_what_is_wrong(tmp_path, monkeypatch):
    runtime = tmp_path / "zh.po"
    runtime.write_text(catalogs.runtime_catalog("zh").read_text(encoding="utf-8"))
    po = polib.pofile(str(runtime))
    po.find("all is well").msgstr = "一切 {正常}"
    po.save()
    monkeypatch.setattr(checks, "runtime_catalog", lambda lang: runtime)
    from labkit import cli

    assert cli.main(["translate", "check"]) == 1


# ----------------------------------------------------------------------------- glossary
def test_the_glossary_gives_one_chinese_word_per_english_term_and_keeps_the_article_words():
    terms = checks.glossary()
    seen: dict[str, str] = {}
    for term in terms:
        for word in term.english:
            assert seen.setdefault(word.lower(), term.chinese) == term.chinese, word
    chinese = {t.chinese for t in terms}
    assert set(ARTICLE_WORDS) <= chinese


def test_a_glossary_word_is_enforced_in_prose_but_not_in_code():
    terms = checks.glossary()
    assert checks.glossary_gaps("The wait queue grew.", "队列变长了。", terms) == [
        "'wait queue' is 等待队列"
    ]
    assert checks.glossary_gaps("It leaked a connection.", "它泄露了一个连接。", terms)
    assert checks.glossary_gaps("Read `pool._size`; pool.get_size()", "读取", terms) == []


def bank_texts(node):
    """Every {en, zh} pair in a bank."""
    if isinstance(node, dict):
        if isinstance(node.get("en"), str) and isinstance(node.get("zh"), str):
            yield node
        else:
            for value in node.values():
                yield from bank_texts(value)
    elif isinstance(node, list):
        for value in node:
            yield from bank_texts(value)


@pytest.mark.parametrize("name", TRANSLATED_NOTEBOOKS)
def test_the_quiz_banks_of_translated_notebooks_use_the_glossary_words(name):
    terms = checks.glossary()
    bank = yaml.safe_load((ROOT / "quizzes" / f"{name}.yaml").read_text(encoding="utf-8"))
    gaps = [
        (pair["en"][:60], gap)
        for pair in bank_texts(bank)
        if pair["en"] != pair["zh"]  # kept verbatim on purpose (an error message, code)
        for gap in checks.glossary_gaps(pair["en"], pair["zh"], terms)
    ]
    assert gaps == []


# ----------------------------------------------------------------------------- built notebooks
@pytest.mark.parametrize("name", TRANSLATED_NOTEBOOKS)
def test_a_built_notebook_has_the_same_cells_ids_and_code_and_no_outputs(name):
    english = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    chinese = json.loads((ROOT / "notebooks" / "zh" / f"{name}.ipynb").read_text(encoding="utf-8"))
    assert [(c["id"], c["cell_type"]) for c in chinese["cells"]] == [
        (c["id"], c["cell_type"]) for c in english["cells"]
    ]
    for en, zh in zip(english["cells"], chinese["cells"], strict=True):
        if en["cell_type"] == "code":
            assert "".join(zh["source"]) == "".join(en["source"]), en["id"]
            assert zh["outputs"] == [] and zh["execution_count"] is None
        else:
            assert has_chinese("".join(zh["source"])), en["id"]


def test_build_writes_exactly_the_committed_notebooks():
    for done in build("zh", write=False):
        assert done.path.read_text(encoding="utf-8") == done.text, done.path.name
        assert not done.missing and not done.stale


# ----------------------------------------------------------------------------- extract
@pytest.fixture
def scratch_catalogs(tmp_path, monkeypatch):
    """extract's refresh functions, writing into tmp_path instead of the repository."""
    monkeypatch.setattr(catalogs, "notebook_catalog", lambda nb, lang: tmp_path / "nb.po")
    monkeypatch.setattr(catalogs, "runtime_catalog", lambda lang: tmp_path / "zh.po")
    monkeypatch.setattr(catalogs, "relative", lambda path: Path(path).name)
    return tmp_path


def test_extract_marks_a_changed_cell_stale_keeps_its_translation_and_revives_a_moved_one(
    scratch_catalogs,
):
    Cell = catalogs.Cell
    notebook = Path("nb.ipynb")
    first = catalogs.refresh_notebook(notebook, [Cell("a", "Hello"), Cell("b", "World")], "zh")
    assert first.added == ["a", "b"]
    po = polib.pofile(str(scratch_catalogs / "nb.po"))
    po.find("Hello", msgctxt="a").msgstr = "你好"
    po.find("World", msgctxt="b").msgstr = "世界"
    po.save()
    again = catalogs.refresh_notebook(notebook, [Cell("a", "Hello!"), Cell("c", "World")], "zh")
    assert again.stale == ["a"] and again.revived == ["c"] and again.removed == []
    po = polib.pofile(str(scratch_catalogs / "nb.po"))
    changed = po.find("Hello!", msgctxt="a")
    assert changed.fuzzy and changed.msgstr == "你好" and changed.previous_msgid == "Hello"
    assert po.find("World", msgctxt="c").msgstr == "世界"
    problems = checks._entry_problems(changed, "nb.po", (), [], markdown=True)
    assert [p.kind for p in problems] == ["stale"]


def test_extract_marks_a_reworded_sentence_stale_with_its_old_translation(scratch_catalogs):
    catalogs.refresh_messages({"ready in {took:.3f} s": ["m.py"]}, "zh")
    po = polib.pofile(str(scratch_catalogs / "zh.po"))
    po.find("ready in {took:.3f} s").msgstr = "{took:.3f} 秒内就绪"
    po.save()
    changes = catalogs.refresh_messages({"ready in {took:.2f} s": ["m.py"]}, "zh")
    assert changes.stale == ["ready in {took:.2f} s"]
    entry = polib.pofile(str(scratch_catalogs / "zh.po")).find("ready in {took:.2f} s")
    assert entry.fuzzy and entry.previous_msgid == "ready in {took:.3f} s"
    assert [p.kind for p in checks._entry_problems(entry, "zh.po", (), [], False)] == [
        "stale",
        "placeholders",
    ]


def test_an_f_string_given_to_say_is_refused_with_the_fix():
    with pytest.raises(labkit.LabkitError, match=r"name=value"):
        sentences_in('say(f"ready in {took} s")', "cell")
    assert sentences_in('labkit.say("ready in {took} s", took=1)', "cell") == ["ready in {took} s"]


# ----------------------------------------------------------------------------- converted code
def bare_english(tree: ast.AST) -> list[int]:
    """Lines where print() or raise X(...) is given English text not passed through _()/say()."""

    def is_words(node: ast.AST) -> bool:
        parts = [node] if isinstance(node, ast.Constant) else getattr(node, "values", [])
        text = " ".join(p.value for p in parts if isinstance(p, ast.Constant))
        is_text = isinstance(node, (ast.Constant, ast.JoinedStr)) and isinstance(
            getattr(node, "value", ""), str
        )
        return is_text and bool(re.search(r"[A-Za-z]{2,}", text))

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "print":
            lines += [node.lineno for arg in node.args[:1] if is_words(arg)]
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args:
            lines += [node.lineno for arg in node.exc.args[:1] if is_words(arg)]
    return lines


@pytest.mark.parametrize("module", TRANSLATED_MODULES)
def test_a_converted_module_says_nothing_in_bare_english(module):
    tree = ast.parse((ROOT / module).read_text(encoding="utf-8"))
    assert bare_english(tree) == [], f"{module}: wrap these lines' text in _() or say()"


@pytest.mark.parametrize("name", TRANSLATED_NOTEBOOKS)
def test_a_converted_notebook_prints_its_sentences_with_say(name):
    nb = json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            found = bare_english(ast.parse("".join(cell["source"])))
            assert found == [], f"cell {cell['id']}: print English with say()"


# ----------------------------------------------------------------------------- at run time
def test_say_and_underscore_switch_language_in_a_running_process(monkeypatch, capsys):
    monkeypatch.setenv("LABKIT_LANG", "en")
    say("ready in {took:.3f} s", took=0.25)
    assert _("all is well") == "all is well"
    labkit.set_language("zh")
    say("ready in {took:.3f} s", took=0.25)
    assert _("all is well") == "一切正常"
    labkit.set_language("en")
    assert _("all is well") == "all is well"
    assert capsys.readouterr().out.splitlines() == ["ready in 0.250 s", "0.250 秒内就绪"]


def test_a_stale_or_missing_translation_is_said_in_english_and_an_edit_is_read_at_once(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(messages, "LOCALE_DIR", tmp_path)
    monkeypatch.setenv("LABKIT_LANG", "zh")
    po = polib.POFile()
    po.append(polib.POEntry(msgid="Run", msgstr="运行", flags=["fuzzy"]))
    po.save(str(tmp_path / "zh.po"))
    assert _("Run") == "Run" and _("Stop") == "Stop"
    time.sleep(0.01)  # a new modification time, which is what tells the cache to reread
    po[0].flags = []
    po.save(str(tmp_path / "zh.po"))
    os.utime(tmp_path / "zh.po", ns=(time.time_ns(), time.time_ns()))
    assert _("Run") == "运行"


@pytest.mark.parametrize(
    ("env", "folder", "expected"),
    [
        ({}, "work", "en"),
        ({}, "zh", "zh"),  # a notebook in notebooks/zh/
        ({"LANG": "zh_CN.UTF-8"}, "work", "zh"),
        ({"LC_ALL": "C", "LANG": "zh_CN.UTF-8"}, "work", "en"),  # LC_ALL decides first
        ({"LC_MESSAGES": "zh_CN.UTF-8", "LANG": "C.UTF-8"}, "work", "zh"),
        ({"LANG": "fr_FR.UTF-8"}, "work", "en"),  # a language the kit does not speak
        ({"LANG": "zh_CN.UTF-8"}, "en", "en"),  # the folder before the locale
        ({"LABKIT_LANG": "en"}, "zh", "en"),  # LABKIT_LANG before the folder
        ({"LABKIT_LANG": "zh-CN", "LANG": "C"}, "work", "zh"),
    ],
)
def test_the_language_comes_from_env_then_folder_then_locale(
    env, folder, expected, tmp_path, monkeypatch
):
    for name in ("LABKIT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / folder).mkdir()
    monkeypatch.chdir(tmp_path / folder)
    assert lang_module.language() == expected
    labkit.set_language("zh" if expected == "en" else "en")  # set_language beats them all
    assert lang_module.language() != expected
    with lang_module.speaking(expected):  # and a speaking() block beats set_language
        assert lang_module.language() == expected


def test_a_conclusion_is_recomputed_in_the_language_it_was_printed_in(tmp_path, monkeypatch):
    from labkit.infra import results
    from labkit.labs import conclusions

    monkeypatch.setattr(results, "results_path", lambda: tmp_path / "results.json")
    monkeypatch.setenv("LABKIT_LANG", "en")
    key = "04.conclusion.queue_is_the_sign"
    figures = {"peak_waiting": 4, "slowest_ms": 910.0, "hold_ms": 300}
    for lang, word in (("zh", "等待队列"), ("en", "wait queue")):
        with lang_module.speaking(lang):
            sentence = conclusions.queue_is_the_sign(**figures)
        assert word in sentence
        entry = results.load_results()[key]
        recorded = {k: v for k, v in entry.items() if k not in ("sentence", "recorded_at")}
        assert recorded["language"] == lang
        assert conclusions.REGISTRY[key](**recorded) == entry["sentence"] == sentence


def test_labkit_doctor_speaks_chinese_with_labkit_lang():
    env = {**os.environ, "LABKIT_LANG": "zh"}
    result = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "doctor", "--no-database"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert "语言" in result.stdout and "中文" in result.stdout, result.stdout
    assert "[ok ]" in result.stdout  # the marks stay as they are: scripts grep for [FIX]
    assert "一切正常" in result.stdout or "个问题" in result.stdout


def test_the_jupyterlab_interface_follows_labkit_lang_without_touching_user_settings(tmp_path):
    """A real JupyterLab, started as `make lab` starts it: its locale default is zh_CN."""
    from labkit.infra.ports import free_port
    from labkit.translation.lab import prepare, start_notebook

    assert prepare("en", home=tmp_path) is None
    config = prepare("zh", home=tmp_path)
    assert start_notebook("zh") == "notebooks/zh/00_start_here.ipynb"
    port, user_settings = free_port(), tmp_path / "user-settings"
    env = {
        **os.environ,
        "JUPYTER_CONFIG_PATH": str(config),
        "JUPYTERLAB_SETTINGS_DIR": str(user_settings),
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
         f"--port={port}", "--ServerApp.token=t", f"--ServerApp.root_dir={tmp_path}"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        import httpx

        url = f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/translation-extension:plugin"
        deadline = time.monotonic() + 90
        while True:
            try:
                reply = httpx.get(url, headers={"Authorization": "token t"}, timeout=5)
                if reply.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not answer"
            time.sleep(0.5)
        settings = reply.json()
        assert settings["schema"]["properties"]["locale"]["default"] == "zh_CN"
        assert settings["raw"] in ("{}", "")  # the learner's own settings: untouched
        packs = httpx.get(
            f"http://127.0.0.1:{port}/lab/api/translations/",
            headers={"Authorization": "token t"},
            timeout=5,
        ).json()["data"]
        assert "zh_CN" in packs  # jupyterlab-language-pack-zh-CN is installed
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert not user_settings.exists() or not any(user_settings.rglob("*.jupyterlab-settings"))


def test_make_lab_and_binder_start_set_the_interface_language():
    makefile = (ROOT / "Makefile").read_text()
    assert "labkit translate lab-config" in makefile and "--start-notebook" in makefile
    assert "labkit translate lab-config" in (ROOT / "start").read_text()


# ----------------------------------------------------------------------------- run for real
@pytest.mark.parametrize("name", TRANSLATED_NOTEBOOKS)
def test_a_chinese_notebook_runs_headless_and_prints_chinese(name, database, monkeypatch):
    """Its folder alone makes it speak Chinese: LABKIT_LANG and the locale say nothing.

    CI (.ci/run, as root) runs every Chinese notebook in the Binder simulation instead, as
    a Chinese learner on Binder would, with these same checks (tests/test_binder.py); there
    it sets LABKIT_ZH_NOTEBOOKS_IN_BINDER=1, so each runs once, and only 00 runs here too.
    """
    if os.environ.get("LABKIT_ZH_NOTEBOOKS_IN_BINDER") == "1" and name != "00_start_here":
        pytest.skip("run by the Binder simulation in this CI run (tests/test_binder.py)")
    for variable in ("LABKIT_LANG", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    path = ROOT / "notebooks" / "zh" / f"{name}.ipynb"
    since = datetime.now(timezone.utc).isoformat(timespec="seconds")
    nb = execute_notebook(path, monkeypatch)
    assert_nothing_left_behind(database)
    check_conclusions(path, nb, since)
    check_chinese_output(name, printed_text(nb))


def check_chinese_output(name: str, text: str) -> None:
    """What a run of ``notebooks/zh/<name>`` printed is Chinese: every sentence its code says
    on every run appears in Chinese, and none in English (tests/test_binder.py uses it too)."""
    english = ROOT / "notebooks" / f"{name}.ipynb"
    said = [s for code in _code_cells(english) for s in sentences_in(code, name)]
    assert said, "the notebook prints with say()"
    always = {s for code in _code_cells(english) for s in _said_unconditionally(code, name)}
    for sentence in said:
        chinese = _translate_zh(sentence)
        # the longest fixed part of each sentence (between placeholders), in both languages
        fixed = max(re.split(r"\{[^{}]*\}", chinese), key=len).strip()
        english_part = max(re.split(r"\{[^{}]*\}", sentence), key=len).strip()
        if sentence in always:  # said on every run: its Chinese was printed
            assert fixed in text, (sentence, fixed)
        assert english_part == fixed or english_part not in text, sentence  # never its English
    if name == "00_start_here":
        assert "一切正常" in text or "个问题" in text  # the environment report, in Chinese


def _said_unconditionally(code: str, where: str) -> list[str]:
    """The sentences a cell says whatever the data: not inside an if, a loop or a handler."""
    tree = ast.parse(code)
    branches = (ast.If, ast.IfExp, ast.For, ast.While, ast.Try, ast.Match, ast.comprehension)
    branches += (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)  # said only if called
    inside = {
        id(node)
        for branch in ast.walk(tree)
        if isinstance(branch, branches)
        for part in ast.iter_child_nodes(branch)
        if part is not getattr(branch, "test", None) and part is not getattr(branch, "iter", None)
        for node in ast.walk(part)
    }
    top = ast.Module(
        body=[n for n in ast.walk(tree) if isinstance(n, ast.Expr) and id(n) not in inside],
        type_ignores=[],
    )
    return sentences_in(ast.unparse(top), where) if top.body else []


def _code_cells(path: Path) -> list[str]:
    nb = json.loads(path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]


def _translate_zh(sentence: str) -> str:
    with lang_module.speaking("zh"):
        return _(sentence)


def test_every_markdown_cell_of_a_translated_notebook_has_its_translation_built():
    for name in TRANSLATED_NOTEBOOKS:
        english = ROOT / "notebooks" / f"{name}.ipynb"
        built = json.loads((ROOT / "notebooks" / "zh" / f"{name}.ipynb").read_text())
        sources = {c["id"]: "".join(c["source"]) for c in built["cells"]}
        for cell in markdown_cells(english):
            assert sources[cell.id] != cell.source, cell.id


def test_every_module_with_text_is_translated_or_english_for_a_reason():
    listed = set(TRANSLATED_MODULES)
    unaccounted = []
    for path in sorted((ROOT / "labkit").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        text = path.read_text(encoding="utf-8")
        speaks = re.search(r'(raise \w+\(\s*f?"|print\(\s*f?"|say\(|\b_\(")', text)
        english = any(
            name == key or (key.endswith("/") and name.startswith(key)) for key in ENGLISH_ONLY
        )
        if speaks and name not in listed and not english:
            unaccounted.append(name)
    assert unaccounted == []
