"""The coordinator's side of the packed wire form (`fedscore.core.protocol.packing`).

A deployed ServerApp sends every message packed (all its records in one Flower object
instead of one per record, array and chunk) and unpacks every reply before the round
loop reads it. Simulation passes messages in memory and does not use it.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from flwr.app import Message, RecordDict

from fedscore.core.protocol import ProtocolError
from fedscore.core.protocol.packing import pack_message, unpack_message
from fedscore.server.delegating_grid import DelegatingGrid


class PackingGrid(DelegatingGrid):
    """`grid`, its messages packed on the way out and their replies unpacked on the way in.

    The caller's messages keep their content (a wrapper may read it after the exchange);
    their ids are those of the packed messages sent, which the replies refer to. A reply
    whose packed content cannot be read is handed on with an empty content, which the
    round loop reports as that party's malformed reply.
    """

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        batch = list(messages)
        with _packed(batch):
            return list(self._grid.push_messages(batch))

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return _unpacked(self._grid.pull_messages(message_ids))

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        batch = list(messages)
        with _packed(batch):
            return _unpacked(self._grid.send_and_receive(batch, timeout=timeout))


@contextmanager
def _packed(batch: list[Message]) -> Iterator[None]:
    """`batch` packed in place while the block runs, then given its own content back."""
    contents = [message.content if message.has_content() else None for message in batch]
    for message in batch:
        pack_message(message)
    try:
        yield
    finally:
        for message, content in zip(batch, contents, strict=True):
            if content is not None:
                message.content = content


def _unpacked(replies: Iterable[Message]) -> list[Message]:
    batch = list(replies)
    for reply in batch:
        try:
            unpack_message(reply, "reply")
        except ProtocolError as error:
            print(f"node {reply.metadata.src_node_id}: {error}", file=sys.stderr, flush=True)
            reply.content = RecordDict()
    return batch
