"""Flower 1.42's runtime API, as fedscore's executor and task runners use it.

Flower's own SuperExec (`flower-superexec`) starts `flwr-clientapp` / `flwr-serverapp`,
which install the app bundle a run carries and import its code. fedscore replaces both
(see `deployment/executor.py` and `deployment/task_runner.py`) so that an app is checked
before anything of it runs, and only the installed fedscore code ever runs. They speak
Flower's runtime API exactly as Flower's own processes do; every Flower internal they
need is imported here, and only here, so a Flower upgrade is checked in one module
(`tests/test_flower_runtime.py` fails loudly if one of these moves).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from queue import Queue

from flwr.app import Context, Message
from flwr.app.error import Error
from flwr.common.config import get_fused_config_from_fab
from flwr.common.constant import SubStatus
from flwr.common.serde import context_from_proto, context_to_proto, fab_from_proto, run_from_proto
from flwr.proto.runtime_pb2 import (  # type: ignore[attr-defined]
    AcquireTaskRequest,
    PullTaskInputRequest,
    PushTaskOutputRequest,
)
from flwr.server.run_serverapp import run as run_server_app
from flwr.serverapp import ServerApp
from flwr.supercore.app_utils import start_parent_process_monitor
from flwr.supercore.constant import TaskType
from flwr.supercore.fab import Fab
from flwr.supercore.heartbeat import HeartbeatSender, make_task_heartbeat_fn_http
from flwr.supercore.interceptors import RuntimeTokenHttpInterceptor, RuntimeVersionHttpInterceptor
from flwr.supercore.logger import (
    flush_logs,
    mirror_output_to_queue,
    restore_output,
    start_log_uploader,
    stop_log_uploader,
)
from flwr.supercore.retry import make_simple_http_retry_invoker
from flwr.supercore.run import Run
from flwr.supercore.runtime import RuntimeHttpClient
from flwr.supercore.task_identity import TaskIdentity
from flwr.superlink.grid import HttpGrid
from flwr.supernode.runtime.run_clientapp import pull_task_input, push_message

CLIENT_APP_TASK = str(TaskType.CLIENT_APP)
SERVER_APP_TASK = str(TaskType.SERVER_APP)
COMPLETED = SubStatus.COMPLETED
FAILED = SubStatus.FAILED

__all__ = [
    "CLIENT_APP_TASK",
    "COMPLETED",
    "FAILED",
    "SERVER_APP_TASK",
    "Context",
    "Fab",
    "Message",
    "Run",
    "RuntimeEndpoint",
    "ServerApp",
    "error_reply",
    "fused_run_config",
    "run_server_app",
    "start_parent_process_monitor",
]


@dataclass(frozen=True)
class RuntimeEndpoint:
    """Where a runtime API is and how to reach it.

    Attributes:
        address: host:port of the SuperLink's or SuperNode's runtime API.
        root_certificates: PEM of the CA its TLS certificate is signed by (None with
            `insecure`).
        insecure: plaintext (a SuperNode's runtime API on loopback).
    """

    address: str
    root_certificates: bytes | None = None
    insecure: bool = False

    def client(self, component: str, token: str | None = None) -> RuntimeHttpClient:
        """A runtime API client; with `token`, one acting for that task."""
        interceptors = [RuntimeVersionHttpInterceptor(component_name=component)]
        if token is not None:
            interceptors.append(RuntimeTokenHttpInterceptor(token))
        return RuntimeHttpClient.from_server_address(
            server_address=self.address,
            insecure=self.insecure,
            root_certificates=None if self.insecure else self.root_certificates,
            interceptors=interceptors,
            retry_invoker=make_simple_http_retry_invoker(),
        )

    def grid(self, token: str, run: Run) -> HttpGrid:
        """The ServerApp's grid for the task `token` stands for, in `run`."""
        grid = HttpGrid(
            runtime_api_address=self.address,
            insecure=self.insecure,
            root_certificates=None if self.insecure else self.root_certificates,
            token=token,
        )
        grid.set_run(run)
        return grid


def acquire_task(client: RuntimeHttpClient, task_type: str) -> tuple[str, int, int] | None:
    """Ask for a pending task of `task_type`: (token, task id, run id), or None."""
    response = client.AcquireTask(AcquireTaskRequest(supported_task_types=[task_type]))
    if response.HasField("task") and response.token:
        return response.token, int(response.task.task_id), int(response.task.run_id)
    return None


@dataclass
class ClientTask:
    """One message for the node's ClientApp, with what Flower sends along."""

    message: Message
    context: Context
    run: Run
    fab: Fab


def pull_client_task(client: RuntimeHttpClient) -> ClientTask:
    """The task's message, context, run and app bundle (nothing of the app is run)."""
    message, context, run, fab = pull_task_input(client)
    return ClientTask(message, context, run, fab)


def push_client_reply(client: RuntimeHttpClient, reply: Message, context: Context) -> None:
    push_message(client, reply, context)


def push_task_output(
    client: RuntimeHttpClient, context: Context | None, status: str, details: str
) -> None:
    """Tell the runtime the task is over (and hand back its context)."""
    client.PushTaskOutput(
        PushTaskOutputRequest(
            context=context_to_proto(context) if context is not None else None,
            sub_status=status,
            details=details,
        )
    )


def error_reply(message: Message, code: int, reason: str) -> Message:
    """A reply carrying an error instead of content."""
    return Message(Error(code=code, reason=reason), reply_to=message)


@dataclass
class ServerTask:
    """The ServerApp's task: its context, run and app bundle."""

    context: Context
    run: Run
    fab: Fab


def pull_server_task(client: RuntimeHttpClient) -> ServerTask:
    """The ServerApp's task (its identity is set for this process, as Flower's runner does)."""
    response = client.PullTaskInput(PullTaskInputRequest())
    TaskIdentity.task_id = response.task_id
    TaskIdentity.run_id = response.run.run_id
    TaskIdentity.node_id = response.context.node_id
    return ServerTask(
        context_from_proto(response.context),
        run_from_proto(response.run),
        fab_from_proto(response.fab),
    )


def fused_run_config(task: ServerTask) -> dict[str, object]:
    """The run config: the app's declared defaults with the run's overrides on top."""
    return dict(get_fused_config_from_fab(task.fab.content, task.run))


def heartbeat(client: RuntimeHttpClient) -> HeartbeatSender:
    """A started heartbeat telling the runtime the task is alive."""
    sender = HeartbeatSender(make_task_heartbeat_fn_http(client))
    sender.start()
    return sender


class LogStream:
    """The ServerApp's console output, mirrored to the run's log (`flwr run --stream`)."""

    def __init__(self) -> None:
        self._queue: Queue[str | None] = Queue()
        self._uploader: threading.Thread | None = None
        mirror_output_to_queue(self._queue)

    def upload(self, client: RuntimeHttpClient, run_id: int) -> None:
        self._uploader = start_log_uploader(self._queue, 0, run_id, client)

    def close(self) -> None:
        """Upload what is left, then stop mirroring (idempotent)."""
        if self._uploader is not None:
            flush_logs(self._queue)
            stop_log_uploader(self._queue, self._uploader)
            self._uploader = None
        restore_output()
