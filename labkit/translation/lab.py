"""JupyterLab's own interface (menus, dialogs) in the course's language, chosen per launch.

JupyterLab takes its interface language from the setting ``locale`` of
``@jupyterlab/translation-extension:plugin``, and the language pack
``jupyterlab-language-pack-zh-CN`` supplies the words. A learner who picks a language in
Settings → Language stores it in their own user settings, and that must keep winning. So
the kit never writes user settings: it changes the setting's *default*, through an
``overrides.d`` file in an application settings folder of its own, under labkit's home.

:func:`prepare` writes, for each launch:

- ``<home>/jupyterlab/<lang>/settings/``: a copy of the environment's application settings (page
  config, any overrides it has) plus ``overrides.d/labkit-language.json``;
- ``<home>/jupyterlab/<lang>/config/jupyter_lab_config.json``: points
  ``LabApp.app_settings_dir`` at that copy. (LabApp reads its own ``jupyter_lab_config``
  files; it ignores a ``LabApp`` section in ``jupyter_server_config.d``, as tried.)

and returns the ``config`` folder, for the launcher to put first in ``JUPYTER_CONFIG_PATH``
(``make lab`` and Binder's ``start`` do). The environment itself is never written to: on a
shared JupyterHub it belongs to every learner. In English it returns None: nothing to change.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import sys
from pathlib import Path

from labkit.language import DEFAULT, language

PLUGIN = "@jupyterlab/translation-extension:plugin"
# The kit's language -> JupyterLab's locale name (the language pack's)
LOCALES = {"zh": "zh_CN"}


def environment_settings_dir() -> Path:
    """The application settings folder JupyterLab would use: ``<app dir>/settings``."""
    return app_dir() / "settings"


def app_dir() -> Path:
    """JupyterLab's application folder, as ``jupyterlab.commands.get_app_dir()`` finds it.

    Binder's ``start`` runs this before the server, within its "well under a second"
    budget, and importing ``jupyterlab.commands`` alone takes 1.5 to 3 s. So the usual
    case is answered without it: ``JUPYTERLAB_DIR``, or JupyterLab installed in this
    environment with its app folder there (``<sys.prefix>/share/jupyter/lab``).
    Anything else (a user-site install, a relocated package) asks JupyterLab itself.
    """
    if os.environ.get("JUPYTERLAB_DIR"):
        return Path(os.environ["JUPYTERLAB_DIR"]).resolve()
    spec = importlib.util.find_spec("jupyterlab")  # locates the package, imports nothing
    prefix = Path(sys.prefix).resolve()
    candidate = prefix / "share" / "jupyter" / "lab"
    userbase = Path(site.getuserbase()).resolve()
    if spec is not None and spec.origin and candidate.is_dir():
        package = Path(spec.origin).resolve()
        if package.is_relative_to(prefix) and not package.is_relative_to(userbase):
            return candidate
    from jupyterlab.commands import get_app_dir

    return Path(get_app_dir())


def prepare(lang: str | None = None, home: Path | None = None) -> Path | None:
    """Write this launch's settings for ``lang`` (default: the language in force).

    Returns the folder to prepend to ``JUPYTER_CONFIG_PATH``, or None in English.
    """
    from labkit.infra.home import labkit_home

    lang = lang or language()
    if lang == DEFAULT:
        return None
    # One folder per language, rewritten at each launch and never deleted: a lab still
    # running in another language keeps reading its own.
    base = (home or labkit_home()) / "jupyterlab" / lang
    settings, config = base / "settings", base / "config"
    source = environment_settings_dir()
    if source.is_dir():
        shutil.copytree(source, settings, dirs_exist_ok=True)
    overrides = settings / "overrides.d"
    overrides.mkdir(parents=True, exist_ok=True)
    (overrides / "labkit-language.json").write_text(
        json.dumps({PLUGIN: {"locale": LOCALES[lang]}}, indent=1), encoding="utf-8"
    )
    config.mkdir(parents=True, exist_ok=True)
    (config / "jupyter_lab_config.json").write_text(
        json.dumps({"LabApp": {"app_settings_dir": str(settings)}}, indent=1), encoding="utf-8"
    )
    return config


def start_notebook(lang: str | None = None) -> str:
    """The notebook a launch opens on: ``notebooks/00_start_here.ipynb`` or its translation."""
    lang = lang or language()
    return (
        "notebooks/00_start_here.ipynb"
        if lang == DEFAULT
        else f"notebooks/{lang}/00_start_here.ipynb"
    )
