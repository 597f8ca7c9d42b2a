"""A deployed vertical run: the bank and the loan facilitator as real SuperNodes over TLS.

Every process is real: the coordinator (`fedscore server start`), the two parties
(`fedscore node start`, each node.toml naming its vertical.toml in `[vertical]`), and the
model owner's `fedscore vertical run`, which signs the terms with the release the parties
approved and submits them to the coordinator with Flower's `flwr run`. One consortium for
the module, and its runs side by side: one that finishes, two that the parties refuse.
"""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import tomli_w
from deployment_consortium import start_fedscore, write_server_config
from process_support import free_port, stop_trees, wait_for_text
from vertical_support import consented_at_both

from fedscore.core.signing import SigningKey
from fedscore.demo.vertical_consortium import VerticalConsortium, prepare_vertical_consortium
from fedscore.deployment.localhost.consortium import join_superlink, release_of_checkout
from fedscore.deployment.pki import init_pki
from fedscore.privacy.ledger import read_entries
from fedscore.vertical.audit import audit_party, cross_check
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.summary import read_summary

pytestmark = pytest.mark.slow  # a real coordinator and two SuperNodes over TLS

REPOSITORY = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120.0
#: A model owner the coordinator lists, but neither party does.
ROGUE_OWNER = "rogue_owner"


@dataclass(frozen=True)
class OwnerRun:
    """A `fedscore vertical run` the tests start, and how.

    Attributes:
        run_id: the run's id.
        options: its options beyond those naming the consortium and the pair.
        rogue: signed as `ROGUE_OWNER`, whom the coordinator lists but neither party does.
    """

    run_id: str
    options: tuple[str, ...] = ()
    rogue: bool = False


#: The run that finishes, and two that both parties must refuse: signed by an owner they do
#: not list, and with terms outside both parties' [policy].
FINISHED = OwnerRun("vertical-deployed", ("--epochs", "1"))
ROGUE = OwnerRun("rogue-owner", rogue=True)
OUTSIDE_POLICY = OwnerRun("outside-policy", ("--epsilon", "6", "--label-epsilon", "9"))


@dataclass
class VerticalDeployment:
    """The running consortium: the vertical pair's files, the coordinator's, the processes.

    Attributes:
        root: the folder holding everything.
        pair: the vertical demo pair (tables, vertical.toml files, keys, model owner).
        server_config: the coordinator's server.toml.
        release: the approved app release (.fab).
        rogue_key: the signing key of `ROGUE_OWNER`.
        processes: the coordinator, both parties' nodes, the model owner's runs.
    """

    root: Path
    pair: VerticalConsortium
    server_config: Path
    release: Path
    rogue_key: Path
    processes: list[subprocess.Popen] = field(default_factory=list)

    @property
    def runs_dir(self) -> Path:
        """The coordinator's folder of run directories."""
        return self.root / "coordinator-runs"

    def start(self, log_name: str, *args: str) -> subprocess.Popen:
        """`fedscore ARGS` in a process of its own, stopped with the consortium."""
        process = start_fedscore(self.root / log_name, *args)
        self.processes.append(process)
        return process

    def start_run(self, run: OwnerRun) -> subprocess.Popen:
        """The model owner's `fedscore vertical run`, deployed (its log: `<run id>.log`)."""
        owner = self.pair.owner
        name, key = (ROGUE_OWNER, self.rogue_key) if run.rogue else (owner.name, owner.key)
        return self.start(
            f"{run.run_id}.log", "vertical", "run", "--server-config", str(self.server_config),
            "--owner", name, "--owner-key", str(key), "--release", str(self.release),
            "--flwr-home", str(self.root / "flwr" / run.run_id),
            "--pair", str(self.pair.pair_file), "--runs-dir", str(self.runs_dir),
            "--run-id", run.run_id, "--timeout", "60", *run.options,
        )  # fmt: skip

    def configs(self) -> dict[str, VerticalNodeConfig]:
        """Each party's vertical config, by name."""
        return {
            config.party: config
            for config in map(VerticalNodeConfig.from_toml, self.pair.node_configs)
        }

    def stop_all(self) -> None:
        stop_trees(self.processes)


def _deployable(pair: VerticalConsortium, root: Path, release_sha256: str) -> Path:
    """The PKI and server.toml of a coordinator, and each party's node.toml that takes part
    in vertical runs only, joined to it with the release approved; returns server.toml."""
    pki = init_pki(root / "pki", ["127.0.0.1", "localhost"], organization="vertical test")
    port, internal = free_port(), free_port()
    owners = {pair.owner.name: SigningKey.load(pair.owner.key).public_hex}
    trust = {"approved_apps": [f"sha256:{release_sha256}"]}
    for config_path in pair.node_configs:
        config = VerticalNodeConfig.from_toml(config_path)
        node = config_path.parent / "node.toml"
        node.write_text(
            tomli_w.dumps({
                "node": {"party": config.party, "data": str(config.table), "state_dir": "state"},
                "privacy": {"max_epsilon": 1.0},
                "vertical": {"config": config_path.name},
            }),
            encoding="utf-8",
        )  # fmt: skip
        sections = {"policy": {"model_owners": owners}, "trust": trust}
        join_superlink(node, pki, config.party, f"127.0.0.1:{port}", sections)
    # The coordinator also lists an owner neither party lists: the parties must refuse it.
    rogue = SigningKey.create(root / "rogue" / "ed25519.pem")
    all_owners = {**owners, ROGUE_OWNER: rogue.public_hex}
    return write_server_config(root, port, internal, [release_sha256], all_owners)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory) -> Iterator[VerticalDeployment]:
    """The coordinator and both parties' nodes, running (stopped after the module)."""
    root = tmp_path_factory.mktemp("vertical-deployment")
    pair = prepare_vertical_consortium(root / "pair", size=800)
    release, fab = release_of_checkout(REPOSITORY, root / "releases")
    server_config = _deployable(pair, root, release.sha256)
    running = VerticalDeployment(root, pair, server_config, fab, root / "rogue" / "ed25519.pem")
    try:
        server = running.start("server.log", "server", "start", "--config", str(server_config))
        # The nodes' executors warm up while the coordinator starts; their SuperNodes retry
        # until the coordinator has registered their keys.
        for config in pair.node_configs:
            node = config.parent / "node.toml"
            running.start(f"{config.parent.name}.log", "node", "start", "--config", str(node))
        wait_for_text(root / "server.log", "SuperLink ready", server, START_TIMEOUT_S)
        yield running
    finally:
        running.stop_all()


@pytest.fixture(scope="module")
def runs(deployment) -> dict[str, tuple[int, str]]:
    """Every `OwnerRun` to its end, all at once: run id → (exit status, what it printed)."""
    started = {run.run_id: deployment.start_run(run) for run in (FINISHED, ROGUE, OUTSIDE_POLICY)}
    ended = {}
    for run_id, process in started.items():
        process.wait(timeout=240)
        log = (deployment.root / f"{run_id}.log").read_text(errors="replace")
        ended[run_id] = (process.returncode, " ".join(log.split()))  # unwrapped
    return ended


def _ledger_runs(config: VerticalNodeConfig) -> set[str]:
    """The runs a party's vertical ledger has entries of."""
    with sqlite3.connect(f"file:{config.journal_path}?mode=ro", uri=True) as db:
        return {str(entry.content.get("run_id")) for entry in read_entries(db)}


def test_the_pair_intersects_trains_and_ledgers_it_as_real_supernodes(deployment, runs):
    status, output = runs[FINISHED.run_id]
    assert status == 0, output[-4000:]
    assert "joint model on" in output  # the owner's summary, from the coordinator's record
    summary = read_summary(deployment.runs_dir / FINISHED.run_id)
    psi = summary["psi"]
    assert psi["bank"]["commitment"] == psi["loan_facilitator"]["commitment"]
    assert psi["bank"]["intersection_size"] == len(consented_at_both(deployment.pair.data))
    assert summary["setup"]["bank"]["steps"] == 1 and summary["test"]["rows"] > 0
    configs = deployment.configs()
    audits = [audit_party(config, deployment.pair.ledger_keys) for config in configs.values()]
    assert cross_check(audits) == []
    for audit in audits:
        assert audit.verified, audit.problem
        kinds = set(audit.runs[FINISHED.run_id])
        assert {"vertical.psi", "vertical.training", "vertical.disclosure"} <= kinds
        assert ("vertical.label_release" in kinds) == (audit.party == "bank")
    # Every message went through each party's task runner (the approved-release check).
    for party, config in configs.items():
        runner_log = (config.state_dir / "executor.log").read_text(errors="replace")
        assert f"{party}: query.vertical message of run" in runner_log


@pytest.mark.parametrize(
    ("run", "reasons"),
    [
        pytest.param(
            ROGUE,
            [f"run request signed as '{ROGUE_OWNER}' by a key that is not a model owner's key"],
            id="owner-the-parties-do-not-list",
        ),
        pytest.param(
            OUTSIDE_POLICY,
            [
                "bank declines vertical run outside-policy: record-level ε 6 is above "
                "max_record_epsilon 5; ε_label 9 is above max_label_epsilon 8",
                "loan_facilitator declines vertical run outside-policy: record-level ε 6 is "
                "above max_record_epsilon 5",
            ],
            id="terms-outside-both-policies",
        ),
    ],
)
def test_a_run_the_parties_refuse_is_declined_with_reasons_and_writes_nothing(
    deployment, runs, run, reasons
):
    """The coordinator relays it (it lists the owner, the release is approved); each party
    checks the request itself, declines, and writes no ledger entry and no run state."""
    status, output = runs[run.run_id]
    assert status == 1, output[-4000:]
    assert "problem: the vertical run failed: admit:" in output
    for party in ("bank", "loan_facilitator"):
        assert f"{party} declined" in output
    for reason in reasons:
        assert reason in output, output[-3000:]
    for config in deployment.configs().values():
        assert run.run_id not in _ledger_runs(config)
        assert not config.run_dir(run.run_id).exists()
