"""fedscore's layer over Flower's runtime, and the Flower commands its deployment runs.

fedscore runs its own executor and task runner beside Flower's SuperNode and SuperLink
(`deployment/flower_runtime.py`) and shortens two fixed waits of the SuperNode
(`deployment/supernode_process.py`). The Flower internals both rely on are checked in
`tests/test_flower_compat.py`; these tests check fedscore's side, and that Flower's
commands still take the options the deployment passes.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from fedscore.deployment import flower_runtime, supernode_process


def test_shorter_waits_shorten_only_those_two_sleeps(monkeypatch):
    slept: list[float] = []
    now = [1000.0]
    monkeypatch.setattr(supernode_process.time, "sleep", slept.append)
    monkeypatch.setattr(supernode_process.time, "monotonic", lambda: now[0])
    waits = supernode_process.ShorterWaits()
    for seconds in (3, 0.5, 3, 1.0):
        waits.sleep(seconds)
    now[0] += supernode_process.BUSY_WINDOW_SECONDS + 0.1  # idle a while: back to the slow poll
    waits.sleep(3)
    assert slept == [
        supernode_process.IDLE_POLL_SECONDS,  # no message handled yet
        supernode_process.REPLY_POLL_SECONDS,  # waiting for an app's reply: busy
        supernode_process.BUSY_IDLE_POLL_SECONDS,  # idle just after a message
        1.0,  # any other sleep is Flower's
        supernode_process.IDLE_POLL_SECONDS,
    ]
    assert waits.monotonic is supernode_process.time.monotonic


def test_the_runtime_api_pieces_fedscore_calls_exist():
    assert flower_runtime.CLIENT_APP_TASK == "flwr-clientapp"
    assert flower_runtime.SERVER_APP_TASK == "flwr-serverapp"
    for name in ("pull_client_task", "push_client_reply", "push_task_output", "acquire_task"):
        assert callable(getattr(flower_runtime, name))


@pytest.mark.slow  # starts Flower's commands
def test_flowers_commands_still_accept_process_isolation():
    for tool in ("flower-superlink", "flower-supernode"):
        shown = subprocess.run(
            [sys.executable, "-c", f"import sys; sys.argv=['{tool}','--help']; "
             f"from flwr.{'superlink' if 'link' in tool else 'supernode'}.cli import "
             f"{tool.replace('-', '_')} as main; main()"],
            capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert "--isolation" in shown.stdout, shown.stderr[-500:]
