"""Real processes in tests: free ports, waiting for log lines, stopping whole process trees,
and a network namespace to reach services from a non-loopback address."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from fedscore.deployment.localhost.processes import free_port
from fedscore.deployment.superlink import flower_environment as flower_env

__all__ = [
    "BIN",
    "flower_env",
    "free_port",
    "network_namespace",
    "probe_from_namespace",
    "stop_tree",
    "stop_trees",
    "wait_for_text",
]

BIN = Path(sys.executable).parent


def stop_tree(
    process: subprocess.Popen, how: signal.Signals = signal.SIGTERM
) -> list[psutil.Process]:
    """Signal a process, its process group and every descendant; SIGKILL what outlives it.

    Flower detaches some children into sessions of their own, hence psutil as well as the
    process group (processes are started with `start_new_session=True`).

    Args:
        process: the process started in a session of its own.
        how: the first signal (SIGKILL follows for what outlives it).

    Returns:
        What still runs after SIGKILL (normally nothing).
    """
    if process.returncode is not None:  # reaped already: its group id may be reused
        return []
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for signum in dict.fromkeys((how, signal.SIGKILL)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)
        for member in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                member.send_signal(signum)
        _, tree = psutil.wait_procs(tree, timeout=20 if signum != signal.SIGKILL else 5)
        if not tree:
            break
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)
    return tree


def stop_trees(processes: Iterable[subprocess.Popen]) -> None:
    """`stop_tree` every process of `processes`, side by side (each may take seconds to
    shut down; one after the other, a consortium's teardown took half a minute)."""
    with ThreadPoolExecutor() as pool:
        list(pool.map(stop_tree, processes))


def wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    """Block until `text` appears in the log at `path`; fail with its tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.3)
    log = path.read_text(errors="replace")[-3000:] if path.exists() else ""
    pytest.fail(f"'{text}' not seen in {path.name} (exit {process.poll()}):\n{log}")


@contextlib.contextmanager
def network_namespace() -> Iterator[tuple[str, str, str]]:
    """A network namespace joined to this one by a veth pair: (name, host ip, its ip).

    Skips the test where namespaces cannot be made (not root, no iproute2).
    """
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 (`ip netns`) to create a network namespace")
    tag = f"{os.getpid() % 10000}{random.randrange(100):02d}"
    name, host_if, ns_if = f"fsn{tag}", f"fsh{tag}", f"fsi{tag}"
    used = subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True).stdout
    while True:
        prefix = f"10.{random.randrange(200, 250)}.{random.randrange(256)}"
        if f" {prefix}." not in used:
            break
    host_ip, ns_ip = f"{prefix}.1", f"{prefix}.2"
    steps = [
        ["ip", "netns", "add", name],
        ["ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if],
        ["ip", "link", "set", ns_if, "netns", name],
        ["ip", "addr", "add", f"{host_ip}/30", "dev", host_if],
        ["ip", "link", "set", host_if, "up"],
        ["ip", "netns", "exec", name, "ip", "addr", "add", f"{ns_ip}/30", "dev", ns_if],
        ["ip", "netns", "exec", name, "ip", "link", "set", ns_if, "up"],
        ["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"],
    ]
    try:
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True, check=False)
            if done.returncode != 0:
                pytest.skip(f"`{' '.join(step)}` failed: {done.stderr.strip()}")
        yield name, host_ip, ns_ip
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


#: Run inside the namespace: python - HOST INTERNAL_PORT GATEWAY_PORT CA_FILE → JSON of
#: what an outsider gets from the SuperLink's own port and, through the gateway, from the
#: control, runtime and fleet APIs.
OUTSIDER_PROBE = r"""
import json, socket, ssl, sys
host, internal, gateway, ca = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
out = {}
try:
    socket.create_connection((host, internal), timeout=5).close()
    out["internal"] = "connected"
except OSError as exc:
    out["internal"] = type(exc).__name__
def post(path):
    context = ssl.create_default_context(cafile=ca)
    with socket.create_connection((host, gateway), timeout=10) as raw:
        with context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            tls.sendall(f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\n"
                        "Content-Type: application/protobuf\r\nConnection: close\r\n\r\n"
                        .encode())
            data = b""
            while chunk := tls.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return [int(head.split()[1]), body.decode()]
for name, path in (("control", "/v1/control/start-run"),
                   ("register", "/v1/control/register-node"),
                   ("runtime", "/v1/runtime/pull-task-input"),
                   ("fleet", "/v1/fleet/get-run")):
    out[name] = post(path)
print(json.dumps(out))
"""


def probe_from_namespace(
    namespace: str, host: str, internal: int, gateway: int, ca: Path
) -> dict[str, object]:
    """What an outsider in `namespace` gets (see `OUTSIDER_PROBE`)."""
    import json

    probe = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-c", OUTSIDER_PROBE,
         host, str(internal), str(gateway), str(ca)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.returncode == 0, probe.stderr
    return dict(json.loads(probe.stdout))


@contextlib.contextmanager
def scoring_service(
    registry: Path, pki: Path, *options: str
) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """`fedscore serve` in its own process on a free loopback port.

    Yields the process, its port and the first line it printed (the banner); kills it on
    the way out if the test has not stopped it.
    """
    port = free_port()
    paths = ["--registry", str(registry), "--pki", str(pki), "--port", str(port)]
    process = subprocess.Popen(
        [sys.executable, "-m", "fedscore.cli.main", "serve", *options, *paths],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "FLWR_TELEMETRY_ENABLED": "0"},
    )
    try:
        assert process.stderr is not None
        yield process, port, process.stderr.readline()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
