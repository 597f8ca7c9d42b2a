"""The Flower 1.42 internals fedscore's deployment relies on are still where it uses them.

fedscore runs its own executor and task runner beside Flower's SuperNode and SuperLink
(`deployment/flower_runtime.py`) and shortens two fixed waits of the SuperNode
(`deployment/supernode_process.py`). These tests fail loudly when a Flower upgrade moves
or changes any of it, instead of a deployment failing at a bank.
"""

from __future__ import annotations

import inspect
import subprocess
import sys

import flwr
from flwr.supernode import start_client_internal

from fedscore.deployment import flower_runtime, supernode_process


def test_flower_is_the_version_fedscore_was_built_against():
    assert flwr.__version__ == "1.42.0"


def test_the_supernode_waits_fedscore_shortens_are_still_flowers():
    source = inspect.getsource(start_client_internal)
    assert source.count(f"time.sleep({supernode_process.FLOWER_IDLE_SLEEP})") == 1
    assert source.count(f"time.sleep({supernode_process.FLOWER_REPLY_SLEEP})") == 2
    assert start_client_internal.time.__name__ == "time"  # a module attribute we can replace


def test_the_heartbeat_interval_fedscore_announces_is_one_flower_accepts_and_keeps():
    from flwr.common import constant
    from flwr.supercore import heartbeat
    from flwr.supernode import fleet_http_connection

    assert constant.HEARTBEAT_MIN_INTERVAL <= supernode_process.HEARTBEAT_SECONDS
    # The two module globals the launcher replaces are still read where they are used.
    assert "HEARTBEAT_DEFAULT_INTERVAL" in inspect.getsource(fleet_http_connection)
    assert "next_interval: float = HEARTBEAT_DEFAULT_INTERVAL" in inspect.getsource(heartbeat)


def test_shorter_waits_shorten_only_those_two_sleeps(monkeypatch):
    slept: list[float] = []
    monkeypatch.setattr(supernode_process.time, "sleep", slept.append)
    waits = supernode_process.ShorterWaits()
    for seconds in (3, 0.5, 1.0):
        waits.sleep(seconds)
    assert slept == [supernode_process.IDLE_POLL_SECONDS, supernode_process.REPLY_POLL_SECONDS, 1.0]
    assert waits.monotonic is supernode_process.time.monotonic


def test_the_runtime_api_pieces_fedscore_calls_exist():
    assert flower_runtime.CLIENT_APP_TASK == "flwr-clientapp"
    assert flower_runtime.SERVER_APP_TASK == "flwr-serverapp"
    for name in ("pull_client_task", "push_client_reply", "push_task_output", "acquire_task"):
        assert callable(getattr(flower_runtime, name))


def test_flowers_commands_still_accept_process_isolation():
    for tool in ("flower-superlink", "flower-supernode"):
        shown = subprocess.run(
            [sys.executable, "-c", f"import sys; sys.argv=['{tool}','--help']; "
             f"from flwr.{'superlink' if 'link' in tool else 'supernode'}.cli import "
             f"{tool.replace('-', '_')} as main; main()"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert "--isolation" in shown.stdout, shown.stderr[-500:]
