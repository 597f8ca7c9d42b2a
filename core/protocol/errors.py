"""Errors of decoding a message: they name the message kind and the key, never a value."""

from __future__ import annotations

from fedscore.core.errors import FedscoreError


class ProtocolError(FedscoreError):
    """A message between node and server that fedscore cannot read.

    Attributes:
        kind: the message kind ("train reply", "round request", …).
        key: the record or key at fault.
    """

    def __init__(self, kind: str, key: str, problem: str) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind}: '{key}' {problem}")


class MalformedMessage(ProtocolError):
    """A key or record is missing, or holds a value of the wrong type."""


class UnknownProtocolVersion(ProtocolError):
    """The message speaks a protocol version this fedscore does not."""
