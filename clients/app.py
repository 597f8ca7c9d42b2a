"""The Flower ClientApp every institution runs next to its data.

The same handlers serve simulation and deployment; only how a node finds its
own configuration differs (`NodeResolver`): a deployed SuperNode names its node
config file in `--node-config`, a simulated node is mapped by its partition id
onto an entry of the federation manifest.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedscore.clients.federation import node_from_context
from fedscore.clients.local_data import CachedPartyData
from fedscore.clients.node import NodeConfig
from fedscore.clients.outgoing_audit import outgoing_capture_mod
from fedscore.clients.rounds import evaluate_round, train_round
from fedscore.core import protocol

NodeResolver = Callable[[Context], NodeConfig]


def build_client_app(resolve_node: NodeResolver = node_from_context) -> ClientApp:
    """A ClientApp whose nodes find their configuration with `resolve_node`."""
    client_app = ClientApp(mods=[outgoing_capture_mod(resolve_node)])
    load_data = CachedPartyData()

    @client_app.train()
    def train(msg: Message, context: Context) -> Message:
        torch.set_num_threads(1)
        content = train_round(
            resolve_node(context),
            msg.content[protocol.ARRAYS],
            msg.content[protocol.CONFIG],
            load_data,
        )
        return Message(content=content, reply_to=msg)

    @client_app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        torch.set_num_threads(1)
        content = evaluate_round(
            resolve_node(context),
            msg.content[protocol.ARRAYS],
            msg.content[protocol.CONFIG],
            load_data,
        )
        return Message(content=content, reply_to=msg)

    return client_app


app = build_client_app()
