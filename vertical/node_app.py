"""The vertical protocol's entry at a party's node: one Flower handler, every stage.

Each message is answered from what is on the node's disk (its config, its table, the
run's state folder), so a fresh process per message (deployment) behaves as a
long-lived one (simulation). Whatever fails becomes a `failed` reply naming the error's
kind and the party's own words, never a traceback or a value from the table.
"""

from __future__ import annotations

import sys
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
    _forget_unfinished_runs(config, request, reply)
    return Message(content=reply.to_record(), reply_to=message)


def _forget_unfinished_runs(
    config: VerticalNodeConfig, request: StageRequest, reply: StageReply
) -> None:
    """Erase the secrets of a run this node stopped taking part in, and of expired runs.

    A stage after admission that this node failed or refused ends the run for it (the
    relay stops at the first such reply), so its channel key and PSI scalar go at once.
    """
    from datetime import UTC, datetime

    from fedscore.core.errors import FedscoreError
    from fedscore.vertical.messages import Stage
    from fedscore.vertical.node.run_folder import RunFolder, erase_expired_secrets

    try:
        if reply.outcome is not Outcome.DONE and request.stage is not Stage.ADMIT:
            folder = RunFolder(config, request.run_id)
            if folder.admitted:
                folder.erase_secrets()
        erase_expired_secrets(config, datetime.now(UTC))
    except FedscoreError:
        pass  # not a run of this node's (e.g. an unsafe run id): nothing of it to erase
    except OSError as error:
        print(f"{config.party}: could not erase a run's secrets: {error}", file=sys.stderr)


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
