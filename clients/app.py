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

import dataclasses
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

from flwr.app import Context, Message, MessageType, RecordDict
from flwr.clientapp import ClientApp

from fedscore.clients.federation import node_from_context
from fedscore.clients.node import VERIFIED_APP_KEY, NodeConfig
from fedscore.clients.outgoing_audit import outgoing_capture_mod
from fedscore.clients.packed_transport import packed_transport_mod
from fedscore.clients.secure_aggregation import secure_aggregation_mod
from fedscore.core.errors import ConfigError, FedscoreError, describe_failure
from fedscore.core.protocol import Status
from fedscore.vertical.node_app import add_vertical_handler
from fedscore.vertical.node_config import VerticalNodeConfig

if TYPE_CHECKING:
    from fedscore.clients.data_cache import PartyDataCache
    from fedscore.clients.local_data import PartyData
    from fedscore.clients.rounds.context import NodeContext, Reply
    from fedscore.core.schema import TaskSchema

NodeResolver = Callable[[Context], NodeConfig]
# A typed handler of `fedscore.clients.rounds`: the node's context and a message's content
# in, the typed reply out.
Answer = Callable[["NodeContext", RecordDict], "Reply"]


def build_client_app(resolve_node: NodeResolver = node_from_context) -> ClientApp:
    """A ClientApp whose nodes find their configuration with `resolve_node`."""
    # The capture sees what really leaves: the reply as packed for the wire and, under
    # secure aggregation, the masked update.
    client_app = ClientApp(
        mods=[outgoing_capture_mod(resolve_node), packed_transport_mod, secure_aggregation_mod]
    )
    party_data = _LazyPartyData()

    @client_app.train()
    @_failures_answered(resolve_node)
    def train(msg: Message, context: Context) -> Message:
        from fedscore.clients.rounds import answer_training

        return _answered(answer_training, msg, _node_context(context))

    @client_app.evaluate()
    @_failures_answered(resolve_node)
    def evaluate(msg: Message, context: Context) -> Message:
        from fedscore.clients.rounds import answer_evaluation

        return _answered(answer_evaluation, msg, _node_context(context))

    @client_app.query()
    @_failures_answered(resolve_node)
    def query(msg: Message, context: Context) -> Message:
        from fedscore.clients.rounds import answer_readiness

        return _answered(answer_readiness, msg, _node_context(context))

    # Vertical runs (`query.vertical`): the institution's vertical.toml, named in [vertical].
    add_vertical_handler(client_app, functools.partial(_vertical_config, resolve_node))

    def _node_context(context: Context) -> NodeContext:
        from fedscore.clients.rounds.context import NodeContext

        return NodeContext(resolve_node(context), party_data, verified_app(context))

    return client_app


def _answered(answer: Answer, msg: Message, context: NodeContext) -> Message:
    """The reply `answer` gives to `msg`; torch on one thread (a node trains one model)."""
    if msg.metadata.message_type != MessageType.QUERY:
        import torch

        torch.set_num_threads(1)
    return Message(content=answer(context, msg.content).to_record(), reply_to=msg)


Handler = Callable[[Message, Context], Message]


def _vertical_config(resolve_node: NodeResolver, context: Context) -> VerticalNodeConfig:
    """The vertical config the node's config names.

    Raises:
        ConfigError: the node takes no part in vertical runs (no `[vertical]` section).
    """
    node = resolve_node(context)
    if node.vertical_config is None:
        raise ConfigError(
            f"{node.party} takes part in no vertical runs: its config has no [vertical]"
        )
    config = VerticalNodeConfig.from_toml(node.vertical_config)
    return dataclasses.replace(config, verified_app=verified_app(context))


def _failures_answered(resolve_node: NodeResolver) -> Callable[[Handler], Handler]:
    """A handler that answers "failed" instead of raising: no traceback leaves the node.

    The answer names the error's type, never its text: the text may quote data.
    """

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def answering(msg: Message, context: Context) -> Message:
            try:
                return handler(msg, context)
            except Exception as error:  # the node's boundary: report, never leak
                from fedscore.clients.rounds.replies import not_trained

                reason = f"the node failed: {describe_failure(error)}"
                try:
                    content = not_trained(resolve_node(context), Status.FAILED, reason).to_record()
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
    """The node's data cache (`PartyDataCache`), created by the first round that needs it.

    The cache is on disk, in the node's state folder: it takes effect although a deployed
    node starts a fresh process, and Flower ships the ClientApp afresh, for every message.
    """

    def __init__(self) -> None:
        self._cache: PartyDataCache | None = None

    def __call__(self, node: NodeConfig, schema: TaskSchema) -> PartyData:
        if self._cache is None:
            from fedscore.clients.data_cache import PartyDataCache

            self._cache = PartyDataCache(remember=True)
        return self._cache(node, schema)


app = build_client_app()
