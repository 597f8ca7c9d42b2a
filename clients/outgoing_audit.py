"""An audit record of everything a node sends: each reply's wire objects, written to disk.

With `[audit] capture_outgoing = true` in its node config, a node writes every reply
it sends to the server — exactly the objects Flower transmits (the message, its
record dict, every record and array, each as the bytes Flower serializes it to) —
under `state_dir/outgoing/`. A compliance officer can then scan what left the
node; the test suite does so to prove that no personal information leaves.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable

from flwr.app import Context, Message
from flwr.clientapp.typing import ClientAppCallable, Mod
from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects

from fedscore.clients.node import NodeConfig
from fedscore.core import protocol


def outgoing_capture_mod(resolve_node: Callable[[Context], NodeConfig]) -> Mod:
    """A Flower mod writing each reply of a node whose config asks for it."""

    def capture(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
        reply = call_next(msg, context)
        node = resolve_node(context)
        if not node.capture_outgoing:
            return reply
        # Under secure aggregation only the stage in which the node trains carries the
        # round's config; the other three are filed by Flower's run id and the round
        # number SecAgg+ puts in the group id.
        config = msg.content.config_records.get(protocol.CONFIG, {})
        run_id = str(config.get(protocol.RUN_ID, f"flower-run-{msg.metadata.run_id}"))
        group = msg.metadata.group_id
        server_round = int(config.get(protocol.SERVER_ROUND, int(group) if group.isdigit() else 0))
        folder = (
            node.state_dir
            / "outgoing"
            / run_id
            / f"round-{server_round:04d}-{msg.metadata.message_type}-{uuid.uuid4().hex[:8]}"
        )
        folder.mkdir(parents=True, exist_ok=True)
        for object_id, item in get_all_nested_objects(reply).items():
            (folder / f"{type(item).__name__}-{object_id}.bin").write_bytes(item.deflate())
        return reply

    return capture
