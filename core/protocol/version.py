"""The protocol version: written into every message, checked when one is read.

A message without the version key comes from a node or server that predates it; its
format is version 1, the same keys and types.
"""

from __future__ import annotations

from collections.abc import Mapping

from fedscore.core.protocol.errors import MalformedMessage, UnknownProtocolVersion
from fedscore.core.protocol.records import PROTOCOL_VERSION_KEY

PROTOCOL_VERSION = 1
SUPPORTED_VERSIONS = frozenset({1})


def read_version(record: Mapping[str, object], kind: str) -> int:
    """The protocol version of a message's record.

    Args:
        record: the record carrying the version (the server's config, a node's party
            record).
        kind: the message kind, for errors.

    Returns:
        The version (1 when the record predates the version key).

    Raises:
        MalformedMessage: the version is not an integer.
        UnknownProtocolVersion: it is not one this fedscore speaks.
    """
    version = record.get(PROTOCOL_VERSION_KEY, 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise MalformedMessage(kind, PROTOCOL_VERSION_KEY, "must be an integer")
    if version not in SUPPORTED_VERSIONS:
        raise UnknownProtocolVersion(
            kind,
            PROTOCOL_VERSION_KEY,
            f"is {version}, not one this fedscore speaks ({sorted(SUPPORTED_VERSIONS)}): "
            "upgrade the older side",
        )
    return version
