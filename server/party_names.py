"""Which institution answered from which Flower node.

A Flower node id says nothing about whose node it is; a node's reply names its party.
Until a node has answered, it is recorded as "node-<id>" and renamed in every earlier
round once its name is known.
"""

from __future__ import annotations

from flwr.app import Message

from fedscore.core import protocol
from fedscore.server.history import RunHistory, node_key


class PartyNames:
    """Maps Flower node ids to the institutions that answered from them."""

    def __init__(self) -> None:
        self.by_node: dict[int, str] = {}

    def learn(self, reply: Message) -> str:
        if not reply.has_error() and protocol.PARTY in reply.content.config_records:
            name = str(reply.content.config_records[protocol.PARTY][protocol.PARTY_NAME])
            self.by_node[reply.metadata.src_node_id] = name
            return name
        return self.name(reply.metadata.src_node_id)

    def name(self, node_id: int) -> str:
        return self.by_node.get(node_id, _placeholder(node_id))

    def name_earlier_rounds(self, history: RunHistory) -> None:
        """Give every node known by name now that name in the rounds before it was known."""
        for node_id, party in self.by_node.items():
            history.rename_party(_placeholder(node_id), party)


def _placeholder(node_id: int) -> str:
    """How a node that has not told its institution's name is recorded."""
    return f"node-{node_key(node_id)}"
