"""How a node answers a message: its configuration, how it loads its data, its app release.

A node answers each message kind with a function of its `NodeContext` and the message's
content that returns its typed reply (`answer_training`, `answer_evaluation`,
`answer_readiness`). `RoundHandler` gives a round's answer the form the wire and the
tests call it in: the model and the instructions as Flower records in, the reply's
content out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from flwr.app import ArrayRecord, ConfigRecord, RecordDict

from fedscore.clients.data_cache import load_cached_party_data
from fedscore.clients.journal import StatementHook
from fedscore.clients.local_data import PartyDataLoader
from fedscore.clients.node import NodeConfig
from fedscore.clients.node_state import claim_state
from fedscore.core.protocol import ModelRequest

RequestT = TypeVar("RequestT", bound=ModelRequest)


@dataclass(frozen=True)
class NodeContext:
    """What a node answers a message with.

    Attributes:
        node: this node's configuration.
        load_data: how the node loads its de-identified, encoded table (by default
            through its on-disk cache).
        app_sha256: the app release the deployment's task runner verified (None in
            simulation).
        on_statement: a hook the node's journal calls with each SQL statement
            (`NodeJournal(on_statement=...)`; None: none).
    """

    node: NodeConfig
    load_data: PartyDataLoader = load_cached_party_data
    app_sha256: str | None = None
    on_statement: StatementHook | None = None


def claimed_request(
    context: NodeContext, content: RecordDict, request_type: type[RequestT]
) -> RequestT:
    """The request `content` holds, once the node's state folder is checked to be its party's.

    Raises:
        FedscoreError: a malformed request, or a state folder claimed by another party.
    """
    request = request_type.from_record(content)
    claim_state(context.node.state_dir, context.node.party)
    return request


class Reply(Protocol):
    """A node's typed reply."""

    def to_record(self) -> RecordDict:
        """The reply's content."""
        ...


class RoundHandler:
    """A typed handler of a model-carrying request, called with Flower records.

    Attributes:
        answer: the handler: the node's context and the message's content in, its reply out.
        request_type: the request kind the handler reads.
    """

    def __init__(
        self,
        answer: Callable[[NodeContext, RecordDict], Reply],
        request_type: type[ModelRequest],
    ) -> None:
        self.answer = answer
        self.request_type = request_type
        self.__doc__ = answer.__doc__

    def __call__(
        self,
        node: NodeConfig,
        arrays: ArrayRecord,
        config: ConfigRecord,
        load_data: PartyDataLoader = load_cached_party_data,
        app_sha256: str | None = None,
        on_statement: StatementHook | None = None,
    ) -> RecordDict:
        """The reply's content to the request of `arrays` and `config`.

        `arrays` is the global model and `config` the round's instructions; the content is what
        `NodeContext` of the other arguments answers.
        """
        context = NodeContext(node, load_data, app_sha256, on_statement)
        return self.answer(context, self.request_type.content(arrays, config)).to_record()
