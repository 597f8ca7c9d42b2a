"""Chinese text renders as Chinese glyphs, not empty boxes: in report pages and in figures.

The run page (report.html) shows each party's de-identification label, 去标识化, in its
summary.json. In headless Chromium the label must be drawn with a CJK font: Chromium
names the font it used, and the label is as wide as four full-width glyphs, not as
wide as four missing-glyph boxes (U+FFFF, which no font has). Figures are drawn under
the shared matplotlib settings, which must find a CJK font for the same text.

`make fonts` installs the font (Debian's fonts-noto-cjk) these tests need.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
from matplotlib.font_manager import FontProperties, findfont

from fedscore.core.documents import write_text_atomic
from fedscore.core.figures import figure_rc, figure_style, save_figure
from fedscore.core.fonts import CSS_FONT_STACK
from fedscore.privacy.audit.html import render_html
from fedscore.privacy.audit.plots import plot_party_epsilon
from fedscore.privacy.deidentification.report import DEIDENTIFIED_LABEL
from fedscore.server.run_page import render_run_page

pytestmark = pytest.mark.slow  # a real browser

CHINESE = "去标识化"
#: A bank's display name: institutions' names are shown in figures, they are not personal.
DISPLAY_NAME = "城市商业银行"

#: How an element draws `label`: its rendered width on the page, and, drawn alone on a
#: canvas in the element's font, how wide each character is and which pixels it sets,
#: next to the same for U+FFFF (no font has a glyph for it: the missing-glyph box).
MEASURE_LABEL = """([element, label]) => {
    const text = element.firstChild;
    const at = text.data.indexOf(label);
    const range = document.createRange();
    range.setStart(text, at);
    range.setEnd(text, at + label.length);
    const style = getComputedStyle(element);
    const canvas = document.createElement("canvas");
    canvas.width = canvas.height = 64;
    const context = canvas.getContext("2d", {willReadFrequently: true});
    context.font = `48px ${style.fontFamily}`;
    const draw = (character) => {
        context.clearRect(0, 0, 64, 64);
        context.fillText(character, 4, 52);
        const alpha = context.getImageData(0, 0, 64, 64).data.filter((_, i) => i % 4 === 3);
        return {width: context.measureText(character).width, pixels: Array.from(alpha).join()};
    };
    return {
        rendered: range.getBoundingClientRect().width,
        fontSize: parseFloat(style.fontSize),
        glyphs: Array.from(label).map(draw),
        box: draw("\\uFFFF"),
    };
}"""


def _run_page(folder: Path) -> Path:
    """A run's report.html as the server writes it, one party's label in its summary."""
    summary = {
        "run_id": "cjk-run",
        "parties": {"city_bank": {"deidentification": {"label": DEIDENTIFIED_LABEL}}},
    }
    return write_text_atomic(folder / "report.html", render_run_page(summary, []))


def _platform_fonts(page: object, selector: str) -> list[dict]:
    """The fonts Chromium drew an element's text with (DevTools' "Rendered Fonts")."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


def test_the_deidentification_label_renders_as_chinese_glyphs(tmp_path, open_in_chromium):
    assert CHINESE in DEIDENTIFIED_LABEL
    with open_in_chromium(_run_page(tmp_path)) as (page, problems):
        drawn = page.evaluate(MEASURE_LABEL, [page.query_selector("pre"), CHINESE])
        fonts = _platform_fonts(page, "pre")
    widths = [glyph["width"] for glyph in drawn["glyphs"]]
    pixels = {glyph["pixels"] for glyph in drawn["glyphs"]}
    print(
        f"\n{CHINESE} on the page: {drawn['rendered']:.2f} px at {drawn['fontSize']} px; "
        f"on canvas at 48 px: {widths}, box {drawn['box']['width']}; "
        f"{len(pixels)} distinct pictures, box among them: {drawn['box']['pixels'] in pixels}; "
        f"fonts used: {fonts}"
    )
    # document.fonts.check() cannot tell: it is true for any installed or missing system
    # font, as nothing needs loading. Chromium names the fonts it drew with instead.
    cjk = [f for f in fonts if "CJK" in f["familyName"]]
    assert cjk, f"no CJK font drew the page's Chinese text (fonts used: {fonts}): make fonts"
    assert sum(f["glyphCount"] for f in cjk) >= len(CHINESE)
    # Each character is its own glyph, none the missing-glyph box (boxes all look alike).
    assert len(pixels) == len(CHINESE) and drawn["box"]["pixels"] not in pixels
    # Full-width glyphs: one em each.
    assert drawn["rendered"] == pytest.approx(len(CHINESE) * drawn["fontSize"], rel=0.05)
    assert widths == pytest.approx([48.0] * len(CHINESE), rel=0.05)
    assert problems == []


def test_every_page_names_cjk_fonts_before_the_generic_family(tmp_path):
    assert CSS_FONT_STACK.index('"Noto Sans CJK SC"') < CSS_FONT_STACK.index("sans-serif")
    assert CSS_FONT_STACK in render_run_page({"run_id": "r"}, [])
    fig, _ = plt.subplots(figsize=(1, 1))
    budget = save_figure(fig, tmp_path / "budget.png")
    document = {
        "title": "t",
        "generated_at": "now",
        "fedscore_version": "0",
        "semantics": "",
        "verification": {"ok": True, "key_list": None, "ledgers": {}, "runs": {}},
        "findings": [],
        "parties": {},
        "shared_customers": {"basis": "", "combinations": [], "worst_case": None},
        "runs": [],
    }
    assert CSS_FONT_STACK in render_html(document, budget, {})


def test_figures_find_a_font_with_chinese_glyphs(tmp_path):
    before = list(matplotlib.rcParams["font.sans-serif"])
    with figure_style():
        font = Path(findfont(FontProperties(family=["sans-serif"]), fallback_to_default=False))
    assert font.name.startswith("NotoSansCJK"), f"{font}: make fonts installs Noto Sans CJK"
    assert figure_rc()["font.sans-serif"][-1] == "DejaVu Sans"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" would raise
        with figure_style():
            fig, ax = plt.subplots(figsize=(4, 2))
            ax.set_title(DEIDENTIFIED_LABEL)
            save_figure(fig, tmp_path / "label.png")
        view = {"rounds": [], "display_name": DISPLAY_NAME}
        plot_party_epsilon("city_bank", view, tmp_path / "epsilon.png")
    assert (tmp_path / "epsilon.png").stat().st_size > 1000
    assert matplotlib.rcParams["font.sans-serif"] == before  # global settings untouched
