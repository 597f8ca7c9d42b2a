"""Flower 1.42's runtime API, as fedscore's executor and task runners use it.

Flower's own SuperExec (`flower-superexec`) starts `flwr-clientapp` / `flwr-serverapp`,
which install the app bundle a run carries and import its code. fedscore replaces both
(see `deployment/executor.py` and `deployment/task_runner.py`) so that an app is checked
before anything of it runs, and only the installed fedscore code ever runs. They speak
Flower's runtime API exactly as Flower's own processes do, through this module; the
Flower internals it needs come from `fedscore.core.flower_compat.runtime`, where each is
documented and checked (`tests/test_flower_compat.py` fails loudly if one of them moves).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from queue import Queue

from flwr.app import Context, Error, Message
from flwr.serverapp import ServerApp

from fedscore.core.flower_compat.runtime import (
    AcquireTaskRequest,
    Fab,
    HeartbeatSender,
    HttpGrid,
    PullTaskInputRequest,
    PushTaskOutputRequest,
    Run,
    RuntimeHttpClient,
    RuntimeTokenHttpInterceptor,
    RuntimeVersionHttpInterceptor,
    SubStatus,
    TaskIdentity,
    TaskType,
    context_from_proto,
    context_to_proto,
    fab_from_proto,
    flush_logs,
    get_fused_config_from_fab,
    make_simple_http_retry_invoker,
    make_task_heartbeat_fn_http,
    mirror_output_to_queue,
    pull_task_input,
    push_message,
    restore_output,
    run_from_proto,
    run_server_app,
    start_log_uploader,
    start_parent_process_monitor,
    stop_log_uploader,
)

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
        """A runtime API client.

        Args:
            component: the name the client reports its Flower version under (e.g.
                `flwr-serverapp`).
            token: the token of the task the client acts for; None before one is acquired.

        Returns:
            The client, retrying as Flower's own processes do.
        """
        interceptors: list[RuntimeVersionHttpInterceptor | RuntimeTokenHttpInterceptor] = [
            RuntimeVersionHttpInterceptor(component_name=component)
        ]
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
        """The ServerApp's grid.

        Args:
            token: the token of the ServerApp task the grid acts for.
            run: the run the task belongs to.

        Returns:
            Flower's deployed grid over this runtime API, set to `run`.
        """
        grid = HttpGrid(
            runtime_api_address=self.address,
            insecure=self.insecure,
            root_certificates=None if self.insecure else self.root_certificates,
            token=token,
        )
        grid.set_run(run)
        return grid


def acquire_task(client: RuntimeHttpClient, task_type: str) -> tuple[str, int, int] | None:
    """Ask for a pending task.

    Args:
        client: a runtime API client without a token.
        task_type: `CLIENT_APP_TASK` or `SERVER_APP_TASK`.

    Returns:
        (token, task id, run id) of the task now held, or None when none is pending.
    """
    response = client.AcquireTask(AcquireTaskRequest(supported_task_types=[task_type]))
    if response.HasField("task") and response.token:
        return response.token, int(response.task.task_id), int(response.task.run_id)
    return None


@dataclass
class AppTask:
    """What Flower hands an app's task: its context, run and app bundle."""

    context: Context
    run: Run
    fab: Fab


@dataclass
class ClientTask(AppTask):
    """One message for the node's ClientApp, with what Flower sends along."""

    message: Message


@dataclass
class ServerTask(AppTask):
    """The ServerApp's task: its context, run and app bundle."""


def pull_client_task(client: RuntimeHttpClient) -> ClientTask:
    """The ClientApp task's input (nothing of the app is run).

    Args:
        client: a runtime API client acting for the task.

    Returns:
        The task's message, context, run and app bundle.
    """
    message, context, run, fab = pull_task_input(client)
    return ClientTask(context=context, run=run, fab=fab, message=message)


def push_client_reply(client: RuntimeHttpClient, reply: Message, context: Context) -> None:
    """Send the ClientApp's reply to the message of the task `client` acts for.

    Args:
        client: a runtime API client acting for the task.
        reply: the reply to the task's message.
        context: the node's context after handling it.
    """
    push_message(client, reply, context)


def push_task_output(
    client: RuntimeHttpClient, context: Context | None, status: str, details: str
) -> None:
    """Tell the runtime the task is over.

    Args:
        client: a runtime API client acting for the task.
        context: the task's context to hand back (None when there is none).
        status: `COMPLETED` or `FAILED`.
        details: why it failed ("" when it completed).
    """
    client.PushTaskOutput(
        PushTaskOutputRequest(
            context=context_to_proto(context) if context is not None else None,
            sub_status=status,
            details=details,
        )
    )


def error_reply(message: Message, code: int, reason: str) -> Message:
    """A reply carrying an error instead of content.

    Args:
        message: the message answered.
        code: the error code.
        reason: what went wrong, as the sender may see it.

    Returns:
        The reply.
    """
    return Message(Error(code=code, reason=reason), reply_to=message)


def pull_server_task(client: RuntimeHttpClient) -> ServerTask:
    """The ServerApp's task; its identity is set for this process, as Flower's runner does.

    Args:
        client: a runtime API client acting for the task.

    Returns:
        The task's context, run and app bundle.
    """
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
    """The run config: the app's declared defaults with the run's overrides on top.

    Args:
        task: the ServerApp's task.

    Returns:
        The run config, key → value.
    """
    return dict(get_fused_config_from_fab(task.fab.content, task.run))


def heartbeat(client: RuntimeHttpClient) -> HeartbeatSender:
    """A started heartbeat telling the runtime the task is alive.

    Args:
        client: a runtime API client acting for the task.

    Returns:
        The sender; `stop()` it when the task ends.
    """
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
        """Start uploading the mirrored output to the log of run `run_id` through `client`."""
        self._uploader = start_log_uploader(self._queue, 0, run_id, client)

    def close(self) -> None:
        """Upload what is left, then stop mirroring (idempotent)."""
        if self._uploader is not None:
            flush_logs(self._queue)
            stop_log_uploader(self._queue, self._uploader)
            self._uploader = None
        restore_output()
