"""The fonts fedscore's pages and figures ask for, so Chinese text renders as glyphs.

Reports show Chinese text (the de-identification label 去标识化, institutions' display
names): without a CJK font a browser or matplotlib draws empty boxes. Each stack names
the CJK fonts of the common systems before the generic fallback; on Debian,
`make fonts` installs Noto Sans CJK (package fonts-noto-cjk).
"""

from __future__ import annotations

#: CJK fonts with Simplified Chinese glyphs, in order of preference: Noto Sans CJK SC
#: (Debian's fonts-noto-cjk), its Adobe twin, then macOS's and Windows' own.
CJK_FONT_FAMILIES = ("Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei")

_CJK_CSS = [f'"{family}"' for family in CJK_FONT_FAMILIES]

#: The CSS `font-family` of every HTML page fedscore writes.
CSS_FONT_STACK = ", ".join(["system-ui", "-apple-system", '"Segoe UI"', *_CJK_CSS, "sans-serif"])

#: The CSS `font-family` of their code and preformatted text (JSON dumps hold Chinese).
CSS_MONO_FONT_STACK = ", ".join(
    ["ui-monospace", "Menlo", "Consolas", '"Noto Sans Mono CJK SC"', *_CJK_CSS, "monospace"]
)

#: matplotlib's default font: it has Latin and Greek (ε) glyphs but no CJK ones.
FIGURE_FALLBACK_FONT = "DejaVu Sans"
