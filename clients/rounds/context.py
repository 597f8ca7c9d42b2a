"""How a node answers a message: its configuration, how it loads its data, its app release.

`RoundHandler` gives a typed round handler the form the wire and the tests call it in:
the model and the instructions as Flower records in, the reply's content out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from flwr.app import ArrayRecord, ConfigRecord, RecordDict

from fedscore.clients.journal import StatementHook
from fedscore.clients.local_data import PartyDataLoader, load_party_data
from fedscore.clients.node import NodeConfig
from fedscore.core.protocol import ModelRequest


@dataclass(frozen=True)
class NodeContext:
    """What a node answers a message with.

    Attributes:
        node: this node's configuration.
        load_data: how the node loads its de-identified, encoded table.
        app_sha256: the app release the deployment's task runner verified (None in
            simulation).
        on_statement: a hook the node's journal calls with each SQL statement
            (`NodeJournal(on_statement=...)`; None: none).
    """

    node: NodeConfig
    load_data: PartyDataLoader = load_party_data
    app_sha256: str | None = None
    on_statement: StatementHook | None = None


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
        load_data: PartyDataLoader = load_party_data,
        app_sha256: str | None = None,
        on_statement: StatementHook | None = None,
    ) -> RecordDict:
        """The reply's content to the request of `arrays` and `config`.

        `arrays` is the global model and `config` the round's instructions; the content is what
        `NodeContext` of the other arguments answers.
        """
        context = NodeContext(node, load_data, app_sha256, on_statement)
        return self.answer(context, self.request_type.content(arrays, config)).to_record()
