"""fedscore's executor: takes a party's Flower tasks and hands each to fedscore's runner.

It replaces Flower's `flower-superexec` beside a SuperNode or SuperLink started with
`--isolation process`: it follows the same loop (acquire a task from the runtime API,
launch a process for it), but the process it launches runs `fedscore.deployment.
task_runner`, which checks the app before anything of it could run. The executor itself
never reads an app bundle.

Every task still gets a process of its own (a crash or a kill ends one task, never the
node, and nothing stays in memory from one task to the next), but not a cold one:
processes are forked from a warm "forkserver" that imported fedscore, Flower, torch and
Opacus and trained one small model on random numbers (`task_warm_up`) once, when the
executor started (the executor runs in Python's isolated mode,
and so does its forkserver). Flower's own SuperExec starts a fresh interpreter per
message instead, which spends about 4 CPU-seconds on imports every time.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from fedscore.core.flower_compat.runtime import RuntimeHttpClient
from fedscore.deployment import flower_runtime as runtime
from fedscore.deployment.task_runner import TaskSpec, run_task_and_exit

#: Seconds between two requests for a task when there was none.
DEFAULT_POLL_INTERVAL = 0.05


@dataclass(frozen=True)
class ExecutorSettings:
    """What an executor serves.

    Attributes:
        kind: "clientapp" beside a SuperNode, "serverapp" beside the SuperLink.
        endpoint: the runtime API it takes tasks from.
        root_certificates: the CA file the runtime API's certificate is signed by (None:
            a plaintext runtime API on loopback).
        config: the party's node.toml or the coordinator's server.toml.
        work_dir: the folder task runners run in (owner-only; no app file is ever there).
        poll_interval: seconds between requests for a task while there is none.
    """

    kind: str
    endpoint: runtime.RuntimeEndpoint
    root_certificates: Path | None
    config: Path
    work_dir: Path
    poll_interval: float = DEFAULT_POLL_INTERVAL

    @property
    def task_type(self) -> str:
        return runtime.CLIENT_APP_TASK if self.kind == "clientapp" else runtime.SERVER_APP_TASK

    def task(self, token: str) -> TaskSpec:
        """The task `token` stands for, as its runner process gets it."""
        return TaskSpec(
            kind=self.kind,
            runtime_api_address=self.endpoint.address,
            token=token,
            config=self.config.resolve(),
            root_certificates=self.root_certificates.resolve() if self.root_certificates else None,
            parent_pid=os.getpid(),
            launched_at=time.monotonic(),
        )


#: What the warm process imports once, per kind of task (the rest is imported per task).
PRELOADED = {
    "clientapp": [
        "fedscore.deployment.task_runner",
        "fedscore.clients.app",
        "fedscore.clients.rounds",
        "fedscore.deployment.task_warm_up",  # last: runs one small DP-SGD round
    ],
    "serverapp": [
        "fedscore.deployment.task_runner",
        "fedscore.server.app",
        "fedscore.server.training_loop",
    ],
}


def _warm_context(kind: str) -> multiprocessing.context.ForkServerContext:
    """A forkserver context whose server has imported what tasks of `kind` need."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["fedscore.deployment.task_runner", *PRELOADED[kind]])
    warm_up = context.Process(target=_nothing)  # starts the forkserver now, not at task 1
    warm_up.start()
    warm_up.join()
    return context


def _nothing() -> None:
    """A process that does nothing (starts the forkserver)."""


def serve(settings: ExecutorSettings) -> None:
    """Take tasks and launch a runner for each until SIGTERM/SIGINT."""
    settings.work_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chdir(settings.work_dir)  # the forkserver and every task run here
    context = _warm_context(settings.kind)
    client = settings.endpoint.client(f"fedscore-executor-{settings.kind}")
    running: list[multiprocessing.process.BaseProcess] = []
    stopping = False

    def stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"fedscore executor ({settings.kind}) ready", flush=True)
    try:
        while not stopping:
            running = [process for process in running if process.is_alive()]
            acquired = _acquire(client, settings.task_type)
            if acquired is None:
                time.sleep(settings.poll_interval)
                continue
            token, task_id, run_id = acquired
            print(f"task {task_id} of run {run_id}: starting the task runner", flush=True)
            runner = context.Process(target=run_task_and_exit, args=(settings.task(token),))
            runner.start()
            running.append(runner)
    finally:
        for process in running:
            if process.is_alive():
                process.terminate()
        for process in running:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
        client.close()


def _acquire(client: RuntimeHttpClient, task_type: str) -> tuple[str, int, int] | None:
    """A pending task, or None (also when the runtime API is briefly unreachable)."""
    try:
        return runtime.acquire_task(client, task_type)
    except Exception as error:  # the runtime restarting must not end the executor
        print(f"no task: the runtime API did not answer ({type(error).__name__})", flush=True)
        time.sleep(1.0)
        return None


def main(argv: list[str] | None = None) -> None:
    """`python -m fedscore.deployment.executor clientapp|serverapp ...`."""
    parser = argparse.ArgumentParser(description="fedscore's executor for a Flower runtime API.")
    parser.add_argument("kind", choices=("clientapp", "serverapp"))
    parser.add_argument("--runtime-api-address", required=True)
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--work-dir", required=True, type=Path)
    parser.add_argument("--root-certificates", type=Path)
    parser.add_argument("--poll-interval", type=float, default=DEFAULT_POLL_INTERVAL)
    arguments = parser.parse_args(argv)
    roots = arguments.root_certificates
    serve(
        ExecutorSettings(
            kind=arguments.kind,
            endpoint=runtime.RuntimeEndpoint(
                arguments.runtime_api_address,
                roots.read_bytes() if roots else None,
                insecure=roots is None,
            ),
            root_certificates=roots,
            config=arguments.config,
            work_dir=arguments.work_dir,
            poll_interval=arguments.poll_interval,
        )
    )


if __name__ == "__main__":
    main()
