"""Flower's SuperNode command, and the module globals fedscore's launcher replaces.

`deployment/supernode_process.py` runs Flower's own `flower-supernode` with shorter fixed
waits and heartbeat interval. Flower offers no setting for either, so the launcher
replaces module globals of the SuperNode before it starts:

- `flower_supernode` (`flwr.supernode.cli`): the `flower-supernode` command's entry
  point, run unchanged with the launcher's arguments.
- `start_client_internal` (module `flwr.supernode.start_client_internal`): the SuperNode's
  loop; the launcher replaces its `time` module global to shorten its fixed
  `time.sleep(3)` (idle pull) and `time.sleep(0.5)` (waiting for an app's reply).
- `fleet_http_connection` (module `flwr.supernode.fleet_http_connection`): its
  `HEARTBEAT_DEFAULT_INTERVAL` is the heartbeat interval the node announces.
- `heartbeat` (module `flwr.supercore.heartbeat`): its `HEARTBEAT_DEFAULT_INTERVAL` is the
  interval the node's heartbeat sender keeps to.
- `HEARTBEAT_MIN_INTERVAL` (`flwr.common.constant`): the smallest heartbeat interval the
  SuperLink accepts.
"""

from __future__ import annotations

from flwr.common.constant import HEARTBEAT_MIN_INTERVAL
from flwr.supercore import heartbeat
from flwr.supernode import fleet_http_connection, start_client_internal
from flwr.supernode.cli import flower_supernode

__all__ = [
    "HEARTBEAT_MIN_INTERVAL",
    "fleet_http_connection",
    "flower_supernode",
    "heartbeat",
    "start_client_internal",
]
