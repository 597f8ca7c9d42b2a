"""One task of a deployed party: check the app, then run the *installed* fedscore app.

fedscore's executor (`deployment/executor.py`) runs `run_task` in a fresh process for
every task the party's Flower runtime hands out: a process forked from a warm one that
has imported fedscore (Python's isolated mode: no current folder, no PYTHONPATH, no user
site-packages on `sys.path`), in a folder of its own. It pulls the task from the
runtime API, recomputes the hash of the app bundle (FAB) the run carries and checks it
against the party's approved releases (`app_approval.py`). A refused app gets a clear
error reply ("large_bank refused app sha256:…: not an approved release") and a line in
the party's log; nothing of it is unpacked, imported or executed. An approved app is
not executed either: the runner runs the installed `fedscore.clients.app:app` (node) or
`fedscore.server.app:app` (coordinator), the code its operator installed, with the
verified release hash handed to it.

The coordinator's runner also checks the run request before the ServerApp starts:
signed by a model owner the coordinator lists, naming exactly this release.

Each message a node answers leaves one line in the party's log with where its time went
("launch" from the executor's fork to the runner's start, "pull", "app check",
"handler" — the ClientApp, data and training included — and "push"): what
`benchmarks/deployment.py` breaks a round down with.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from fedscore.core.errors import FedscoreError, describe_failure
from fedscore.core.flower_compat.object_pulls import shorten_pull_backoff
from fedscore.deployment import flower_runtime as runtime

#: Seconds a task process first waits for an object of its message (or, at the
#: coordinator, of a reply) that is not there yet, and the most it waits between tries.
#: Flower's: 1 and 10 (`fedscore.core.flower_compat.object_pulls`).
OBJECT_PULL_BACKOFF_SECONDS = 0.02
OBJECT_PULL_BACKOFF_CAP_SECONDS = 0.04

if TYPE_CHECKING:
    from fedscore.deployment.superlink import ServerConfig


class PhaseClock:
    """Seconds spent in each phase of a task, in order (monotonic clock, system-wide).

    Args:
        started: when the first phase started (e.g. when the executor forked the task).
    """

    def __init__(self, started: float) -> None:
        self.last = started
        self.phases: list[tuple[str, float]] = []

    def lap(self, phase: str) -> None:
        """End `phase` now."""
        now = time.monotonic()
        self.phases.append((phase, now - self.last))
        self.last = now

    def summary(self) -> str:
        return ", ".join(f"{phase} {seconds:.3f} s" for phase, seconds in self.phases)


def run_client_task(
    endpoint: runtime.RuntimeEndpoint, token: str, node_config: Path, clock: PhaseClock
) -> int:
    """Handle one message at an institution's node; returns the process's exit status."""
    from fedscore.clients.node import VERIFIED_APP_KEY, NodeConfig
    from fedscore.core import protocol
    from fedscore.deployment.app_approval import check_app

    client = endpoint.client("fedscore-clientapp", token)
    beat = runtime.heartbeat(client)
    task: runtime.ClientTask | None = None
    try:
        node = NodeConfig.from_toml(node_config)
        task = runtime.pull_client_task(client)
        clock.lap("pull")
        verdict = check_app(
            node.trust, task.fab.content, task.run.fab_hash, dict(task.context.run_config)
        )
        clock.lap("app check")
        if not verdict.approved:
            reason = f"{node.party} refused app sha256:{verdict.sha256}: {verdict.problem}"
            _log(reason)
            reply = runtime.error_reply(task.message, protocol.APP_NOT_APPROVED_CODE, reason)
            runtime.push_client_reply(client, reply, task.context)
            runtime.push_task_output(client, task.context, runtime.FAILED, reason)
            return 0
        task.context.node_config[VERIFIED_APP_KEY] = verdict.sha256
        from fedscore.clients.app import app

        reply = app(message=task.message, context=task.context)
        clock.lap("handler")
        runtime.push_client_reply(client, reply, task.context)
        runtime.push_task_output(client, task.context, runtime.COMPLETED, "")
        clock.lap("push")
        kind = task.message.metadata.message_type
        _log(f"{node.party}: {kind} message of run {task.run.run_id}: {clock.summary()}")
        return 0
    except Exception as error:  # the process boundary: report, never leak a value
        reason = f"{_party(node_config)}: the task failed: {describe_failure(error)}"
        _log(reason)
        if task is not None:
            failed = runtime.error_reply(task.message, protocol.NODE_FAILED_CODE, reason)
            runtime.push_client_reply(client, failed, task.context)
        runtime.push_task_output(client, task.context if task else None, runtime.FAILED, reason)
        return 1
    finally:
        beat.stop()
        client.close()


def run_server_task(endpoint: runtime.RuntimeEndpoint, token: str, server_config: Path) -> int:
    """Run one training run on the coordinator; returns the process's exit status."""
    from fedscore.deployment.superlink import ServerConfig

    client = endpoint.client("fedscore-serverapp", token)
    beat = runtime.heartbeat(client)
    logs = runtime.LogStream()
    task: runtime.ServerTask | None = None

    def finish(status: str, details: str) -> int:
        # The log first: the model owner's stream ends when the task's output arrives.
        logs.close()
        runtime.push_task_output(client, task.context if task else None, status, details)
        return 0 if status == runtime.COMPLETED else 1

    try:
        config = ServerConfig.from_toml(server_config)
        task = runtime.pull_server_task(client)
        logs.upload(client, task.run.run_id)
        run_config = runtime.fused_run_config(task)
        problem = _coordinator_refusal(config, task, run_config)
        if problem:
            _log(f"the coordinator refused run {task.run.run_id}: {problem}")
            return finish(runtime.FAILED, problem)
        from fedscore.server.app import app
        from fedscore.server.packing_grid import PackingGrid

        task.context.run_config = run_config  # type: ignore[assignment]
        runtime.run_server_app(
            grid=PackingGrid(endpoint.grid(token, task.run)),
            context=task.context,
            server_app_dir="",
            loaded_server_app=app,
        )
        return finish(runtime.COMPLETED, "")
    except Exception as error:  # the process boundary: report what failed
        reason = f"the run failed: {describe_failure(error)}"
        _log(reason)
        return finish(runtime.FAILED, reason)
    finally:
        beat.stop()
        client.close()


def _coordinator_refusal(
    config: ServerConfig, task: runtime.ServerTask, run_config: dict[str, object]
) -> str:
    """Why the coordinator does not run this app or request ("" if it does)."""
    from fedscore.core.errors import ConfigError
    from fedscore.core.run_request import RUN_REQUEST_KEY, SignedRunRequest
    from fedscore.deployment.app_approval import check_app

    verdict = check_app(config.trust, task.fab.content, task.run.fab_hash, run_config)
    if not verdict.approved:
        return f"app sha256:{verdict.sha256}: {verdict.problem}"
    text = run_config.get(RUN_REQUEST_KEY)
    if not text:
        return "unsigned run: start runs with `fedscore run --owner-key ...`"
    try:
        signed = SignedRunRequest.decode(str(text))
        signed.verify(dict(config.trust.model_owners), datetime.now(UTC))
    except ConfigError as error:
        return str(error)
    if signed.request.app_sha256 != verdict.sha256:
        return "the run request names another app release than the one submitted"
    return ""


def _party(node_config: Path) -> str:
    """The institution's name, for messages (the config file's name if it is unreadable)."""
    from fedscore.clients.node import NodeConfig

    try:
        return NodeConfig.from_toml(node_config).party
    except FedscoreError:
        return node_config.name


def _log(line: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    print(f"{stamp} fedscore task runner: {line}", file=sys.stderr, flush=True)


@dataclass(frozen=True)
class TaskSpec:
    """One task to run: what it is, where its runtime API is, whose configuration.

    Attributes:
        kind: "clientapp" (an institution's node) or "serverapp" (the coordinator).
        runtime_api_address: host:port of the runtime API the task comes from.
        token: the task's token (it authenticates the task's calls: kept out of `repr`).
        config: the party's node.toml or the coordinator's server.toml.
        root_certificates: the CA file of the runtime API's certificate (None: plaintext).
        parent_pid: the executor's pid: the task stops if the executor dies.
        launched_at: when the executor launched the task (`time.monotonic()`; None: now).
    """

    kind: str
    runtime_api_address: str
    token: str = field(repr=False)
    config: Path
    root_certificates: Path | None = None
    parent_pid: int | None = None
    launched_at: float | None = None


def run_task(spec: TaskSpec) -> int:
    """Run the task `spec` names in this process; returns its exit status."""
    clock = PhaseClock(time.monotonic() if spec.launched_at is None else spec.launched_at)
    clock.lap("launch")
    shorten_pull_backoff(OBJECT_PULL_BACKOFF_SECONDS, OBJECT_PULL_BACKOFF_CAP_SECONDS)
    if spec.parent_pid is not None:
        runtime.start_parent_process_monitor(spec.parent_pid)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    roots = spec.root_certificates
    endpoint = runtime.RuntimeEndpoint(
        spec.runtime_api_address, roots.read_bytes() if roots else None, insecure=roots is None
    )
    if spec.kind == "clientapp":
        return run_client_task(endpoint, spec.token, spec.config, clock)
    return run_server_task(endpoint, spec.token, spec.config)


def run_task_and_exit(spec: TaskSpec) -> None:
    """`run_task` as a process's whole work (the executor's forked processes)."""
    sys.exit(run_task(spec))


def main(argv: list[str] | None = None) -> int:
    """`python -I -m fedscore.deployment.task_runner clientapp|serverapp ...` (by hand)."""
    parser = argparse.ArgumentParser(description="Run one fedscore task.")
    parser.add_argument("kind", choices=("clientapp", "serverapp"))
    parser.add_argument("--runtime-api-address", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--config", required=True, type=Path, help="node.toml or server.toml")
    parser.add_argument("--root-certificates", type=Path)
    parser.add_argument("--parent-pid", type=int)
    arguments = parser.parse_args(argv)
    return run_task(
        TaskSpec(
            arguments.kind,
            arguments.runtime_api_address,
            arguments.token,
            arguments.config,
            arguments.root_certificates,
            arguments.parent_pid,
        )
    )


if __name__ == "__main__":
    sys.exit(main())
