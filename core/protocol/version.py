"""The protocol version: written into every message, checked when one is read.

A message without the version key comes from a node or server that predates it; its
format is version 1, the same keys and types.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Self

from flwr.app import ConfigRecord

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


class VersionedRecord:
    """A message part that travels as one ConfigRecord carrying the protocol version.

    `from_record` checks the version before anything else is read; a subclass decodes
    its own keys in `_decode`.
    """

    KIND: ClassVar[str]

    @classmethod
    def from_record(cls, record: ConfigRecord, kind: str | None = None) -> Self:
        """The value a record holds.

        Args:
            record: the record (the server's CONFIG, a node's PARTY record).
            kind: the message kind the record belongs to, for errors (None: `KIND`).

        Raises:
            MalformedMessage: a key is missing or of the wrong type.
            UnknownProtocolVersion: the record speaks another protocol version.
            ConfigError: what else the subclass's `_decode` checks (a round request's run
                id and settings).
        """
        kind = cls.KIND if kind is None else kind
        return cls._decode(record, kind, read_version(record, kind))

    @classmethod
    def _decode(cls, record: ConfigRecord, kind: str, version: int) -> Self:
        """The value of a record whose version `version` was checked."""
        raise NotImplementedError
