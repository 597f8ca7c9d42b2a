"""Parsing JSON that another party (or a user's file) wrote: depth bounded, errors typed.

Python's parser recurses once per level: a document of a few hundred kilobytes of `[`
raises RecursionError, which is no ValueError, so a `except ValueError` around
`json.loads` lets it through and a hostile member's message stops the run that reads it
with a traceback. A document nested within the parser's reach but deeper than any
fedscore writes would be walked later by recursive code (writing a summary, canonical
JSON for a signature) and could fail there instead. Both are refused here, as the
ValueError `JsonTooDeep`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

#: The deepest nesting accepted. fedscore's own documents nest at most a handful of
#: levels (a ledger head's content: entry, authorization, request, parties).
MAX_DEPTH = 64


class JsonTooDeep(ValueError):
    """A JSON document nests arrays and objects deeper than `MAX_DEPTH` levels."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"is nested deeper than {limit} levels")


def parse_json(
    text: str | bytes,
    object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None,
    max_depth: int = MAX_DEPTH,
) -> Any:
    """The JSON value `text` holds, from a source that may be hostile.

    Args:
        text: the document (bytes are read as UTF-8).
        object_pairs_hook: as `json.loads`' (e.g. to refuse a key given twice).
        max_depth: the deepest nesting of arrays and objects accepted.

    Raises:
        json.JSONDecodeError: not JSON (a ValueError; UnicodeDecodeError for bytes that
            are not UTF-8).
        JsonTooDeep: nested deeper than `max_depth`.
    """
    try:
        value = json.loads(text, object_pairs_hook=object_pairs_hook)
    except RecursionError:
        raise JsonTooDeep(max_depth) from None
    if _deeper_than(value, max_depth):
        raise JsonTooDeep(max_depth)
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in `value` nest more than `limit` levels (no recursion)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children = list(item.values())
        elif isinstance(item, list | tuple):
            children = list(item)
        else:
            continue
        if depth > limit:
            return True
        pending.extend((child, depth + 1) for child in children)
    return False
