"""Flower's runtime API, as fedscore's executor and task runners speak it.

Flower's SuperExec (`flower-superexec`) starts `flwr-clientapp` / `flwr-serverapp`
processes, which install the app bundle a run carries and import its code. fedscore
replaces both (`deployment/executor.py`, `deployment/task_runner.py`, through
`deployment/flower_runtime.py`) so that an app is checked before anything of it runs and
only the installed fedscore code runs. They speak Flower's runtime API as Flower's own
processes do; Flower has no public API for it:

- `RuntimeHttpClient` (`flwr.supercore.runtime`): the client of a SuperLink's or
  SuperNode's runtime API (`from_server_address`; RPCs `AcquireTask`, `PullTaskInput`,
  `PushTaskOutput`).
- `RuntimeVersionHttpInterceptor`, `RuntimeTokenHttpInterceptor`
  (`flwr.supercore.interceptors`): tell the runtime API the component's version, and the
  token of the task a client acts for.
- `make_simple_http_retry_invoker` (`flwr.supercore.retry`): Flower's retry policy for
  that client.
- `AcquireTaskRequest`, `PullTaskInputRequest`, `PushTaskOutputRequest`
  (`flwr.proto.runtime_pb2`): the requests fedscore sends (acquire a pending task of a
  type; pull a ServerApp task's input; report the task's end and its context).
- `TaskType` (`flwr.supercore.constant`): the task types fedscore's runners acquire
  (`CLIENT_APP`, `SERVER_APP`).
- `SubStatus` (`flwr.common.constant`): how a task ended (`COMPLETED`, `FAILED`).
- `context_from_proto`, `context_to_proto`, `fab_from_proto`, `run_from_proto`
  (`flwr.common.serde`): a task's context, app bundle and run, from and to the wire.
- `TaskIdentity` (`flwr.supercore.task_identity`): the identity of the task this process
  runs (`task_id`, `run_id`, `node_id`), which Flower's ServerApp runner sets and Flower's
  code reads.
- `pull_task_input`, `push_message` (`flwr.supernode.runtime.run_clientapp`): a ClientApp
  task's message, context, run and app bundle; its reply.
- `HttpGrid` (`flwr.superlink.grid`): the deployed ServerApp's Grid, over the runtime
  API; public code sees it only as a `flwr.serverapp.Grid`.
- `run_server_app` (`flwr.server.run_serverapp.run`): runs a loaded `ServerApp` with a
  Grid and Context, as Flower's ServerApp process does.
- `get_fused_config_from_fab` (`flwr.common.config`): a run's config, the app's declared
  defaults with the run's overrides on top.
- `Fab` (`flwr.supercore.fab`), `Run` (`flwr.supercore.run`): a run's app bundle and the
  run itself; `Run` is also in the signature of the public `Grid` (`set_run`, `run`),
  which does not export it.
- `HeartbeatSender`, `make_task_heartbeat_fn_http` (`flwr.supercore.heartbeat`): tell the
  runtime a task is alive.
- `start_parent_process_monitor` (`flwr.supercore.app_utils`): end a task process when the
  process that started it ends.
- `mirror_output_to_queue`, `restore_output`, `start_log_uploader`, `flush_logs`,
  `stop_log_uploader` (`flwr.supercore.logger`): the ServerApp's console output,
  uploaded to the run's log (`flwr run --stream`).
"""

from __future__ import annotations

from flwr.common.config import get_fused_config_from_fab
from flwr.common.constant import SubStatus
from flwr.common.serde import context_from_proto, context_to_proto, fab_from_proto, run_from_proto
from flwr.proto.runtime_pb2 import (
    AcquireTaskRequest,
    PullTaskInputRequest,
    PushTaskOutputRequest,
)
from flwr.server.run_serverapp import run as run_server_app
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

__all__ = [
    "AcquireTaskRequest",
    "Fab",
    "HeartbeatSender",
    "HttpGrid",
    "PullTaskInputRequest",
    "PushTaskOutputRequest",
    "Run",
    "RuntimeHttpClient",
    "RuntimeTokenHttpInterceptor",
    "RuntimeVersionHttpInterceptor",
    "SubStatus",
    "TaskIdentity",
    "TaskType",
    "context_from_proto",
    "context_to_proto",
    "fab_from_proto",
    "flush_logs",
    "get_fused_config_from_fab",
    "make_simple_http_retry_invoker",
    "make_task_heartbeat_fn_http",
    "mirror_output_to_queue",
    "pull_task_input",
    "push_message",
    "restore_output",
    "run_from_proto",
    "run_server_app",
    "start_log_uploader",
    "start_parent_process_monitor",
    "stop_log_uploader",
]
