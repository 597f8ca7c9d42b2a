"""Typed reading of a record's values; a problem names the message kind and the key."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fedscore.core.protocol.errors import MalformedMessage
from fedscore.core.untrusted_documents import JsonTooDeep, parse_json


def _value(record: Mapping[str, Any], key: str, kind: str, types: tuple[type, ...]) -> Any:
    """The value under `key`, checked to be one of `types` (never a bool for a number).

    Raises:
        MalformedMessage: the key is missing or its value is of another type.
    """
    if key not in record:
        raise MalformedMessage(kind, key, "is missing")
    value = record[key]
    if (isinstance(value, bool) and bool not in types) or not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types)
        raise MalformedMessage(kind, key, f"must be {names}, not {type(value).__name__}")
    return value


def text(record: Mapping[str, Any], key: str, kind: str, default: str | None = None) -> str:
    """A string value (`default` when absent, if given)."""
    if default is not None and key not in record:
        return default
    return str(_value(record, key, kind, (str,)))


def integer(record: Mapping[str, Any], key: str, kind: str) -> int:
    """An integer value."""
    return int(_value(record, key, kind, (int,)))


def number(record: Mapping[str, Any], key: str, kind: str) -> float:
    """A number, as a float."""
    return float(_value(record, key, kind, (int, float)))


def figure(record: Mapping[str, Any], key: str, kind: str) -> int | float:
    """A number as sent (an int stays an int)."""
    value: int | float = _value(record, key, kind, (int, float))
    return value


def optional_number(record: Mapping[str, Any], key: str, kind: str) -> float | None:
    """A number, or None when the key is absent."""
    return number(record, key, kind) if key in record else None


def optional_integer(record: Mapping[str, Any], key: str, kind: str) -> int | None:
    """An integer, or None when the key is absent."""
    return integer(record, key, kind) if key in record else None


def json_value(record: Mapping[str, Any], key: str, kind: str, types: tuple[type, ...]) -> Any:
    """The JSON text under `key`, parsed and checked to be one of `types`.

    Raises:
        MalformedMessage: missing, not text, not JSON, or JSON of another type.
    """
    try:
        value = parse_json(text(record, key, kind))
    except json.JSONDecodeError as error:
        raise MalformedMessage(kind, key, f"is not JSON ({error.msg})") from error
    except JsonTooDeep as error:
        raise MalformedMessage(kind, key, str(error)) from None
    if not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types)
        raise MalformedMessage(kind, key, f"must hold JSON {names}, not {type(value).__name__}")
    return value


def json_like(record: Mapping[str, Any], key: str, kind: str) -> dict[str, Any]:
    """A dictionary value (a JSON object already parsed)."""
    value: dict[str, Any] = _value(record, key, kind, (dict,))
    return value


def record_of(records: Mapping[str, Any], name: str, kind: str) -> Any:
    """The record `name` of a message.

    Raises:
        MalformedMessage: the message has no such record.
    """
    if name not in records:
        raise MalformedMessage(kind, name, "record is missing")
    return records[name]
