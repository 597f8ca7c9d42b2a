"""Which institution answered from which Flower node.

A Flower node id says nothing about whose node it is; a node's reply names its party.
Until a node has answered, it is recorded as "node-<id>" and renamed in every earlier
round once its name is known.
"""

from __future__ import annotations

from flwr.app import Message

from fedscore.core.protocol import reported_party
from fedscore.server.history import RunHistory, node_key


class PartyNames:
    """Maps Flower node ids to the institutions that answered from them."""

    def __init__(self) -> None:
        self.by_node: dict[int, str] = {}

    def learn(self, reply: Message) -> str:
        """The institution a reply names (remembered for its node), else the node's name."""
        party = None if reply.has_error() else reported_party(reply.content)
        if party is not None:
            self.by_node[reply.metadata.src_node_id] = party.name
            return party.name
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
