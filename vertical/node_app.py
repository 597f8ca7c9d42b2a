"""The vertical protocol's entry at a party's node: one Flower handler, every stage.

Each message is answered from what is on the node's disk (its config, its table, the
run's state folder), so a fresh process per message (deployment) behaves as a
long-lived one (simulation). Whatever fails becomes a `failed` reply naming the error's
kind and the party's own words, never a traceback or a value from the table.
"""

from __future__ import annotations

from collections.abc import Callable

from flwr.app import Context, Message
from flwr.clientapp import ClientApp

from fedscore.core.errors import describe_failure
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.vertical.messages import Outcome, StageReply, StageRequest
from fedscore.vertical.node_config import VerticalNodeConfig

#: How a node finds its vertical config (the SuperNode's node config, or the simulation's map).
VerticalResolver = Callable[[Context], VerticalNodeConfig]

#: The Flower action name of vertical messages (`query.vertical`).
ACTION = "vertical"


def answer_message(config: VerticalNodeConfig, message: Message) -> Message:
    """The node's reply to one vertical message (see `node_steps`)."""
    from fedscore.vertical.node.dispatch import answer

    try:
        request = StageRequest.from_record(message.content)
    except MalformedMessage as error:
        reply = StageReply(config.party, Outcome.FAILED, f"{config.party}: {error}")
        return Message(content=reply.to_record(), reply_to=message)
    try:
        reply = answer(config, request)
    except Exception as error:  # the node's boundary: fedscore's words or the error's kind
        reason = f"{config.party}: {describe_failure(error)}"
        reply = StageReply(config.party, Outcome.FAILED, reason)
    return Message(content=reply.to_record(), reply_to=message)


def add_vertical_handler(app: ClientApp, resolve: VerticalResolver) -> None:
    """Register the vertical handler (`query.vertical`) on `app`."""

    @app.query(ACTION)
    def vertical(message: Message, context: Context) -> Message:
        return answer_message(resolve(context), message)


def build_vertical_client_app(resolve: VerticalResolver) -> ClientApp:
    """A ClientApp that answers vertical messages only (simulation of a vertical pair)."""
    app = ClientApp()
    add_vertical_handler(app, resolve)
    return app
