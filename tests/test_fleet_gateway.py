"""The fleet gateway in front of a real `flower-superlink`: Fleet calls pass, nothing else.

Every process is real and on 127.0.0.1 (the SuperLink bound to loopback only, the gateway
on 0.0.0.0); one test reaches them from another network namespace over a veth pair.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import tomli_w
from process_support import (
    BIN,
    flower_env,
    free_port,
    network_namespace,
    probe_from_namespace,
    stop_tree,
)

from fedscore.deployment.fleet_gateway_app import (
    DEFAULT_MAX_BODY_BYTES,
    FLEET_PATHS,
    REFUSED_BODY,
    REFUSED_STATUS,
    _printable,
)
from fedscore.deployment.pki import PkiLayout, init_pki, issue_node_key

pytestmark = pytest.mark.slow  # real gateway and node processes over TLS

MAX_BODY = 1024 * 1024  # the test gateway's body limit
REFUSED = json.dumps(REFUSED_BODY, separators=(",", ":")).encode()
SUPEREXEC_POLL = '"POST /v1/runtime/acquire-task HTTP/1.1" 200'
ACTIVATED = '"POST /v1/fleet/activate-node HTTP/1.1" 200'
FLOWER_AUTH_ANSWER = b'{"detail":"Invalid SuperNode authentication"}'


def _wait_for(
    check: Callable[[], object], what: str, process: subprocess.Popen, log: Path, timeout: float
) -> object:
    """Poll `check` until it returns something true; fail with the log's tail otherwise."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        if process.poll() is not None:
            break
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    pytest.fail(f"{what} not seen (exit {process.poll()}):\n{tail}")


@dataclass
class Stack:
    """A SuperLink on 127.0.0.1:internal and the gateway on 0.0.0.0:gateway."""

    root: Path
    pki: PkiLayout
    internal: int
    gateway: int
    superlink_log: Path
    gateway_log: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, command: list[str], log: Path, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**flower_env(self.root / "flwr-home"), **env},
        )
        self.processes.append(process)
        return process

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.pki.ca_cert))

    def access_lines(self) -> list[str]:
        """The SuperLink's access log, less its own SuperExec's polling (every second)."""
        text = self.superlink_log.read_text(errors="replace")
        return [
            line
            for line in text.splitlines()
            if "uvicorn.access" in line and SUPEREXEC_POLL not in line
        ]


def _gateway_command(pki: PkiLayout, listen: str, upstream: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "fedscore.deployment.fleet_gateway",
        "--listen",
        listen,
        "--upstream-port",
        str(upstream),
        "--certfile",
        str(pki.server_cert),
        "--keyfile",
        str(pki.server_key),
        "--ca-certfile",
        str(pki.ca_cert),
        *extra,
    ]


def _tls_ready(context: ssl.SSLContext, port: int) -> bool:
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=2) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    root = tmp_path_factory.mktemp("gateway")
    pki = init_pki(root / "pki", ["127.0.0.1", "localhost"], organization="t")
    running = Stack(
        root, pki, free_port(), free_port(), root / "superlink.log", root / "gateway.log"
    )
    try:
        superlink = running.start(
            [
                str(BIN / "flower-superlink"),
                "--host",
                "127.0.0.1",
                "--port",
                str(running.internal),
                "--ssl-ca-certfile",
                str(pki.ca_cert),
                "--ssl-certfile",
                str(pki.server_cert),
                "--ssl-keyfile",
                str(pki.server_key),
                "--enable-supernode-auth",
                "--database",
                str(root / "sl.sqlite"),
                "--disable-runtime-dependency-installation",
            ],
            running.superlink_log,
            # DEBUG: Flower hides successful "routine" access lines (pull-messages...) else.
            FLWR_LOG_LEVEL="DEBUG",
        )
        gateway = running.start(
            _gateway_command(
                pki,
                f"0.0.0.0:{running.gateway}",
                running.internal,
                "--max-body-bytes",
                str(MAX_BODY),
            ),
            running.gateway_log,
        )
        context = running.tls()
        _wait_for(
            lambda: _tls_ready(context, running.internal),
            "SuperLink TLS",
            superlink,
            running.superlink_log,
            60,
        )
        _wait_for(
            lambda: "fleet gateway ready on" in running.gateway_log.read_text(),
            "gateway ready line",
            gateway,
            running.gateway_log,
            30,
        )
        yield running
    finally:
        for process in reversed(running.processes):
            assert not stop_tree(process), "still running"


def _raw_request(
    stack: Stack, request_line: str, body: bytes = b"", extra: str = "", port: int | None = None
) -> tuple[int, bytes]:
    """Send one HTTP/1.1 request byte for byte (no client-side normalization)."""
    head = (
        f"{request_line}\r\nHost: 127.0.0.1\r\nContent-Type: application/protobuf\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    with (
        socket.create_connection(("127.0.0.1", port or stack.gateway), timeout=10) as raw,
        stack.tls().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(head.encode("latin-1") + body)
        return _read_response(tls)


def _read_response(tls: ssl.SSLSocket) -> tuple[int, bytes]:
    data = b""
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        while chunk := tls.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), payload


def test_the_forwarded_paths_are_exactly_flowers_fleet_api():
    from fastapi.routing import APIRoute, iter_route_contexts
    from flwr.superlink.main import create_app
    from flwr.supernode.fleet_http_client import FleetHttpClient

    routes = {
        (getattr(context, "path", None) or context.route.path, frozenset(context.route.methods))
        for context in iter_route_contexts(create_app().routes)
        if isinstance(context.route, APIRoute)
    }
    fleet = {(path, methods) for path, methods in routes if path.startswith("/v1/fleet")}
    assert fleet == {(path, frozenset({"POST"})) for path in FLEET_PATHS}
    assert any(path.startswith("/v1/control/") for path, _ in routes)

    class Recorder(FleetHttpClient):
        def __init__(self) -> None:
            self.paths: set[str] = set()

        def _unary_unary(self, *, path: str, **_: object) -> None:  # type: ignore[override]
            self.paths.add(path)

    recorder = Recorder()
    for name in dir(FleetHttpClient):
        if name[0].isupper() and callable(getattr(FleetHttpClient, name)):
            getattr(recorder, name)(None)
    assert recorder.paths == FLEET_PATHS  # what the SuperNode sends
    assert DEFAULT_MAX_BODY_BYTES == 64 * 1024 * 1024


def test_a_fleet_call_gets_the_superlinks_own_answer(stack):
    before = len(stack.access_lines())
    context = stack.tls()
    answers = []
    for port in (stack.gateway, stack.internal):
        with httpx.Client(verify=context, trust_env=False) as client:
            response = client.post(
                f"https://127.0.0.1:{port}/v1/fleet/get-run",
                content=b"",
                headers={"content-type": "application/protobuf", "x-forwarded-for": "6.6.6.6"},
            )
        answers.append((response.status_code, response.content))
        assert len(response.headers.get_list("date")) == 1
        assert "server" not in response.headers or port == stack.internal
    assert answers[0] == answers[1] == (401, FLOWER_AUTH_ANSWER)
    new = stack.access_lines()[before:]
    assert len(new) == 2 and all('"POST /v1/fleet/get-run HTTP/1.1" 401' in x for x in new)
    assert "127.0.0.1" in new[0]  # the forged X-Forwarded-For did not pass the gateway
    assert "6.6.6.6" in new[1]  # ...while the SuperLink itself would have believed it


REFUSED_REQUESTS = [
    "POST /v1/control/start-run HTTP/1.1",
    "POST /v1/control/list-runs HTTP/1.1",
    "POST /v1/control/register-node HTTP/1.1",
    "POST /v1/runtime/create-task HTTP/1.1",
    "POST /v1/runtime/get-nodes HTTP/1.1",
    "POST /v1/runtime/push-logs HTTP/1.1",
    "GET /v1/fleet/pull-messages HTTP/1.1",
    "PUT /v1/fleet/get-run HTTP/1.1",
    "OPTIONS /v1/fleet/get-run HTTP/1.1",
    "GET /health HTTP/1.1",
    "GET /docs HTTP/1.1",
    "GET /openapi.json HTTP/1.1",
    "POST / HTTP/1.1",
    "POST /v1/fleet/../control/start-run HTTP/1.1",
    "POST /v1/fleet/%2e%2e/control/start-run HTTP/1.1",
    "POST /v1/fleet/%2E%2E%2Fcontrol%2Fstart-run HTTP/1.1",
    "POST /v1/fleet/get-run/../../control/start-run HTTP/1.1",
    "POST /v1/fleet/./get-run HTTP/1.1",
    "POST //v1/fleet/get-run HTTP/1.1",
    "POST /v1//fleet/get-run HTTP/1.1",
    "POST /v1/fleet//get-run HTTP/1.1",
    "POST /v1/fleet/get-run/ HTTP/1.1",
    "POST /v1/fleet/get-run/extra HTTP/1.1",
    "POST /v1/fleet/get-run?next=/v1/control/start-run HTTP/1.1",
    "POST /v1/fleet/get-run;/../../control/start-run HTTP/1.1",
    "POST /v1/fleet/get%2drun HTTP/1.1",
    "POST /v1/fleet/GET-RUN HTTP/1.1",
    "POST /v1/fleet/get-run%00 HTTP/1.1",
    "POST /v1/fleet/get-run%2f..%2f..%2fcontrol%2fstart-run HTTP/1.1",
    "POST /V1/FLEET/get-run HTTP/1.1",
    "POST https://127.0.0.1/v1/control/start-run HTTP/1.1",
    "POST /v1/fleet HTTP/1.1",
    "POST /v1/fleet/ HTTP/1.1",
    "POST /" + "a" * 3000 + " HTTP/1.1",
]


def test_everything_else_is_refused_by_the_gateway_itself(stack):
    before_access = len(stack.access_lines())
    before_log = len(stack.gateway_log.read_text().splitlines())
    for request_line in REFUSED_REQUESTS:
        assert _raw_request(stack, request_line, b"\x08\x01") == (REFUSED_STATUS, REFUSED), (
            request_line
        )

    def logged_refusals() -> list[str]:
        lines = stack.gateway_log.read_text().splitlines()[before_log:]
        return [line for line in lines if "refused" in line]

    deadline = time.monotonic() + 10  # the log is written after the reply: wait for it
    while len(logged_refusals()) < len(REFUSED_REQUESTS) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert stack.access_lines()[before_access:] == []  # none reached the SuperLink
    refusals = logged_refusals()
    assert len(refusals) == len(REFUSED_REQUESTS)
    assert "refused POST /v1/control/start-run from 127.0.0.1:" in refusals[0]
    assert any("refused POST /v1/fleet/get-run?next=/v1/control/start-run" in x for x in refusals)
    assert f"POST /{'a' * 199}... from 127.0.0.1:" in refusals[-1]  # 200 characters
    assert "\x08" not in stack.gateway_log.read_text()  # no body byte was logged
    assert _printable(b"/x\x1b[31m\n\\\xff") == "/x\\x1b[31m\\n\\\\\\xff"


def test_an_oversize_body_is_answered_413_without_reaching_the_superlink(stack):
    before, started = len(stack.access_lines()), time.monotonic()
    # Declared too large: answered before any body byte arrives, then the gateway closes.
    with (
        socket.create_connection(("127.0.0.1", stack.gateway), timeout=10) as raw,
        stack.tls().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(
            b"POST /v1/fleet/push-object HTTP/1.1\r\nHost: x\r\n"
            + f"Content-Length: {MAX_BODY + 1}\r\n\r\n".encode()
        )
        assert _read_response(tls)[0] == 413
    assert time.monotonic() - started < 3  # closed at once, not after keep-alive timeout
    # Chunked, no length: counted while read, refused once past the limit.
    with (
        socket.create_connection(("127.0.0.1", stack.gateway), timeout=10) as raw,
        stack.tls().wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"POST /v1/fleet/push-object HTTP/1.1\r\nHost: x\r\n")
        tls.sendall(b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(MAX_BODY // 65536):
            tls.sendall(b"%x\r\n%s\r\n" % (65536, b"\0" * 65536))
        tls.sendall(b"1\r\n\0")  # the byte past the limit (nothing after it to reset)
        assert _read_response(tls)[0] == 413
    # Exactly at the limit: forwarded (and Flower answers it).
    status, payload = _raw_request(stack, "POST /v1/fleet/push-object HTTP/1.1", b"\0" * MAX_BODY)
    assert status != 413 and payload != REFUSED
    new = stack.access_lines()[before:]
    assert len(new) == 1 and "/v1/fleet/push-object" in new[0]


class SilentTlsServer(threading.Thread):
    """Accepts TLS connections and reads requests, but never answers (an upstream hang)."""

    def __init__(self, pki: PkiLayout, port: int) -> None:
        super().__init__(daemon=True)
        self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.context.load_cert_chain(pki.server_cert, pki.server_key)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.held: list[socket.socket] = []

    def run(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                connection, _ = self.listener.accept()
                with contextlib.suppress(OSError):
                    self.held.append(self.context.wrap_socket(connection, server_side=True))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept()
        self.listener.close()
        self.join(timeout=5)
        for held in self.held:
            held.close()


def test_upstream_down_is_502_a_hung_upstream_504_and_sigterm_stops_cleanly(stack, tmp_path):
    upstream = free_port()  # nothing listens there yet
    log = tmp_path / "gateway.log"
    gateway = stack.start(
        _gateway_command(stack.pki, "127.0.0.1:0", upstream, "--timeout", "1"), log
    )
    line = _wait_for(
        lambda: next((x for x in log.read_text().splitlines() if "ready on" in x), None),
        "ready line",
        gateway,
        log,
        30,
    )
    port = int(str(line).rsplit(":", 1)[1])
    request = "POST /v1/fleet/get-run HTTP/1.1"
    assert _raw_request(stack, request, port=port) == (502, b'{"detail":"SuperLink unreachable"}')
    silent = SilentTlsServer(stack.pki, upstream)
    silent.start()
    try:
        started = time.monotonic()
        assert _raw_request(stack, request, port=port) == (504, b'{"detail":"SuperLink timed out"}')
        assert time.monotonic() - started < 5
    finally:
        silent.close()
    assert _raw_request(stack, request, port=port)[0] == 502  # down again
    gateway.send_signal(signal.SIGTERM)
    assert gateway.wait(timeout=15) == 0
    assert "Finished server process" in log.read_text()


def _register(stack: Stack, public: Path) -> subprocess.CompletedProcess[str]:
    home = stack.root / "flwr-home"
    home.mkdir(exist_ok=True)
    connection = {
        "address": f"127.0.0.1:{stack.internal}",
        "root-certificates": str(stack.pki.ca_cert),
    }
    (home / "config.toml").write_text(
        tomli_w.dumps({"superlink": {"default": "loopback", "loopback": connection}})
    )
    return subprocess.run(
        [str(BIN / "flwr"), "supernode", "register", str(public), "loopback"],
        env=flower_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _supernode(stack: Stack, key: Path, log: Path) -> subprocess.Popen:
    return stack.start(
        [
            str(BIN / "flower-supernode"),
            "--superlink",
            f"127.0.0.1:{stack.gateway}",
            "--root-certificates",
            str(stack.pki.ca_cert),
            "--auth-supernode-private-key",
            str(key),
            "--port",
            str(free_port()),
        ],
        log,
    )


def test_a_real_supernode_connects_through_the_gateway(stack, tmp_path):
    private, public = issue_node_key(stack.pki.root, "bank_a")
    registered = _register(stack, public)  # the Control API: loopback only
    assert registered.returncode == 0, registered.stdout + registered.stderr
    refusals_before = stack.gateway_log.read_text().count("refused")
    node = _supernode(stack, private, tmp_path / "node.log")
    try:
        for answer in (ACTIVATED, '"POST /v1/fleet/pull-messages HTTP/1.1" 200'):
            _wait_for(
                lambda answer=answer: any(answer in line for line in stack.access_lines()),
                f"{answer} through the gateway",
                node,
                tmp_path / "node.log",
                40,
            )
        listed = subprocess.run(
            [str(BIN / "flwr"), "supernode", "list", "loopback", "--format", "json"],
            env=flower_env(stack.root / "flwr-home"),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert '"online"' in listed.stdout, listed.stdout + listed.stderr
    finally:
        stop_tree(node)
    assert stack.gateway_log.read_text().count("refused") == refusals_before
    outsider = PkiLayout(tmp_path / "outsider")
    stranger, _ = issue_node_key(outsider.root, "intruder")
    refused = _supernode(stack, stranger, tmp_path / "stranger.log")
    try:
        assert refused.wait(timeout=40) != 0
    finally:
        stop_tree(refused)
    assert "Failed to activate SuperNode" in (tmp_path / "stranger.log").read_text()


@pytest.fixture
def netns() -> Iterator[tuple[str, str, str]]:
    """A network namespace joined to this one by a veth pair: (name, host ip, ns ip)."""
    with network_namespace() as joined:
        yield joined


def test_from_another_network_namespace_only_the_fleet_api_is_reachable(stack, netns):
    name, host_ip, ns_ip = netns
    result = probe_from_namespace(name, host_ip, stack.internal, stack.gateway, stack.pki.ca_cert)
    assert result["internal"] == "ConnectionRefusedError"  # the SuperLink: loopback only
    assert result["control"] == [REFUSED_STATUS, REFUSED.decode()]
    assert result["fleet"] == [401, FLOWER_AUTH_ANSWER.decode()]
    assert f"refused POST /v1/control/start-run from {ns_ip}:" in stack.gateway_log.read_text()
