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

from flwr.app import Message
from flwr.serverapp import Grid

from fedscore.server.delegating_grid import DelegatingGrid

#: Seconds between two pulls for replies.
DEFAULT_INTERVAL = 0.02


class PollingGrid(DelegatingGrid):
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
        super().__init__(grid)
        self.interval = interval

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
