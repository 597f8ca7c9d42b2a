"""A real consortium on this machine: coordinator and three institutions over TLS, node
authentication, approved releases only, signed runs only, and the attacks on all of it.

Every process is real (`fedscore server start`, `fedscore node start`, `fedscore run`
wrapping Flower's own tools); the tests start them on free ports and stop them.
"""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import ssl
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import tomli_w
from deployment_consortium import OWNER, PARTIES, Consortium, fedscore_command, prepare
from leak_scan import assert_nothing_personal, captured_replies
from process_support import (
    flower_env,
    free_port,
    network_namespace,
    probe_from_namespace,
    stop_tree,
    wait_for_text,
)

from fedscore.core.signing import SigningKey
from fedscore.deployment import supernode_process
from fedscore.deployment.pki import PkiLayout, init_pki, issue_node_key
from fedscore.deployment.release import unpack_release

pytestmark = pytest.mark.simulation
START_TIMEOUT_S = 120.0


@pytest.fixture(scope="module")
def consortium(tmp_path_factory, market, make_node) -> Iterator[Consortium]:
    root = tmp_path_factory.mktemp("deployment")
    tables = {name: market.parties[name].head(3000) for name in PARTIES}
    running = prepare(root, make_node, tables, market.consortium_test.head(1500))
    try:
        server = running.start(
            root / "server.log", "server", "start", "--config", str(running.server_config)
        )
        wait_for_text(root / "server.log", "SuperLink ready", server, START_TIMEOUT_S)
        for name, config in running.nodes.items():
            running.start(root / f"{name}.log", "node", "start", "--config", str(config))
        yield running
    finally:
        running.stop_all()


def _run(consortium: Consortium, log_name: str, *args: str, timeout: float = 400):
    """`fedscore run` to its end: (exit status, what it printed)."""
    log = consortium.root / log_name
    process = consortium.start(log, "run", *args)
    process.wait(timeout=timeout)
    return process.returncode, log.read_text(errors="replace")


def _ledger_sizes(consortium: Consortium) -> dict[str, int]:
    return {name: consortium.ledger_size(name) for name in PARTIES}


# --- the trust boundary: what an outsider and a hostile insider cannot do ---------------


def test_the_coordinator_speaks_tls_only_with_the_consortium_ca(consortium, tmp_path):
    trusted = ssl.create_default_context(cafile=str(consortium.pki.ca_cert))
    with (
        socket.create_connection(("127.0.0.1", consortium.port), timeout=10) as raw,
        trusted.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    other = init_pki(tmp_path / "other-pki", ["127.0.0.1"])
    stranger = ssl.create_default_context(cafile=str(other.ca_cert))
    with (
        socket.create_connection(("127.0.0.1", consortium.port), timeout=10) as raw,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        stranger.wrap_socket(raw, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", consortium.port), timeout=10) as raw:
        raw.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        raw.settimeout(10)
        answer = raw.recv(200)
    # A TLS server answers plaintext with a TLS alert record (type 21) or just closes;
    # any HTTP status line would mean the port also speaks plaintext.
    assert answer == b"" or answer[:1] == b"\x15", f"plaintext got an answer: {answer[:40]!r}"


def test_an_outsider_reaches_only_the_fleet_api(consortium):
    """From another host (a network namespace), holding the CA certificate: the SuperLink's
    own port is closed, and the gateway refuses the control and runtime APIs."""
    with network_namespace() as (namespace, host_ip, _outsider_ip):
        seen = probe_from_namespace(
            namespace, host_ip, consortium.internal_port, consortium.port, consortium.pki.ca_cert
        )
    assert seen["internal"] == "ConnectionRefusedError"
    for api in ("control", "register", "runtime"):
        status, body = seen[api]  # type: ignore[misc]
        assert status == 404 and "fleet gateway" in body, (api, status, body)
    assert seen["fleet"][0] == 401  # type: ignore[index]  # Flower's node authentication


def test_an_outsider_cannot_register_a_node_key(consortium, tmp_path):
    """`flwr supernode register` through the public address fails, and a node with the
    outsider's (unregistered) key is not let in."""
    outsider = PkiLayout(tmp_path / "outsider-pki")
    key, public = issue_node_key(outsider.root, "intruder")
    home = tmp_path / "flwr-home"
    home.mkdir()
    (home / "config.toml").write_text(
        tomli_w.dumps({"superlink": {"default": "c", "c": {
            "address": f"127.0.0.1:{consortium.port}",
            "root-certificates": str(consortium.pki.ca_cert)}}}),
        encoding="utf-8",
    )  # fmt: skip
    registered = subprocess.run(
        ["flwr", "supernode", "register", str(public), "c"],
        env=flower_env(home), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert registered.returncode != 0, registered.stdout
    config = _stranger_node(consortium, tmp_path, "intruder", consortium.pki.ca_cert, key)
    result = _start_node_once(config)
    assert result.returncode != 0
    assert "Failed to activate SuperNode" in result.stdout + result.stderr


def test_a_modified_app_is_refused_at_every_node_and_none_of_it_runs(consortium):
    """The coordinator is compromised (it approved the attacker's bundle); the bundle's
    ClientApp would copy each bank's raw table. Every institution refuses it before any
    of its code runs, spends nothing, and the model owner's run fails naming them."""
    before = _ledger_sizes(consortium)
    options = consortium.owner_options(consortium.hostile_fab)
    status, output = _run(
        consortium, "hostile-run.log", *options, "--parties", "3", "--rounds", "1",
        "--runs-dir", str(consortium.root / "hostile-runs"), "--no-secure-aggregation",
    )  # fmt: skip
    assert status == 1, output[-3000:]
    hostile = hashlib_of(consortium.hostile_fab)
    for name in PARTIES:
        assert f"{name} refused app sha256:{hostile}: not an approved release" in output
        node_log = (consortium.nodes[name].parent / "state" / "executor.log").read_text()
        assert f"{name} refused app sha256:{hostile}" in node_log
    assert _ledger_sizes(consortium) == before
    assert not consortium.markers.exists(), list(consortium.markers.iterdir())


def test_an_app_the_coordinator_did_not_approve_never_starts(consortium):
    before = _ledger_sizes(consortium)
    options = consortium.owner_options(consortium.rogue_fab)
    status, output = _run(
        consortium, "rogue-run.log", *options, "--parties", "3", "--rounds", "1",
        "--runs-dir", str(consortium.root / "rogue-runs"),
    )  # fmt: skip
    assert status == 1 and "the run did not finish" in output, output[-3000:]
    executor_log = (consortium.root / "coordinator" / "executor.log").read_text()
    assert f"app sha256:{hashlib_of(consortium.rogue_fab)}: not an approved release" in (
        executor_log
    )
    assert _ledger_sizes(consortium) == before
    assert not consortium.markers.exists()


def test_unsigned_and_foreign_signed_runs_are_refused_and_spend_nothing(consortium, tmp_path):
    before = _ledger_sizes(consortium)
    # Unsigned: the approved release submitted with Flower's own tool, no request.
    app = tmp_path / "app"
    unpack_release(consortium.release.read_bytes(), app)
    home = tmp_path / "flwr-home"
    home.mkdir()
    (home / "config.toml").write_text(
        tomli_w.dumps({"superlink": {"default": "c", "c": {
            "address": f"127.0.0.1:{consortium.internal_port}",
            "root-certificates": str(consortium.pki.ca_cert)}}}),
        encoding="utf-8",
    )  # fmt: skip
    unsigned = subprocess.run(
        ["flwr", "run", str(app), "c", "--stream", "--run-config", "parties=3 rounds=1"],
        env=flower_env(home), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "unsigned run" in unsigned.stdout + unsigned.stderr, unsigned.stdout[-2000:]
    # Signed by a key no party lists, under the owner's name.
    SigningKey.create(tmp_path / "forger.pem")
    options = consortium.owner_options()
    options[options.index("--owner-key") + 1] = str(tmp_path / "forger.pem")
    status, output = _run(
        consortium, "forged-run.log", *options, "--parties", "3", "--rounds", "1",
        "--runs-dir", str(consortium.root / "forged-runs"),
    )  # fmt: skip
    assert status == 1, output[-3000:]
    assert f"signed as '{OWNER}' by a key that is not a model owner's key" in output
    assert _ledger_sizes(consortium) == before


def test_runs_outside_every_partys_policy_are_declined_with_reasons(consortium):
    """Epsilon above the per-run cap, a strategy no party allows, a non-private run: the
    run is refused before round 1, every party's reasons reach the model owner, and
    nothing is spent."""
    before = _ledger_sizes(consortium)
    status, output = _run(
        consortium, "policy-run.log", *consortium.owner_options(), "--parties", "3",
        "--rounds", "1", "--runs-dir", str(consortium.root / "policy-runs"),
        "--epsilon", "3", "--no-secure-aggregation", "--option", "private=false",
        "--option", "strategy=fedmedian",
    )  # fmt: skip
    assert status == 1, output[-3000:]
    assert "the run was refused before round 1" in output
    for name in PARTIES:
        assert f"problem: {name}: epsilon 3 per run" in output
    assert "epsilon 3 per run is above this node's max_epsilon_per_run 2" in output
    assert "strategy 'fedmedian' is not allowed here" in output
    assert "non-private training is disabled" in output
    assert _ledger_sizes(consortium) == before


# --- operating a consortium: nodes joining, dying and coming back; the coordinator crashing


def _stranger_node(consortium: Consortium, tmp_path: Path, name: str, ca: Path, key: Path) -> Path:
    config = tmp_path / name / "node.toml"
    config.parent.mkdir(parents=True)
    original = consortium.nodes["city_bank"].read_text().split("\n[deployment]")[0]
    home = consortium.nodes["city_bank"].parent
    config.write_text(
        original.replace('"data/', f'"{home}/data/').replace('"keys"', f'"{home}/keys"')
        .replace('state_dir = "state"', f'state_dir = "{tmp_path / name / "state"}"')
        + "\n" + tomli_w.dumps({"deployment": {
            "superlink": f"127.0.0.1:{consortium.port}", "root_certificates": str(ca),
            "auth_key": str(key), "runtime_port": free_port()}}),
        encoding="utf-8",
    )  # fmt: skip
    return config


def _start_node_once(config: Path) -> subprocess.CompletedProcess[str]:
    """`fedscore node start` without retrying activation: how a refused node ends."""
    return subprocess.run(
        fedscore_command("node", "start", "--config", str(config), "--wait-for-activation", "0"),
        capture_output=True, text=True, timeout=120, env=flower_env(config.parent),
    )  # fmt: skip


def test_a_node_trusting_another_ca_does_not_connect(consortium, tmp_path):
    other = init_pki(tmp_path / "other-pki", ["127.0.0.1"])
    key = consortium.pki.node_key("city_bank")
    config = _stranger_node(consortium, tmp_path, "misconfigured", other.ca_cert, key)
    result = _start_node_once(config)
    assert result.returncode != 0
    assert "could not establish a connection" in result.stdout + result.stderr


def test_a_node_without_owners_or_approved_releases_is_not_started(consortium, tmp_path):
    config = consortium.nodes["city_bank"]
    for section, expected in (("policy", "model_owners is empty"), ("trust", "approves no app")):
        document = tomllib.loads(config.read_text())
        del document[section]
        bad = config.parent / f"without-{section}.toml"
        bad.write_text(tomli_w.dumps(document), encoding="utf-8")
        refused = subprocess.run(
            fedscore_command("node", "start", "--config", str(bad)),
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        bad.unlink()
        assert refused.returncode == 2 and expected in refused.stderr, refused.stderr


def test_plaintext_needs_the_explicit_development_flag(consortium, tmp_path):
    config = consortium.nodes["city_bank"]
    bad = tmp_path / "node.toml"
    bad.write_text(config.read_text().replace("root_certificates", "#root_certificates"))
    refused = subprocess.run(
        fedscore_command("node", "start", "--config", str(bad)),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert refused.returncode == 2 and "[deployment] needs 'root_certificates'" in refused.stderr

    server_config = tmp_path / "server.toml"
    server_config.write_text(
        tomli_w.dumps({"superlink": {"pki": str(consortium.pki.root), "state_dir": "dev",
                                     "host": "127.0.0.1", "port": free_port()}}),
        encoding="utf-8",
    )  # fmt: skip
    log = tmp_path / "dev-server.log"
    development = subprocess.Popen(
        fedscore_command("server", "start", "--config", str(server_config), "--insecure-dev"),
        stdout=log.open("ab"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_for_text(log, "SuperLink ready", development, START_TIMEOUT_S)
        assert "WARNING: --insecure-dev" in log.read_text()
    finally:
        stop_tree(development)


def test_three_institutions_train_over_tls_and_survive_a_coordinator_crash(
    consortium, fedscore_cli, market
):
    """A 2-round signed run over TLS with node authentication; after round 1 the whole
    coordinator (SuperLink, executor, gateway, ServerApp) is SIGKILLed, restarted, and the
    run resumed with its own signed request: it completes, and no party is charged for a
    round twice. Every reply the nodes sent travelled packed and holds no personal value.
    (Aggregation in the clear here; SecAgg+ is exercised by the node-death test, with a
    dropout.)"""
    root = consortium.root
    runs_dir = root / "runs"
    log = root / "first-run.log"
    first = consortium.start(
        log, "run", *consortium.owner_options(), "--parties", "3", "--rounds", "2",
        "--runs-dir", str(runs_dir), "--test", str(consortium.test), "--no-secure-aggregation",
    )  # fmt: skip
    # Kill when every node has trained and committed round 2 but the server has not yet
    # checkpointed it: the worst moment for double charging. The ServerApp is frozen as
    # soon as one node committed round 2 (it cannot have all replies yet), so that the
    # other nodes finish the round while the coordinator cannot book it.
    deadline = time.monotonic() + 300
    run_dir, frozen = None, False
    while time.monotonic() < deadline and first.poll() is None:
        found = list(runs_dir.glob("*/checkpoint/state.json"))
        trained = [
            2 in _trained_rounds(config, found[0].parent.parent.name) if found else False
            for config in consortium.nodes.values()
        ]
        if any(trained) and not frozen:
            for serverapp in _serverapp_processes(consortium.processes[0]):
                serverapp.send_signal(signal.SIGSTOP)
            frozen = True
        if all(trained):
            run_dir = found[0].parent.parent
            break
        time.sleep(0.02)
    assert run_dir is not None, log.read_text(errors="replace")[-3000:]
    stop_tree(consortium.processes[0], signal.SIGKILL)  # the whole coordinator dies
    stop_tree(first, signal.SIGKILL)
    state = json.loads((run_dir / "checkpoint" / "state.json").read_text())
    assert state["completed_round"] == 1
    assert not (run_dir / "summary.json").exists()

    log = root / "server-restarted.log"
    restarted = consortium.start(log, "server", "start", "--config", str(consortium.server_config))
    consortium.processes[0] = restarted
    wait_for_text(log, "SuperLink ready", restarted, START_TIMEOUT_S)
    resume = ["--server-config", str(consortium.server_config), "--release",
              str(consortium.release), "--flwr-home", str(root / "owner-flwr")]  # fmt: skip
    result = fedscore_cli("run", *resume, "--resume", str(run_dir), cwd=root, timeout=500)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rounds"] == 2 and summary["run_id"] == run_dir.name
    assert summary["verdict"] == {"ok": True, "problems": []}
    assert summary["consortium_test"]["auc"] > 0.65
    heads = json.loads((run_dir / "ledger_heads.json").read_text())
    assert {p: len(h) for p, h in heads.items()} == dict.fromkeys(PARTIES, 2)
    request_sha256 = json.loads((run_dir / "run_request.json").read_text())
    for name, config in consortium.nodes.items():
        party = summary["parties"][name]
        assert party["rounds_trained"] == 2 and 0.9 < party["epsilon"] <= 1.0
        trained = _trained_rounds(config, run_dir.name)
        assert trained == [1, 2], f"{name} was charged for rounds {trained}"
        for head in heads[name]:
            assert head["content"]["authorization"]["owner"] == OWNER
    assert request_sha256["request"]["owner"] == OWNER
    # Round 2 was asked again after the restart: every node re-sent its committed update.
    resumed = json.loads((run_dir / "metrics.json").read_text())["rounds"][1]["parties"]
    assert all("re-sent" in resumed[name]["note"] for name in PARTIES), resumed
    assert not consortium.markers.exists()

    listed = fedscore_cli("runs", "--server-config", str(consortium.server_config), cwd=root)
    assert listed.returncode == 0, listed.stderr[-2000:]

    sent = captured_replies(list(consortium.nodes.values()))
    assert sent and not any(path.name.startswith("Array-") for path in sent)  # all packed
    tables = [market.parties[name].head(3000) for name in PARTIES]
    assert_nothing_personal([*sent, *(p for p in run_dir.rglob("*") if p.is_file())], tables)


def _serverapp_processes(coordinator: subprocess.Popen) -> list[psutil.Process]:
    """The coordinator's ServerApp task processes: its executor's forkserver's children."""
    found = []
    for process in psutil.Process(coordinator.pid).children(recursive=True):
        try:
            parent = process.parent()
            if parent is not None and "forkserver" in " ".join(parent.cmdline()):
                found.append(process)
        except psutil.NoSuchProcess:
            continue
    return found


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


def test_a_node_that_dies_mid_run_is_left_out_and_rejoins(consortium):
    """Under SecAgg+ (`fedscore run`'s default), kill one institution's node (SuperNode and
    executor) once it has answered the check before round 1: round 1 completes with the
    other two (min_parties 2; the dead node drops out of the secure-aggregation protocol),
    the dead node is charged nothing for it, and after a restart it trains rounds 2 and 3."""
    root = consortium.root
    runs_dir = root / "node-death-runs"
    victim = "loan_facilitator"
    victim_log = root / f"{victim}.log"
    seen = victim_log.stat().st_size
    # Long enough that round 1 (SecAgg+ setup and evaluation each wait for the dead node)
    # outlasts the SuperLink's patience with a silent node (two 10 s heartbeat intervals,
    # `supernode_process.HEARTBEAT_SECONDS`), after which the restarted node is let in.
    timeout = 25
    log = root / "node-death-run.log"
    run = consortium.start(
        log, "run", *consortium.owner_options(), "--parties", "3", "--rounds", "3",
        "--runs-dir", str(runs_dir), "--option", f"round-timeout={timeout}",
    )  # fmt: skip
    deadline = time.monotonic() + 300
    answered = False
    while time.monotonic() < deadline and not answered and run.poll() is None:
        with victim_log.open("rb") as handle:
            handle.seek(seen)
            text = handle.read()
        # It has answered the check before round 1 (its reply fully uploaded).
        answered = b"Sent successfully" in text.partition(b"Sending: query message")[2]
        time.sleep(0.05)
    found = list(runs_dir.glob("*/run_config.json"))
    assert answered and found, log.read_text(errors="replace")[-3000:]
    run_dir = found[0].parent
    index = 1 + list(consortium.nodes).index(victim)  # processes: coordinator, then nodes
    stop_tree(consortium.processes[index], signal.SIGKILL)
    time.sleep(2 * supernode_process.HEARTBEAT_SECONDS + 3)
    consortium.processes[index] = consortium.start(
        root / f"{victim}.log", "node", "start", "--config", str(consortium.nodes[victim])
    )
    run.wait(timeout=400)
    output = log.read_text(errors="replace")
    # Round 1 lost a party but still aggregated: the run did what was asked.
    assert run.returncode == 0, output[-3000:]

    rounds = json.loads((run_dir / "metrics.json").read_text())["rounds"]
    assert [r["round"] for r in rounds] == [1, 2, 3]
    assert rounds[0]["parties"][victim]["status"] == "failed"
    assert rounds[0]["aggregated"]  # the two others were enough
    assert all(r["parties"][victim]["status"] == "trained" for r in rounds[1:])  # it rejoined
    assert all(r["aggregated"] for r in rounds)
    assert _trained_rounds(consortium.nodes[victim], run_dir.name) == [2, 3]
    for name in PARTIES:
        if name != victim:
            assert _trained_rounds(consortium.nodes[name], run_dir.name) == [1, 2, 3]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["secure_aggregation"] is True
    heads = json.loads((run_dir / "ledger_heads.json").read_text())
    assert {p: len(h) for p, h in heads.items()} == {**dict.fromkeys(PARTIES, 3), victim: 2}


def hashlib_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()
