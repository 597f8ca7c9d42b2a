"""Server → node messages of a round."""

from __future__ import annotations

from collections.abc import Iterable

from flwr.app import Message


def expiring(messages: Iterable[Message], seconds: float) -> list[Message]:
    """The messages, valid only while the server waits for their replies.

    A node that comes back after the round gave up on it must not train that round any
    more: its update would be discarded, yet its privacy budget spent.
    """
    kept = list(messages)
    for message in kept:
        message.metadata.ttl = float(seconds)
    return kept
