"""Parsing JSON and TOML that another party (or a user's file) wrote: depth bounded.

Python's JSON and TOML parsers recurse once per level: a document of a few hundred
kilobytes of `[` raises RecursionError, which is neither a ValueError nor a
`TOMLDecodeError`, so the handlers around a parse let it through, and a hostile
member's message or schema stops whatever reads it with a traceback. A document nested
within the parsers' reach but deeper than any fedscore writes would be walked later by
recursive code (validation, writing a summary, canonical JSON for a signature) and could
fail there instead. Both are refused here, as the parse error the caller already
handles: `JsonTooDeep` (a ValueError) for JSON, `tomllib.TOMLDecodeError` for TOML.
"""

from __future__ import annotations

import json
import tomllib
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


def parse_toml(text: str, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """The tables of the TOML document `text`, from a source that may be hostile.

    Args:
        text: the document.
        max_depth: the deepest nesting of tables and arrays accepted.

    Raises:
        tomllib.TOMLDecodeError: not TOML, or nested deeper than `max_depth`.
    """
    too_deep = f"the document is nested deeper than {max_depth} levels of tables and arrays"
    try:
        document = tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(too_deep) from None
    if _deeper_than(document, max_depth):
        raise tomllib.TOMLDecodeError(too_deep)
    return document


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
