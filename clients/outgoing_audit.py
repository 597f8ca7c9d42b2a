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

from flwr.app import ConfigRecord, Context, Message

from fedscore.clients.node import NodeConfig
from fedscore.core import protocol
from fedscore.core.flower_compat.clientapp import ClientAppCallable, Mod, get_all_nested_objects


def outgoing_capture_mod(resolve_node: Callable[[Context], NodeConfig]) -> Mod:
    """A Flower mod writing each reply of a node whose config asks for it.

    Args:
        resolve_node: the node's configuration for the context of a message.

    Returns:
        The mod, to put in the ClientApp's `mods`.
    """

    def capture(msg: Message, context: Context, call_next: ClientAppCallable) -> Message:
        reply = call_next(msg, context)
        node = resolve_node(context)
        if not node.capture_outgoing:
            return reply
        # Under secure aggregation only the stage in which the node trains carries the
        # round's config; the other three are filed by Flower's run id and the round
        # number SecAgg+ puts in the group id.
        config = msg.content.config_records.get(protocol.CONFIG, ConfigRecord())
        run_id = str(config.get(protocol.RUN_ID, f"flower-run-{msg.metadata.run_id}"))
        group = msg.metadata.group_id
        stated_round = config.get(protocol.SERVER_ROUND)
        server_round = (
            int(stated_round)
            if isinstance(stated_round, int | float | str)
            else int(group)
            if group.isdigit()
            else 0
        )
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
