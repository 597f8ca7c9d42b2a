"""Plain text made safe to put into the generated Markdown pages."""

from __future__ import annotations

import html
import re


def markdown_text(text: str) -> str:
    """Plain text made safe for Markdown: HTML escaped, emphasis marks escaped outside code."""
    parts = text.split("`")
    for index in range(0, len(parts), 2):
        parts[index] = re.sub(r"([*_\[\]])", r"\\\1", html.escape(parts[index], quote=False))
    return "`".join(parts)
