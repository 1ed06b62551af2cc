"""The widgets in a real browser: JupyterLab headless, Debian's Chromium driven by Playwright.

What a learner does: open the exhaustion notebook, Run All, press the lab's button,
answer a quiz question. And what a learner needs: every label and option of every
notebook's widgets readable in full, in English and in Chinese. And once, the Chinese
learner's JupyterLab: launched with ``LABKIT_LANG=zh`` the way ``make lab`` does, its
menus in Chinese, a Chinese notebook run through them.

Chromium comes from Debian (``.ci/run`` installs it); Playwright only drives it,
by ``executable_path``. Never ``playwright install``: nothing is downloaded.
Screenshots go to ``artifacts/browser/`` (ignored by git).
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import nbformat
import pytest

from labkit.grading import checking
from labkit.grading.banks import bank_files, language, questions
from labkit.infra.ports import free_port

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
ARTIFACTS = ROOT / "artifacts" / "browser"

CHROMIUM = Path(os.environ.get("LABKIT_CHROMIUM", "/usr/bin/chromium"))
# Headless, and quiet: the machine's network is closed, so no background fetches.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
WIDTH = 1400  # the width at which the cut labels were seen
CJK = re.compile(r"[\u4e00-\u9fff]")  # a Chinese character
# JupyterLab's words run_all() clicks and reads, in each interface language: the Chinese
# are the language pack's (jupyterlab-language-pack-zh-CN, "menu" context for the menus).
LAB_WORDS = {
    "en": {"Run": "Run", "Run All Cells": "Run All Cells", "Idle": "Idle"},
    "zh": {"Run": "运行", "Run All Cells": "运行所有单元格", "Idle": "空闲"},
}
# The menu bar a Chinese learner must see: File, Edit, Run, Kernel.
ZH_MENUS = ["文件", "编辑", "运行", "内核"]
RUN_ALL_TIMEOUT_MS = int(os.environ.get("LABKIT_RUN_ALL_TIMEOUT_MS", 240_000))
# JupyterLab's own settings for the test server, instead of whatever the user has:
# no news toast over the page, the kernel starts without a dialog, and every cell is
# attached to the page (not only those in view) so every widget can be measured.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
    "@jupyterlab/notebook-extension/tracker": {
        "autoStartDefaultKernel": True,
        "windowingMode": "none",
    },
}


def _unavailable(reason: str) -> None:
    """Skip when the browser is missing on a developer's machine; fail in CI, which has it."""
    if os.environ.get("LABKIT_BROWSER_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


def cjk_font_installed() -> bool:
    """Whether fontconfig knows a font with Chinese glyphs (else Chromium draws boxes)."""
    if shutil.which("fc-list") is None:
        return False
    found = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    return bool(found.stdout.strip())


@dataclass
class Lab:
    """A running JupyterLab: its URL, token and the folder it serves."""

    url: str
    token: str
    root: Path

    def page_url(self, notebook: str) -> str:
        """JupyterLab with only ``notebook`` open: a workspace of its own, none restored."""
        workspace = Path(notebook).stem.replace("_", "-")
        return f"{self.url}/lab/workspaces/{workspace}/tree/{notebook}?token={self.token}"

    def notebook_content(self, notebook: str) -> nbformat.NotebookNode:
        """The notebook as the server last saved it."""
        response = httpx.get(f"{self.url}/api/contents/{notebook}", params={"token": self.token})
        response.raise_for_status()
        return nbformat.from_dict(response.json()["content"])

    def wait_for_idle_kernel(self, notebook: str, timeout: float = 60.0) -> None:
        """Until the server reports ``notebook``'s kernel started and idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            sessions = httpx.get(f"{self.url}/api/sessions", params={"token": self.token}).json()
            for session in sessions:
                if session["path"] == notebook and session["kernel"]["execution_state"] == "idle":
                    return
            time.sleep(0.2)
        raise AssertionError(f"no idle kernel for {notebook} after {timeout:.0f} s: {sessions}")


# ----------------------------------------------------------------------------
# The notebooks the browser opens
# ----------------------------------------------------------------------------


def code_sources(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [cell.source for cell in nb.cells if cell.cell_type == "code"]


def exhaustion_notebook() -> Path:
    """The notebook whose code calls ``exhaustion_lab_widget``: found by content, not name."""
    found = [p for p in NOTEBOOKS if any("exhaustion_lab_widget(" in s for s in code_sources(p))]
    assert len(found) == 1, f"expected one notebook with the exhaustion widget, found {found}"
    return found[0]


def widget_factories() -> set[str]:
    """The calls that put widgets on the page, as a notebook spells them: the quiz's
    and every function of labkit.widgets that returns a widget."""
    import labkit.widgets

    names = {"quiz.show_quiz", "quiz.show", "show_quiz"}
    for name in labkit.widgets.__all__:
        hint = inspect.signature(getattr(labkit.widgets, name)).return_annotation
        if "Widget" in str(hint):
            names |= {name, f"widgets.{name}"}
    return names


def widget_calls(path: Path) -> list[str]:
    """The statements of a notebook that show widgets, as written there."""
    factories = widget_factories()
    calls = []
    for source in code_sources(path):
        for node in ast.parse(source).body:
            if (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and ast.unparse(node.value.func) in factories
            ):
                calls.append(ast.get_source_segment(source, node))
    return calls


def quiz_bank_of(path: Path) -> str:
    """The bank a notebook's quiz cell shows: the argument of its ``show_quiz("NN")``."""
    for call in widget_calls(path):
        match = re.search(r"show_quiz\(\s*[\"'](\w+)[\"']", call)
        if match:
            return match.group(1)
    raise AssertionError(f"{path.name} has no quiz.show_quiz(...) cell")


def write_gallery(folder: Path, lang: str) -> tuple[str, list[str]]:
    """A notebook showing every notebook's widgets (nothing is run), in ``lang``.

    The widgets need no app until a button is pressed, so ``app = None`` serves.
    Returns the notebook's name and the calls it makes.
    """
    calls = [call for path in NOTEBOOKS for call in widget_calls(path)]
    setup = (
        "import os\n"
        f"os.environ['LABKIT_LANG'] = {lang!r}  # what the kernel would inherit\n"
        "import labkit\n"
        "from labkit import quiz, widgets\n"
        "from labkit.widgets import *\n"
        "app = None"
    )
    name = f"widgets_{lang}.ipynb"
    write_notebook(folder / name, [setup, *calls])
    return name, calls


def write_notebook(path: Path, sources: list[str]) -> None:
    """A notebook of these code cells, for the python3 kernel."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------
# JupyterLab and Chromium
# ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Path:
    if importlib.util.find_spec("playwright") is None:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
    if not CHROMIUM.exists():
        _unavailable(
            f"no Chromium at {CHROMIUM}: install Debian's with `apt-get install chromium` "
            "(.ci/run does), or point LABKIT_CHROMIUM at one"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def lab(database, tmp_path_factory) -> Iterator[Lab]:
    """JupyterLab on 127.0.0.1 with a token, serving copies of the notebooks.

    The kernels share the suite's LABKIT_HOME, so they use its embedded server.
    """
    base = tmp_path_factory.mktemp("jupyterlab")
    root = base / "notebooks"
    root.mkdir()
    # Copies, so that JupyterLab's autosave never writes outputs into the repository.
    shutil.copy(exhaustion_notebook(), root)
    yield from serve_lab(base, root, {})


def chinese_notebook() -> Path:
    """The Chinese notebook the Chinese interface is tried on: the exhaustion lab's once
    it is translated (the widgets a learner works with most), until then notebook 00."""
    translated = ROOT / "notebooks" / "zh" / exhaustion_notebook().name
    return translated if translated.exists() else ROOT / "notebooks" / "zh" / "00_start_here.ipynb"


@pytest.fixture(scope="module")
def lab_zh(database, tmp_path_factory) -> Iterator[Lab]:
    """The Chinese learner's JupyterLab, launched the way ``LABKIT_LANG=zh make lab`` does:
    ``labkit translate lab-config`` writes the interface default and prints the config
    folder that goes first in JUPYTER_CONFIG_PATH. It serves a copy of a Chinese notebook
    in ``zh/``, where a kernel speaks Chinese by its folder, as in ``notebooks/zh/``.
    Started only by the test that needs it (the one Chinese-interface run).
    """
    base = tmp_path_factory.mktemp("jupyterlab-zh")
    root = base / "notebooks"
    (root / "zh").mkdir(parents=True)
    shutil.copy(chinese_notebook(), root / "zh")
    env = {**os.environ, "LABKIT_LANG": "zh"}
    config = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "translate", "lab-config"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert config, "labkit translate lab-config printed no config folder in Chinese"
    previous = os.environ.get("JUPYTER_CONFIG_PATH")
    path = config + (f":{previous}" if previous else "")
    yield from serve_lab(base, root, {"LABKIT_LANG": "zh", "JUPYTER_CONFIG_PATH": path})


def serve_lab(base: Path, root: Path, extra_env: dict[str, str]) -> Iterator[Lab]:
    """Run JupyterLab on ``root`` with the test's own settings (``LAB_SETTINGS``) until
    the generator is closed; ``extra_env`` on top of this process's environment."""
    settings = base / "settings"
    for plugin, values in LAB_SETTINGS.items():
        target = settings / f"{plugin}.jupyterlab-settings"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    token, port = secrets.token_hex(16), free_port()
    command = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip=127.0.0.1",
        f"--port={port}",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
        f"--LabApp.user_settings_dir={settings}",
        f"--LabApp.workspaces_dir={base / 'workspaces'}",
    ]
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI runs as root; JupyterLab refuses without it
    env = {
        **os.environ,
        # This interpreter's kernel spec first, so the kernel imports this labkit.
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        **extra_env,
    }
    log = (base / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, (base / "jupyterlab.log").read_text()[-3000:]
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "JupyterLab did not answer within 60 s"
            time.sleep(0.2)
        yield Lab(url, token, root)
    finally:
        # The REST shutdown stops the kernels too (and the apps in them).
        try:
            httpx.post(f"{url}/api/shutdown", params={"token": token}, timeout=10)
            server.wait(timeout=30)
        except (httpx.TransportError, subprocess.TimeoutExpired):
            server.terminate()
            server.wait(timeout=10)
        log.close()


@pytest.fixture(scope="module")
def browser(chromium):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def say(pytestconfig):
    """Print past pytest's output capture (the durations and the screenshots' paths)."""
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")

    def say(line: str) -> None:
        with capture.global_and_fixture_disabled():
            print(line)

    return say


@pytest.fixture(scope="module")
def shots(say) -> Iterator[list[Path]]:
    """Screenshots taken by this module's tests; their paths are printed at the end."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    taken: list[Path] = []
    yield taken
    say("\nbrowser screenshots:")
    for path in taken:
        say(f"  {path}")


# ----------------------------------------------------------------------------
# What a learner does in the page
# ----------------------------------------------------------------------------


# Run All marks every code cell [*] at once, and a fresh kernel has numbered none:
# some numbered and none left [*] means Run All is over, whether every cell ran or
# one raised (the cells after it are then left unnumbered).
RUN_ALL_OVER_JS = """
() => {
    const prompts = [...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent);
    return prompts.some(p => /\\[\\d+\\]/.test(p)) && !prompts.some(p => p.includes('*'));
}
"""


def run_all(page, notebook: str, lab: Lab, interface: str = "en") -> None:
    """Open ``notebook``, Run > Run All Cells, wait until it is over; fail on any error.

    ``interface`` is JupyterLab's language: the menus are clicked by their words in it.
    """
    words = LAB_WORDS[interface]
    page.goto(lab.page_url(notebook))
    # The page's kernel indicator reads "idle" before the kernel has even started,
    # and a Run All then does nothing: ask the server, then the status bar.
    lab.wait_for_idle_kernel(notebook)
    page.locator(".jp-StatusBar-Widget", has_text=f"| {words['Idle']}").first.wait_for(
        timeout=30_000
    )
    page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook is the current one
    page.locator(".lm-MenuBar-item", has_text=words["Run"]).first.click()
    page.get_by_role("menuitem", name=words["Run All Cells"], exact=True).click()
    try:
        page.wait_for_function(RUN_ALL_OVER_JS, timeout=RUN_ALL_TIMEOUT_MS)
    except Exception:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"run-all-timed-out-{Path(notebook).stem}.png"))
        raise
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    # Errors as the notebook file records them (output_type "error", what nbclient
    # checks): in the page a logged traceback on stderr looks just like one.
    page.keyboard.press("Control+s")
    page.wait_for_function("() => !document.querySelector('.lm-TabBar-tab.jp-mod-dirty')")
    saved = lab.notebook_content(notebook)
    unrun = [
        i for i, c in enumerate(saved.cells) if c.cell_type == "code" and not c.execution_count
    ]
    errors = [
        f"{output.ename}: {output.evalue}"
        for cell in saved.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "error"
    ]
    assert not unrun and not errors, (
        f"code cells not run (index in the notebook): {unrun}; errors: {errors}"
    )


# Every element in a widget that shows text of its own (a label, an option, a button,
# a title) and is cut: its text is wider than its box, the "…" case.
CUT_TEXT_JS = """
() => [...document.querySelectorAll('.jupyter-widgets *')].filter(el => {
    const ownText = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
    if (!ownText && !['LABEL', 'BUTTON'].includes(el.tagName)) return false;
    if (el.clientWidth === 0) return false;
    return el.scrollWidth > el.clientWidth + 1;
}).map(el => `${el.className || el.tagName}: "${el.textContent.trim()}" ` +
             `(${el.scrollWidth} px of text in ${el.clientWidth} px)`)
"""


def cut_texts(page) -> list[str]:
    return page.evaluate(CUT_TEXT_JS)


def shoot(target, name: str, shots: list[Path]) -> None:
    """Screenshot ``target`` (a page or an element) once the page has painted twice more."""
    page = getattr(target, "page", target)
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    path = ARTIFACTS / f"{name}.png"
    target.screenshot(path=str(path))
    shots.append(path)


# ----------------------------------------------------------------------------
# The tests
# ----------------------------------------------------------------------------


def test_the_exhaustion_notebook_runs_and_its_widgets_respond(lab, browser, shots, say):
    started = time.perf_counter()
    notebook = exhaustion_notebook()
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    try:
        run_all(page, notebook.name, lab)
        ran_s = time.perf_counter() - started

        # The lab: its button runs a burst and draws the chart and the summary.
        lab_cell = page.locator(".jp-CodeCell").filter(
            has=page.get_by_role("button", name="Run burst")
        )
        lab_cell.scroll_into_view_if_needed()
        shoot(lab_cell, "exhaustion-after-run-all", shots)
        output = lab_cell.locator(".widget-output")
        button = lab_cell.get_by_role("button", name="Run burst")
        button.click()
        summary = output.get_by_text(re.compile(r"peak waiting \d+"))
        summary.wait_for(timeout=30_000)
        expect_enabled(button)
        chart = output.locator("img")
        assert chart.count() == 1
        assert chart_drawn(chart)
        waiting = int(re.search(r"peak waiting (\d+)", summary.inner_text()).group(1))
        assert waiting > 0, summary.inner_text()
        first_chart = chart.get_attribute("src")
        shoot(lab_cell, "exhaustion-first-burst", shots)

        # One more connection (the maxsize slider, by keyboard), run again: it redraws.
        maxsize = lab_cell.locator(".widget-slider").first
        before = int(maxsize.locator(".widget-readout").inner_text())
        maxsize.locator(".noUi-handle").focus()
        page.keyboard.press("ArrowRight")
        page.wait_for_function(
            "([el, want]) => el.textContent.trim() === want",
            arg=[maxsize.locator(".widget-readout").element_handle(), str(before + 1)],
        )
        button.click()
        output.get_by_text(f"maxsize={before + 1},").wait_for(timeout=30_000)
        expect_enabled(button)
        assert chart.get_attribute("src") != first_chart, "the chart was not redrawn"
        assert chart_drawn(chart)
        shoot(lab_cell, "exhaustion-second-burst", shots)

        # The quiz: choose the right answer to the first single-choice question, Check.
        bank = quiz_bank_of(notebook)
        item = next(q for q in questions(bank) if q["type"] == "single")
        # the self-check bank's own hashes say which letter is right (no key in the repo)
        qid = item["id"]
        letter = next(o for o in item["options"] if checking.grade(item, o).correct)
        question = page.locator(
            ".widget-vbox",
            has=page.locator(f"xpath=./div[contains(@class, 'widget-html')][contains(., '{qid}')]"),
        )
        option = f"{letter}. {item['options'][letter][language()]}"
        question.get_by_text(option, exact=True).click()
        question.get_by_role("button", name="Check").click()
        feedback = question.locator(".widget-output").get_by_text(qid)
        feedback.wait_for(timeout=10_000)
        assert "✔" in feedback.inner_text(), feedback.inner_text()
        question.scroll_into_view_if_needed()
        shoot(question, "exhaustion-quiz-feedback", shots)

        cut = cut_texts(page)
        assert not cut, "text cut short in a widget:\n" + "\n".join(cut)
    finally:
        page.close()
    say(
        f"\n{notebook.name} in Chromium: Run All {ran_s:.1f} s, "
        f"whole test {time.perf_counter() - started:.1f} s"
    )


def chart_drawn(chart) -> bool:
    """The chart's image decoded to real pixels and shown whole, within its output area."""
    return chart.evaluate(
        """img => img.decode().then(() =>
            img.naturalWidth > 0 &&
            img.getBoundingClientRect().right <= img.parentElement.getBoundingClientRect().right)"""
    )


def expect_enabled(button) -> None:
    """Wait for a lab's button to come back: it is disabled while the lab runs."""
    button.page.wait_for_function("b => !b.disabled", arg=button.element_handle(), timeout=30_000)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_no_widget_text_is_cut(request, browser, shots, lang):
    """Every label, option and button of every notebook's widgets shows in full.

    In Chinese, in the Chinese learner's JupyterLab (``lab_zh``), after a Chinese notebook
    has run there: one server and one page for both, which costs the suite one Run All
    of that notebook and one server start, not a whole run of its own.
    """
    if lang == "zh" and not cjk_font_installed():
        _unavailable(
            "no Chinese font, so Chinese text cannot be measured: apt-get install "
            "fonts-wqy-microhei (.ci/run does)"
        )
    lab = request.getfixturevalue("lab" if lang == "en" else "lab_zh")
    if lang == "zh":
        chinese_interface_runs_a_chinese_notebook(lab, browser, shots)
    name, calls = write_gallery(lab.root, lang)
    assert any("exhaustion_lab_widget(" in c for c in calls), calls
    assert {quiz_bank_of(p) for p in NOTEBOOKS} == set(bank_files())
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    try:
        run_all(page, name, lab, interface=lang)
        # Every option of every bank is on the page, in this language: all rendered.
        page_text = page.locator(".jp-Notebook").inner_text()
        missing = [
            f"{item['id']} {key}. {option[lang]}"
            for bank in bank_files()
            for item in questions(bank)
            for key, option in item.get("options", {}).items()
            if f"{key}. {option[lang]}" not in page_text
        ]
        assert missing == []
        # As tall as the notebook, so that the screenshot shows every widget.
        height = page.locator(".jp-WindowedPanel-inner").evaluate("el => el.scrollHeight")
        page.set_viewport_size({"width": WIDTH, "height": height + 150})
        shoot(page, f"widgets-{lang}", shots)
        cut = cut_texts(page)
        assert not cut, "text cut short in a widget:\n" + "\n".join(cut)
    finally:
        page.close()


def chinese_interface_runs_a_chinese_notebook(lab: Lab, browser, shots: list[Path]) -> None:
    """A Chinese notebook, Run All through the Chinese menus: the menu bar, the widgets'
    labels and what the cells print are all Chinese, and no cell fails."""
    notebook = f"zh/{chinese_notebook().name}"
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    try:
        run_all(page, notebook, lab, interface="zh")
        menus = page.locator(".lm-MenuBar-item").all_inner_texts()
        assert [m for m in ZH_MENUS if m not in menus] == [], f"the menu bar reads {menus}"
        # What the cells printed (their outputs but the widgets), and the widgets' text.
        printed = "\n".join(
            page.locator(".jp-OutputArea-output:not(:has(.jupyter-widgets))").all_inner_texts()
        )
        assert CJK.search(printed), f"{notebook} printed no Chinese:\n{printed}"
        labels = "\n".join(page.locator(".jupyter-widgets").all_inner_texts())
        assert CJK.search(labels), f"{notebook}'s widgets show no Chinese:\n{labels}"
        cut = cut_texts(page)
        assert not cut, "text cut short in a widget:\n" + "\n".join(cut)
        page.locator(".jp-Notebook .jp-Cell").first.scroll_into_view_if_needed()
        shoot(page, f"chinese-interface-{Path(notebook).stem}", shots)
    finally:
        page.close()


def test_the_apps_docs_load_through_the_jupyter_proxy(lab, browser, shots):
    """/docs through jupyter-server-proxy: the operations are listed.

    Behind a path prefix FastAPI's docs page fetches /openapi.json from the server
    root and fails ("Failed to load API definition") unless the app knows the prefix
    as its ``root_path``. Runs once jupyter-server-proxy is installed and the app
    has ``proxy_url``: its full URL through the Jupyter server (an assumption about
    the hosted-session work's helper; adapt the name when it lands).
    """
    from labkit.infra.runner import BackgroundApp

    if importlib.util.find_spec("jupyter_server_proxy") is None:
        pytest.skip("jupyter-server-proxy is not installed (the hosted-session work adds it)")
    if not hasattr(BackgroundApp, "proxy_url"):
        pytest.skip("the app has no proxy URL helper yet (BackgroundApp.proxy_url)")
    write_notebook(
        lab.root / "proxy.ipynb",
        ["import labkit\napp = labkit.start_app()\nprint('PROXY', app.proxy_url)"],
    )
    page = browser.new_page(viewport={"width": WIDTH, "height": 1000})
    try:
        run_all(page, "proxy.ipynb", lab)
        printed = page.get_by_text(re.compile(r"^PROXY ")).inner_text()
        docs = printed.split(maxsplit=1)[1].strip().rstrip("/") + "/docs"  # inner_text ends in "\n"
        page.goto(docs)
        page.locator(".opblock-summary-path", has_text="/pool-status").first.wait_for()
        assert page.get_by_text("Failed to load API definition").count() == 0
        shoot(page, "app-docs-through-proxy", shots)
    finally:
        page.close()
