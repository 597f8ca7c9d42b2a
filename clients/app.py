"""The Flower ClientApp every institution runs next to its data.

The same handlers serve simulation and deployment; only how a node finds its
own configuration differs (`NodeResolver`): a deployed SuperNode names its node
config file in `--node-config`, a simulated node is mapped by its partition id
onto an entry of the federation manifest.

A deployed SuperNode starts a fresh process for every message, and under secure
aggregation three of a round's four training requests are protocol steps that need
no model: torch, Opacus and the data pipeline are imported only by the handlers that
train or evaluate, which keeps those steps to a fraction of a second.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from flwr.app import Context, Message, RecordDict
from flwr.clientapp import ClientApp

from fedscore.clients.federation import node_from_context
from fedscore.clients.node import VERIFIED_APP_KEY, NodeConfig
from fedscore.clients.outgoing_audit import outgoing_capture_mod
from fedscore.clients.secure_aggregation import secure_aggregation_mod
from fedscore.core import protocol
from fedscore.core.errors import FedscoreError, describe_failure

if TYPE_CHECKING:
    from fedscore.clients.local_data import CachedPartyData, PartyData
    from fedscore.core.schema import TaskSchema

NodeResolver = Callable[[Context], NodeConfig]


def build_client_app(resolve_node: NodeResolver = node_from_context) -> ClientApp:
    """A ClientApp whose nodes find their configuration with `resolve_node`."""
    # The capture sees what really leaves: under secure aggregation, the masked update.
    client_app = ClientApp(mods=[outgoing_capture_mod(resolve_node), secure_aggregation_mod])
    party_data = _LazyPartyData()

    @client_app.train()
    @_failures_answered(resolve_node)
    def train(msg: Message, context: Context) -> Message:
        import torch

        from fedscore.clients.rounds import train_round

        torch.set_num_threads(1)
        content = train_round(
            resolve_node(context),
            msg.content[protocol.ARRAYS],
            msg.content[protocol.CONFIG],
            party_data,
            verified_app(context),
        )
        return Message(content=content, reply_to=msg)

    @client_app.evaluate()
    @_failures_answered(resolve_node)
    def evaluate(msg: Message, context: Context) -> Message:
        import torch

        from fedscore.clients.rounds import evaluate_round

        torch.set_num_threads(1)
        content = evaluate_round(
            resolve_node(context),
            msg.content[protocol.ARRAYS],
            msg.content[protocol.CONFIG],
            party_data,
            verified_app(context),
        )
        return Message(content=content, reply_to=msg)

    @client_app.query()
    @_failures_answered(resolve_node)
    def query(msg: Message, context: Context) -> Message:
        from fedscore.clients.rounds import check_readiness, readiness_reply

        node = resolve_node(context)
        readiness = check_readiness(
            node, msg.content[protocol.CONFIG], party_data, verified_app(context)
        )
        return Message(content=readiness_reply(node, readiness), reply_to=msg)

    return client_app


Handler = Callable[[Message, Context], Message]


def _failures_answered(resolve_node: NodeResolver) -> Callable[[Handler], Handler]:
    """A handler that answers "failed" (naming the error's type, never its text: it may
    quote data) instead of raising, so no traceback ever leaves the node as a reason."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def answering(msg: Message, context: Context) -> Message:
            try:
                return handler(msg, context)
            except Exception as error:  # the node's boundary: report, never leak
                from fedscore.clients.rounds.replies import not_trained

                reason = f"the node failed: {describe_failure(error)}"
                try:
                    content = not_trained(resolve_node(context), protocol.FAILED, reason)
                except FedscoreError:
                    content = RecordDict({})
                return Message(content=content, reply_to=msg)

        return answering

    return decorate


def verified_app(context: Context) -> str | None:
    """The app release fedscore's task runner verified for this task (None in simulation)."""
    value = context.node_config.get(VERIFIED_APP_KEY)
    return str(value) if value else None


class _LazyPartyData:
    """The node's data cache (`CachedPartyData`), created by the first round that needs it."""

    def __init__(self) -> None:
        self._cache: CachedPartyData | None = None

    def __call__(self, node: NodeConfig, schema: TaskSchema) -> PartyData:
        if self._cache is None:
            from fedscore.clients.local_data import CachedPartyData

            self._cache = CachedPartyData()
        return self._cache(node, schema)


app = build_client_app()
