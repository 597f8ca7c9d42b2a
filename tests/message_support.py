"""Flower replies as the SuperLink hands them to the ServerApp (test helper, not product code)."""

from __future__ import annotations

import time

from flwr.app import Error, Message, MessageType, Metadata


def error_reply(reason: str | None, src_node_id: int, sent_to: int) -> Message:
    """An error reply to a TRAIN message sent to node `sent_to`, coming from `src_node_id`.

    The SuperLink itself answers from node id 1 for a node it considers gone.
    """
    metadata = train_metadata(src_node_id, reply_to=f"sent-to-{sent_to}")
    return Message(Error(code=5, reason=reason), metadata=metadata)


def train_metadata(src_node_id: int, reply_to: str = "") -> Metadata:
    """The metadata of a TRAIN message of run 1 from `src_node_id` (replying to `reply_to`)."""
    return Metadata(
        run_id=1,
        message_id="",
        src_node_id=src_node_id,
        dst_node_id=1,
        reply_to_message_id=reply_to,
        group_id="1",
        created_at=time.time(),
        ttl=3600.0,
        message_type=MessageType.TRAIN,
    )
