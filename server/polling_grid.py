"""The ServerApp's grid, waiting for replies at a short interval.

Flower 1.42's deployed grid (`HttpGrid.send_and_receive`) sleeps 3 s between two pulls for
replies, whatever the round; its in-memory grid (simulation) 0.1 s. Every exchange of
fedscore's round loop (training, evaluation, the SecAgg+ stages) goes through
`PollingGrid`, which pushes the messages and then pulls with the same public calls
(`push_messages`, `pull_messages`) every `interval` seconds until every reply is in or
the round's deadline passes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flwr.app import Message, RecordDict
from flwr.serverapp import Grid

if TYPE_CHECKING:
    from fedscore.core.flower_compat.runtime import Run

#: Seconds between two pulls for replies.
DEFAULT_INTERVAL = 0.05


class PollingGrid(Grid):
    """`grid`, with replies pulled every `interval` seconds.

    Attributes:
        interval: seconds between two pulls for replies.
    """

    def __init__(self, grid: Grid, interval: float = DEFAULT_INTERVAL) -> None:
        """Wrap `grid`.

        Args:
            grid: the ServerApp's grid (deployment or simulation).
            interval: seconds between two pulls for replies.
        """
        self._grid = grid
        self.interval = interval

    def set_run(self, run: Run) -> None:
        self._grid.set_run(run)

    @property
    def run(self) -> Run:
        return self._grid.run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return self._grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        return self._grid.get_node_ids()

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self._grid.pull_messages(message_ids)

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        """Push `messages`, then pull their replies until all are in or `timeout` passed."""
        waiting = set(self.push_messages(messages))
        deadline = None if timeout is None else time.monotonic() + timeout
        replies: list[Message] = []
        while waiting:
            pulled = list(self.pull_messages(waiting))
            replies += pulled
            waiting -= {reply.metadata.reply_to_message_id for reply in pulled}
            if not waiting or (deadline is not None and time.monotonic() >= deadline):
                break
            time.sleep(self.interval)
        return replies
