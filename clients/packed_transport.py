"""The node's side of the packed wire form (`fedscore.core.protocol.packing`).

A deployed coordinator sends every request packed (all its records in one Flower
object); the node's handlers read it unpacked, and a packed request gets a packed reply.
A request that is not packed (simulation, or a content too large to pack) is answered
as it came. The mod sits between the outgoing-data audit and the handlers, so the
audit records the reply exactly as it travels.
"""

from __future__ import annotations

from flwr.app import Context, Error, Message

from fedscore.core.flower_compat.clientapp import ClientAppCallable
from fedscore.core.protocol import NODE_FAILED_CODE, ProtocolError
from fedscore.core.protocol.packing import is_packed, pack_message, unpack_message


def packed_transport_mod(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
    """Unpack a packed request in place for the handlers; pack their reply the same way.

    A packed request that cannot be read is answered with an error naming the record at
    fault (never its bytes); no handler sees it.
    """
    packed = msg.has_content() and is_packed(msg.content)
    if packed:
        try:
            unpack_message(msg, f"{msg.metadata.message_type} request")
        except ProtocolError as error:
            return Message(Error(code=NODE_FAILED_CODE, reason=str(error)), reply_to=msg)
    reply = call_next(msg, context)
    if packed:
        pack_message(reply)
    return reply
