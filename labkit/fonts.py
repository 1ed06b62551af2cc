"""Chinese characters in matplotlib's charts (axis labels and titles said through ``_()``).

matplotlib's default font, DejaVu Sans, has no Chinese glyphs: a Chinese label is drawn as
boxes, with a "Glyph missing" warning. Two things stand in the way even when the system has
a CJK font (``fonts-wqy-microhei``, which ``.ci/run`` installs): matplotlib does not scan
TrueType collections (``.ttc``, how Debian ships the CJK fonts), and it draws a glyph from a
second font only when ``font.family`` lists one. So :func:`use_cjk_fallback` registers the
system's CJK font files with matplotlib and appends their families to ``font.family``,
after the default: English text keeps its font, a Chinese glyph comes from the CJK one.
"""

from __future__ import annotations

import shutil
import subprocess

import matplotlib
from matplotlib import font_manager


def cjk_font_files() -> list[str]:
    """The system's font files with Chinese glyphs, as fontconfig lists them (none without it)."""
    if shutil.which("fc-list") is None:
        return []
    try:
        listed = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})


def use_cjk_fallback() -> list[str]:
    """Let charts draw Chinese with the system's CJK fonts; returns the families added."""
    families = []
    for path in cjk_font_files():
        try:
            font_manager.fontManager.addfont(path)
        except (OSError, RuntimeError, ValueError):
            continue  # an unreadable file: the others may serve
        families.extend(f.name for f in font_manager.fontManager.ttflist if f.fname == path)
    current = list(matplotlib.rcParams["font.family"])
    added = [name for name in dict.fromkeys(families) if name not in current]
    matplotlib.rcParams["font.family"] = current + added
    return added
