"""A real consortium on 127.0.0.1: SuperLink and three SuperNodes over TLS with node auth.

Every process is real (`fedscore server start`, `fedscore node start`, `fedscore run`
wrapping Flower's own tools); the test starts them on free ports and stops them.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest
import tomli_w

from fedscore.core.tabular import write_table
from fedscore.deployment.pki import PkiLayout, init_pki, issue_node_key

pytestmark = pytest.mark.simulation
PARTIES = ("large_bank", "city_bank", "loan_facilitator")
START_TIMEOUT_S = 120.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _fedscore_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fedscore.cli.main", *args]


@dataclass
class Deployment:
    """A running consortium: the coordinator's and every institution's files and processes."""

    root: Path
    pki: PkiLayout
    port: int
    nodes: dict[str, Path]
    test: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    def start(self, log: Path, *args: str) -> subprocess.Popen:
        """A fedscore command in its own process group (so all its children stop with it)."""
        process = subprocess.Popen(
            _fedscore_command(*args),
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "FLWR_TELEMETRY_ENABLED": "0"},
        )
        self.processes.append(process)
        return process

    @property
    def owner_options(self) -> list[str]:
        """How the model owner's `fedscore run|runs` reach this federation."""
        return [
            "--superlink", f"127.0.0.1:{self.port}",
            "--root-certificates", str(self.pki.ca_cert),
            "--flwr-home", str(self.root / "owner-flwr"),
        ]  # fmt: skip

    def stop_all(self) -> None:
        for process in self.processes:
            stop_tree(process, signal.SIGTERM)


def stop_tree(process: subprocess.Popen, how: signal.Signals) -> None:
    """Stop a process and every process it started (Flower detaches some into new sessions)."""
    try:
        tree = [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        tree = []
    for member in tree:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.send_signal(how)
    _, alive = psutil.wait_procs(tree, timeout=20)
    for member in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            member.kill()
    psutil.wait_procs(alive, timeout=10)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _wait_for_text(path: Path, text: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            break
        time.sleep(0.3)
    log = path.read_text(errors="replace")[-3000:] if path.exists() else ""
    pytest.fail(f"'{text}' not seen in {path.name} (exit {process.poll()}):\n{log}")


def _deployment_section(root: Path, pki: PkiLayout, port: int, key: Path, runtime: int) -> str:
    return "\n" + tomli_w.dumps(
        {
            "deployment": {
                "superlink": f"127.0.0.1:{port}",
                "root_certificates": str(pki.ca_cert),
                "auth_key": str(key),
                "runtime_port": runtime,
            }
        }
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, market, make_node) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deployment")
    pki = init_pki(root / "pki", ["127.0.0.1", "localhost"], organization="test consortium")
    port = _free_port()
    nodes: dict[str, Path] = {}
    for name in PARTIES:
        private, _ = issue_node_key(pki.root, name)
        config = make_node(root / name, name, market.parties[name].head(3000), max_epsilon=5.0)
        with config.open("a", encoding="utf-8") as handle:
            handle.write(_deployment_section(root, pki, port, private, _free_port()))
        nodes[name] = config
    test = root / "consortium_test.csv"
    write_table(market.consortium_test.head(1500), test)
    (root / "server.toml").write_text(
        tomli_w.dumps(
            {
                "superlink": {
                    "pki": "pki",
                    "state_dir": "coordinator",
                    "host": "127.0.0.1",
                    "port": port,
                }
            }
        ),
        encoding="utf-8",
    )
    running = Deployment(root, pki, port, nodes, test)
    try:
        server = running.start(
            root / "server.log", "server", "start", "--config", str(root / "server.toml")
        )
        _wait_for_text(root / "server.log", "SuperLink ready", server, START_TIMEOUT_S)
        for name, config in nodes.items():
            running.start(root / f"{name}.log", "node", "start", "--config", str(config))
        yield running
    finally:
        running.stop_all()


def test_the_superlink_speaks_tls_only_with_the_consortium_ca(deployment, tmp_path):
    trusted = ssl.create_default_context(cafile=str(deployment.pki.ca_cert))
    with (
        socket.create_connection(("127.0.0.1", deployment.port), timeout=10) as raw,
        trusted.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    other = init_pki(tmp_path / "other-pki", ["127.0.0.1"])
    stranger = ssl.create_default_context(cafile=str(other.ca_cert))
    with (
        socket.create_connection(("127.0.0.1", deployment.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        stranger.wrap_socket(raw, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", deployment.port), timeout=10) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        raw.settimeout(10)
        answer = raw.recv(200)
    # A TLS server answers plaintext with a TLS alert record (type 21) or just closes;
    # any HTTP status line would mean the port also speaks plaintext.
    assert answer == b"" or answer[:1] == b"\x15", f"plaintext got an answer: {answer[:40]!r}"


def _stranger_node(deployment: Deployment, tmp_path: Path, name: str, ca: Path, key: Path) -> Path:
    config = tmp_path / name / "node.toml"
    config.parent.mkdir(parents=True)
    original = deployment.nodes["city_bank"].read_text().split("\n[deployment]")[0]
    home = deployment.nodes["city_bank"].parent
    config.write_text(
        original.replace('"data/', f'"{home}/data/').replace('"keys"', f'"{home}/keys"')
        .replace('state_dir = "state"', f'state_dir = "{tmp_path / name / "state"}"')
        + "\n" + tomli_w.dumps({"deployment": {
            "superlink": f"127.0.0.1:{deployment.port}", "root_certificates": str(ca),
            "auth_key": str(key), "runtime_port": _free_port()}}),
        encoding="utf-8",
    )  # fmt: skip
    return config


def _start_node_once(config: Path) -> subprocess.CompletedProcess[str]:
    """`fedscore node start` without retrying activation: how a refused node ends."""
    return subprocess.run(
        _fedscore_command("node", "start", "--config", str(config), "--wait-for-activation", "0"),
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "FLWR_TELEMETRY_ENABLED": "0"},
    )  # fmt: skip


def test_an_unregistered_node_is_refused(deployment, tmp_path):
    outsider = PkiLayout(tmp_path / "outsider-pki")
    key, _ = issue_node_key(outsider.root, "intruder")
    config = _stranger_node(deployment, tmp_path, "intruder", deployment.pki.ca_cert, key)
    result = _start_node_once(config)
    assert result.returncode != 0
    assert "Failed to activate SuperNode" in result.stdout + result.stderr
    server_log = (deployment.root / "coordinator" / "superlink.log").read_text(errors="replace")
    assert "No SuperNode found with the given public key" in server_log


def test_a_node_trusting_another_ca_does_not_connect(deployment, tmp_path):
    other = init_pki(tmp_path / "other-pki", ["127.0.0.1"])
    key = deployment.pki.node_key("city_bank")
    config = _stranger_node(deployment, tmp_path, "misconfigured", other.ca_cert, key)
    result = _start_node_once(config)
    assert result.returncode != 0
    assert "could not establish a connection" in result.stdout + result.stderr


def test_plaintext_needs_the_explicit_development_flag(deployment, tmp_path):
    config = deployment.nodes["city_bank"]
    bad = tmp_path / "node.toml"
    bad.write_text(config.read_text().replace("root_certificates", "#root_certificates"))
    refused = subprocess.run(
        _fedscore_command("node", "start", "--config", str(bad)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "[deployment] needs 'root_certificates'" in refused.stderr

    server_config = tmp_path / "server.toml"
    server_config.write_text(
        tomli_w.dumps({"superlink": {"pki": str(deployment.pki.root), "state_dir": "dev",
                                     "host": "127.0.0.1", "port": _free_port()}}),
        encoding="utf-8",
    )  # fmt: skip
    log = tmp_path / "dev-server.log"
    development = subprocess.Popen(
        _fedscore_command("server", "start", "--config", str(server_config), "--insecure-dev"),
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        _wait_for_text(log, "SuperLink ready", development, START_TIMEOUT_S)
        assert "WARNING: --insecure-dev" in log.read_text()
    finally:
        stop_tree(development, signal.SIGTERM)


def test_three_institutions_train_over_tls_and_survive_a_coordinator_crash(
    deployment, fedscore_cli
):
    """A 2-round run over TLS with node authentication; after round 1 the coordinator
    (SuperLink, SuperExec, ServerApp) is SIGKILLed, restarted, and the run resumed: it
    completes, and no party is charged for a round twice. (Aggregation in the clear here;
    SecAgg+ in deployment is exercised by the node-death test, with a dropout.)"""
    root = deployment.root
    runs_dir = root / "runs"
    owner = deployment.owner_options
    log = root / "first-run.log"
    first = deployment.start(
        log, "run", *owner, "--parties", "3", "--rounds", "2", "--runs-dir", str(runs_dir),
        "--test", str(deployment.test), "--no-secure-aggregation",
    )  # fmt: skip
    # Kill when every node has trained and committed round 2 but the server has not yet
    # checkpointed it (it is still evaluating): the worst moment for double charging.
    deadline = time.monotonic() + 300
    run_dir = None
    while time.monotonic() < deadline and first.poll() is None:
        found = list(runs_dir.glob("*/checkpoint/state.json"))
        if found and all(
            2 in _trained_rounds(config, found[0].parent.parent.name)
            for config in deployment.nodes.values()
        ):
            run_dir = found[0].parent.parent
            break
        time.sleep(0.1)
    assert run_dir is not None, log.read_text(errors="replace")[-3000:]
    server = deployment.processes[0]
    stop_tree(server, signal.SIGKILL)  # the coordinator dies: SuperLink, SuperExec, ServerApp
    stop_tree(first, signal.SIGKILL)
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["completed_round"] == 1
    assert not (run_dir / "summary.json").exists()

    restarted = deployment.start(
        root / "server.log", "server", "start", "--config", str(root / "server.toml")
    )
    deployment.processes[0] = restarted
    _wait_for_text(root / "server.log", "SuperLink ready", restarted, START_TIMEOUT_S)
    result = fedscore_cli("run", *owner, "--resume", str(run_dir), cwd=root, timeout=500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rounds"] == 2 and summary["run_id"] == run_dir.name
    assert summary["consortium_test"]["auc"] > 0.65
    heads = json.loads((run_dir / "ledger_heads.json").read_text())
    assert {p: len(h) for p, h in heads.items()} == dict.fromkeys(PARTIES, 2)
    for name, config in deployment.nodes.items():
        party = summary["parties"][name]
        assert party["rounds_trained"] == 2 and 0.9 < party["epsilon"] <= 1.0
        trained = _trained_rounds(config, run_dir.name)
        assert trained == [1, 2], f"{name} was charged for rounds {trained}"
    # Round 2 was asked again after the restart: every node re-sent its committed update.
    resumed = json.loads((run_dir / "metrics.json").read_text())["rounds"][1]["parties"]
    assert all("re-sent" in resumed[name]["note"] for name in PARTIES), resumed

    listed = fedscore_cli("runs", *owner, cwd=root)
    assert listed.returncode == 0, listed.stderr[-2000:]


def _trained_rounds(node_config: Path, run_id: str) -> list[int]:
    """The rounds of `run_id` the node's ledger charged it for, as an auditor reads them."""
    ledger = node_config.parent / "state" / "privacy.sqlite"
    if not ledger.exists():
        return []
    db = sqlite3.connect(f"file:{ledger}?mode=ro", uri=True)
    try:
        entries = [json.loads(content) for (content,) in db.execute("SELECT content FROM ledger")]
    except sqlite3.OperationalError:  # not created yet
        return []
    finally:
        db.close()
    return sorted(
        e["server_round"] for e in entries if e["run_id"] == run_id and e["status"] == "trained"
    )


def test_a_node_that_dies_mid_run_is_left_out_and_rejoins(deployment, fedscore_cli):
    """Under SecAgg+ (`fedscore run`'s default), kill one institution's SuperNode as round 1
    starts: round 1 completes with the other two (min_parties 2; the dead node drops out
    of the secure-aggregation protocol), the dead node is charged nothing for it, and after
    a restart it trains rounds 2 and 3."""
    root = deployment.root
    runs_dir = root / "node-death-runs"
    # Long enough that round 1 (SecAgg+ setup and evaluation each wait for the dead node)
    # outlasts Flower's heartbeat patience (60 s), after which the restarted node is let in.
    timeout = 40
    owner = deployment.owner_options
    log = root / "node-death-run.log"
    run = deployment.start(
        log, "run", *owner, "--parties", "3", "--rounds", "3", "--runs-dir", str(runs_dir),
        "--option", f"round-timeout={timeout}",
    )  # fmt: skip
    deadline = time.monotonic() + 300
    found: list[Path] = []
    while time.monotonic() < deadline and not found and run.poll() is None:
        found = list(runs_dir.glob("*/run_config.json"))  # the ServerApp is starting round 1
        time.sleep(0.1)
    assert found, log.read_text(errors="replace")[-3000:]
    run_dir = found[0].parent
    victim = "loan_facilitator"
    index = 1 + list(deployment.nodes).index(victim)  # processes: server, then the nodes
    stop_tree(deployment.processes[index], signal.SIGKILL)
    time.sleep(timeout + 3)
    deployment.processes[index] = deployment.start(
        root / f"{victim}.log", "node", "start", "--config", str(deployment.nodes[victim])
    )
    run.wait(timeout=400)
    assert run.returncode == 0, log.read_text(errors="replace")[-3000:]

    rounds = json.loads((run_dir / "metrics.json").read_text())["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert rounds[0]["parties"][victim]["status"] == "failed"
    assert rounds[0]["aggregated"]  # the two others were enough
    assert all(r["parties"][victim]["status"] == "trained" for r in rounds[1:])  # it rejoined
    assert all(r["aggregated"] for r in rounds)
    assert _trained_rounds(deployment.nodes[victim], run_dir.name) == [2, 3]
    for name in PARTIES:
        if name != victim:
            assert _trained_rounds(deployment.nodes[name], run_dir.name) == [1, 2, 3]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["secure_aggregation"] is True
    heads = json.loads((run_dir / "ledger_heads.json").read_text())
    assert {p: len(h) for p, h in heads.items()} == {**dict.fromkeys(PARTIES, 3), victim: 2}
