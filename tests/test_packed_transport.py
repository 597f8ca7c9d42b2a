"""The deployed wire form: a content's records packed in one Flower object.

Packing is lossless (the unpacked content has the very object id of the original), cuts a
training request and its reply to 3 objects each, and a packed content that cannot be read
is refused naming the record, never its bytes: by the node before any handler runs, by
the coordinator before the round loop reads the reply. The deployed runs of
`test_deployment.py` travel packed end to end.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
from flwr.serverapp import Grid
from message_support import train_metadata

from fedscore.clients.packed_transport import packed_transport_mod
from fedscore.core.flower_compat.clientapp import get_all_nested_objects
from fedscore.core.protocol import (
    MalformedMessage,
    ModelRequest,
    PartyReport,
    RoundRequest,
    Status,
    TrainMetrics,
    TrainReply,
)
from fedscore.core.protocol.packing import (
    PACKED_KEY,
    PACKED_MAX_BYTES,
    PACKED_RECORD,
    is_packed,
    pack,
    unpack,
)
from fedscore.core.runconfig import RunConfig
from fedscore.server.delegating_grid import DelegatingGrid
from fedscore.server.packing_grid import PackingGrid

SECRET = b"110101199003077778"  # what a hostile payload carries; no message may quote it


def _model() -> ArrayRecord:
    return ArrayRecord(
        {
            "0.weight": Array(np.arange(78, dtype=np.float32).reshape(1, 78)),
            "0.bias": Array(np.zeros(1, dtype=np.float32)),
        }
    )


def _request() -> RecordDict:
    request = RoundRequest(RunConfig(), "run-a", 2, "0" * 64, "default_risk")
    return ModelRequest(_model(), request).to_record()


def _reply() -> RecordDict:
    metrics = TrainMetrics(num_examples=100, max_epsilon=3.0, epsilon_rdp=0.2, epsilon_prv=0.2)
    return TrainReply(PartyReport("city_bank", Status.TRAINED), metrics, _model()).to_record()


def _message(content: RecordDict, *, reply_to: str = "") -> Message:
    return Message(content, metadata=train_metadata(7, reply_to))


def _objects(content: RecordDict) -> int:
    return len(get_all_nested_objects(_message(content)))


@pytest.mark.parametrize("content", [_request(), _reply()], ids=["request", "reply"])
def test_packing_is_lossless_and_leaves_three_objects(content: RecordDict) -> None:
    packed = pack(content)
    assert is_packed(packed) and not is_packed(content)
    assert unpack(packed, "train request").object_id == content.object_id
    assert _objects(packed) == 3 < _objects(content)
    assert pack(packed) is packed  # packing twice changes nothing


def test_a_content_larger_than_flowers_array_chunk_travels_as_it_is() -> None:
    large = ArrayRecord({"w": Array(np.zeros(PACKED_MAX_BYTES // 4 + 1, dtype=np.float32))})
    content = ModelRequest.content(large, ConfigRecord({"a": 1}))
    assert pack(content) is content
    assert unpack(content, "train request") is content


@pytest.mark.parametrize(
    "hostile",
    [
        RecordDict({PACKED_RECORD: ConfigRecord({PACKED_KEY: SECRET})}),  # not a RecordDict
        RecordDict({PACKED_RECORD: ConfigRecord({PACKED_KEY: SECRET.decode()})}),  # not bytes
        RecordDict({PACKED_RECORD: ConfigRecord({PACKED_KEY: b"", "id": SECRET.decode()})}),
        RecordDict({PACKED_RECORD: ConfigRecord({PACKED_KEY: b""}), "party": ConfigRecord()}),
    ],
    ids=["garbage bytes", "text", "extra key", "extra record"],
)
def test_a_packed_content_that_cannot_be_read_is_refused_without_quoting_it(hostile) -> None:
    with pytest.raises(MalformedMessage) as raised:
        unpack(hostile, "train request")
    assert PACKED_RECORD in str(raised.value)
    assert SECRET.decode() not in str(raised.value)


def test_the_node_reads_a_packed_request_unpacked_and_answers_packed() -> None:
    seen: list[RecordDict] = []

    def handler(msg: Message, _context: Context) -> Message:
        seen.append(msg.content)
        return Message(_reply(), reply_to=msg)

    reply = packed_transport_mod(_message(pack(_request())), _context(), handler)
    assert seen[0].object_id == _request().object_id
    assert is_packed(reply.content)
    assert TrainReply.from_record(unpack(reply.content, "train reply")).party.name == "city_bank"


def test_an_unpacked_request_gets_an_unpacked_reply() -> None:
    def handler(msg: Message, _context: Context) -> Message:
        return Message(_reply(), reply_to=msg)

    reply = packed_transport_mod(_message(_request()), _context(), handler)
    assert not is_packed(reply.content)


def test_a_hostile_coordinators_unreadable_request_reaches_no_handler() -> None:
    def handler(_msg: Message, _context: Context) -> Message:
        raise AssertionError("the handler ran on an unreadable message")

    hostile = RecordDict({PACKED_RECORD: ConfigRecord({PACKED_KEY: SECRET})})
    reply = packed_transport_mod(_message(hostile), _context(), handler)
    assert reply.has_error()
    assert PACKED_RECORD in reply.error.reason
    assert SECRET.decode() not in reply.error.reason


class _Nodes(Grid):
    """Stands for the SuperLink in front of nodes: keeps what was pushed, replies with
    what each node's `answer` gives (a test double of the transport, not of fedscore)."""

    def __init__(self, answer) -> None:
        self.pushed: list[RecordDict] = []
        self.answer = answer

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        batch = list(messages)
        self.pushed += [message.content for message in batch]
        return [f"id-{index}" for index, _ in enumerate(batch)]

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [_message(self.answer(self.pushed[-1]), reply_to=i) for i in message_ids]

    def send_and_receive(self, messages, *, timeout=None):
        return self.pull_messages(list(self.push_messages(messages)))

    def set_run(self, run) -> None: ...
    def create_message(self, *args, **kwargs): ...
    def get_node_ids(self): ...
    @property
    def run(self): ...


def test_the_coordinator_sends_packed_and_keeps_its_own_messages_as_they_were() -> None:
    nodes = _Nodes(lambda request: pack(_reply()) if is_packed(request) else _reply())
    grid = PackingGrid(nodes)
    sent = [_message(_request()), _message(_request())]
    replies = list(DelegatingGrid(grid).send_and_receive(sent))
    assert all(is_packed(content) for content in nodes.pushed)
    assert [m.content.object_id for m in sent] == [_request().object_id] * 2
    assert all(TrainReply.from_record(r.content).party.status is Status.TRAINED for r in replies)
    ids = list(grid.push_messages([_message(_request())]))
    assert [r.content.object_id for r in grid.pull_messages(ids)] == [_reply().object_id]


def test_a_hostile_nodes_unreadable_reply_is_booked_as_malformed(capsys) -> None:
    hostile = RecordDict({PACKED_RECORD: ConfigRecord({PACKED_KEY: SECRET})})
    grid = PackingGrid(_Nodes(lambda _request: hostile))
    (reply,) = grid.send_and_receive([_message(_request())])
    with pytest.raises(MalformedMessage):
        TrainReply.from_record(reply.content)
    assert SECRET.decode() not in capsys.readouterr().err


def _context() -> Context:
    return Context(run_id=1, node_id=7, node_config={}, state=RecordDict(), run_config={})
