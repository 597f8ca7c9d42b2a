"""Whether a name from a file is safe to print: no control or invisible format characters.

Column and task names come from files other people wrote and end up in messages and logs;
a line break or an escape sequence in one could forge or hide a line there, and a
text-direction override could make a name read as another.
"""

from __future__ import annotations

import unicodedata


def has_control_characters(text: str) -> bool:
    """Whether `text` holds a control (Cc) or invisible format (Cf) character."""
    return any(unicodedata.category(character) in ("Cc", "Cf") for character in text)
