"""Asking a vertical node's real handler directly, as a relay would (test helper)."""

from __future__ import annotations

import time
from pathlib import Path

from flwr.app import Message, Metadata

from fedscore.vertical.messages import MESSAGE_TYPE, StageReply, StageRequest
from fedscore.vertical.node_app import answer_message
from fedscore.vertical.node_config import VerticalNodeConfig


def ask(config_path: Path, request: StageRequest) -> StageReply:
    """The node's reply to `request`, through `node_app.answer_message` (no Flower between)."""
    metadata = Metadata(
        run_id=1,
        message_id="relay",
        src_node_id=1,
        dst_node_id=2,
        reply_to_message_id="",
        group_id="1",
        created_at=time.time(),
        ttl=3600.0,
        message_type=MESSAGE_TYPE,
    )
    config = VerticalNodeConfig.from_toml(config_path)
    reply = answer_message(config, Message(request.to_record(), metadata=metadata))
    return StageReply.from_record(reply.content)
