"""Flower's SuperNode, with shorter waits: `python -m fedscore.deployment.supernode_process`.

Flower 1.42's SuperNode (`flwr/supernode/start_client_internal.py`) sleeps a fixed 3 s
after a pull from the SuperLink brought no message, and 0.5 s between checks for the
reply of the app process it handed a message to. One round is two to five exchanges
(train, evaluate, SecAgg+ stages), so those waits, not the work, set a deployed round's
pace. This launcher runs Flower's own `flower-supernode` command, unchanged but for those
two sleeps, which it shortens (`IDLE_POLL_SECONDS`, `REPLY_POLL_SECONDS`); every argument
is Flower's. The Flower internals it patches come from
`fedscore.core.flower_compat.supernode`; `tests/test_flower_compat.py` checks the sleeps
and globals it replaces are still the ones in Flower's source, so an upgrade that changes
them fails loudly.

It also shortens the wait for a message's objects the SuperLink does not hold yet (1 s
at first in Flower, see `fedscore.core.flower_compat.object_pulls`).

An idle node then asks the coordinator for work about 3 times a second instead of once
every 3 s (a few kilobytes per second over its one TLS connection), and 20 times a second
for a few seconds after each message it handled, so that a run's next round does not wait
for it.

It also announces a heartbeat interval of `HEARTBEAT_SECONDS` (Flower's smallest accepted,
instead of its default 30 s): the SuperLink then counts a node that died as offline after
20 s instead of a minute, so a restarted node is let in again that much sooner.
"""

from __future__ import annotations

import math
import sys
import time
from types import ModuleType

#: Seconds an idle SuperNode waits before asking the coordinator for a message again.
IDLE_POLL_SECONDS = 0.3
#: ... while it handled a message less than `BUSY_WINDOW_SECONDS` ago: in a run, the next
#: round's message follows the last reply within about a second.
BUSY_IDLE_POLL_SECONDS = 0.05
BUSY_WINDOW_SECONDS = 5.0
#: Seconds between two checks for the reply of the task it handed a message to.
REPLY_POLL_SECONDS = 0.05
#: Flower 1.42's fixed waits this launcher replaces, as `time.sleep` arguments.
FLOWER_IDLE_SLEEP = 3
FLOWER_REPLY_SLEEP = 0.5
#: Seconds between a node's heartbeats as it announces them to the SuperLink, which counts
#: the node offline after two missed intervals.
HEARTBEAT_SECONDS = 10


class ShorterWaits(ModuleType):
    """The `time` module as Flower's SuperNode loop sees it: its two fixed sleeps shortened.

    The idle wait is short while a run is under way (a message was handled within
    `BUSY_WINDOW_SECONDS`: Flower's loop waits for an app's reply only then) and longer
    once the node has been idle a while. Everything else is the real `time`.
    """

    def __init__(self) -> None:
        super().__init__("time")
        self.busy_at = -math.inf

    def __getattr__(self, name: str) -> object:
        return getattr(time, name)

    def sleep(self, seconds: float) -> None:
        if seconds == FLOWER_IDLE_SLEEP:
            busy = time.monotonic() - self.busy_at < BUSY_WINDOW_SECONDS
            seconds = BUSY_IDLE_POLL_SECONDS if busy else IDLE_POLL_SECONDS
        elif seconds == FLOWER_REPLY_SLEEP:
            self.busy_at = time.monotonic()
            seconds = REPLY_POLL_SECONDS
        time.sleep(seconds)


def main() -> None:
    """Run `flower-supernode` with the arguments given to this module."""
    # Imported here: the constants above are read by processes that never start a node.
    from fedscore.core.flower_compat import supernode
    from fedscore.core.flower_compat.object_pulls import shorten_pull_backoff
    from fedscore.deployment.task_runner import (
        OBJECT_PULL_BACKOFF_CAP_SECONDS,
        OBJECT_PULL_BACKOFF_SECONDS,
    )

    supernode.start_client_internal.time = ShorterWaits()  # type: ignore[attr-defined]
    shorten_pull_backoff(OBJECT_PULL_BACKOFF_SECONDS, OBJECT_PULL_BACKOFF_CAP_SECONDS)
    # The interval the node announces, and the one its heartbeat sender keeps to.
    supernode.fleet_http_connection.HEARTBEAT_DEFAULT_INTERVAL = HEARTBEAT_SECONDS  # type: ignore[attr-defined]
    supernode.heartbeat.HEARTBEAT_DEFAULT_INTERVAL = HEARTBEAT_SECONDS  # type: ignore[attr-defined]
    sys.argv[0] = "flower-supernode"
    supernode.flower_supernode()


if __name__ == "__main__":
    main()
