"""The deployed wire form of a message's content: every record in one Flower object.

Flower 1.42 sends a message as a tree of objects (the message, its RecordDict, each
record, each Array and its chunks), and every hop moves them one request at a time: the
SuperLink to the SuperNode, the SuperNode to the task process, and back again for the
reply, then to the ServerApp. A logistic-regression training request is 8 objects and
its reply 10 (an MLP's 16 and 18); on a deployed round each request costs 5–40 ms of
the gateway's, the SuperLink's and the SuperNode's time.

Packed, a content travels as one ConfigRecord holding the RecordDict serialized with
Flower's own `recorddict_to_proto`: 3 objects per message whatever the model, and the
same bytes (nothing compressed, nothing left out: what the outgoing-data audit sees is
what travels). A content larger than Flower's own array chunk (`PACKED_MAX_BYTES`)
travels as Flower sends it. The coordinator's deployed grid packs every request
(`server/packing_grid.py`); a node answers a packed request with a packed reply
(`clients/packed_transport.py`); simulation packs nothing.
"""

from __future__ import annotations

from flwr.app import ConfigRecord, Message, RecordDict
from google.protobuf.message import DecodeError

from fedscore.core.flower_compat.serialization import (
    FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE,
    ProtoRecordDict,
    recorddict_from_proto,
    recorddict_to_proto,
)
from fedscore.core.protocol.errors import MalformedMessage

#: The one record of a packed content, and its one key.
PACKED_RECORD = "fedscore.packed"
PACKED_KEY = "recorddict"

#: The largest serialized content sent packed: Flower's own largest object (an array
#: chunk, 5 MiB unless FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE says otherwise).
PACKED_MAX_BYTES = FLWR_PRIVATE_MAX_ARRAY_CHUNK_SIZE


def is_packed(content: RecordDict) -> bool:
    """Whether `content` is in the packed form (it has the packed record)."""
    return PACKED_RECORD in content.config_records


def pack(content: RecordDict) -> RecordDict:
    """`content` in the packed form (as it is when packed already, or too large)."""
    if is_packed(content):
        return content
    serialized = recorddict_to_proto(content).SerializeToString()
    if len(serialized) > PACKED_MAX_BYTES:
        return content
    return RecordDict({PACKED_RECORD: ConfigRecord({PACKED_KEY: serialized})})


def unpack(content: RecordDict, kind: str) -> RecordDict:
    """The records a packed `content` holds (`content` itself when it is not packed).

    Args:
        content: a message's content as it arrived.
        kind: what the message is, for errors (e.g. "round request").

    Raises:
        MalformedMessage: the packed record is not alone, holds other keys, or its
            bytes are not a serialized RecordDict (the message never says what they are).
    """
    if not is_packed(content):
        return content
    record = content.config_records[PACKED_RECORD]
    serialized = record.get(PACKED_KEY)
    if len(content) != 1 or set(record) != {PACKED_KEY} or not isinstance(serialized, bytes):
        raise MalformedMessage(kind, PACKED_RECORD, f"must be alone and hold only '{PACKED_KEY}'")
    try:
        return recorddict_from_proto(ProtoRecordDict.FromString(serialized))
    except (DecodeError, ValueError, TypeError) as error:
        raise MalformedMessage(kind, PACKED_RECORD, "is not a serialized RecordDict") from error


def pack_message(message: Message) -> None:
    """Pack `message`'s content in place (an error message has none to pack)."""
    if message.has_content():
        message.content = pack(message.content)


def unpack_message(message: Message, kind: str) -> None:
    """Unpack `message`'s content in place (see `unpack`).

    Raises:
        MalformedMessage: the packed content cannot be read; the message is unchanged.
    """
    if message.has_content():
        message.content = unpack(message.content, kind)
