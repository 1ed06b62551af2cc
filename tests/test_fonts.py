"""Chinese chart labels are drawn, not boxes (labkit/fonts.py)."""

from __future__ import annotations

import warnings

import pytest


def test_a_chinese_chart_label_has_every_glyph(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from labkit.fonts import cjk_font_files
    from labkit.plots import COLORS  # noqa: F401  (importing labkit.plots sets the fallback)

    if not cjk_font_files():
        pytest.skip("no CJK font on this system: apt-get install fonts-wqy-microhei (.ci/run does)")
    fig, ax = plt.subplots()
    ax.set(xlabel="时间（秒）", title="连接池（最大连接数 2）")
    with warnings.catch_warnings():
        # matplotlib warns "Glyph ... missing from font(s)" for every character it draws as a box
        warnings.filterwarnings("error", message="Glyph .* missing")
        fig.savefig(tmp_path / "chart.png")
    plt.close(fig)
