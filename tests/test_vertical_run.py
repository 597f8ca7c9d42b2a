"""A vertical run end to end in Flower's simulation engine: a bank and a facilitator.

One run of the demo pair (a 6,000-person slice of the bundled data) with every message
between the relay and the nodes recorded as it crossed: the intersection, the label
release, the training and the test happen; each party's signed ledger records them;
nothing that leaves a node holds an identifier, a customer key, H(id) or a join key.
"""

from __future__ import annotations

import json
import shutil
import sqlite3

import numpy as np
import pandas as pd
import pytest
from flwr.app import ConfigRecord, Context, Message
from flwr.serverapp import Grid, ServerApp
from vertical_support import consented_at_both

from fedscore.privacy.ledger import load_public_keys, read_entries, verify_ledger
from fedscore.server.delegating_grid import DelegatingGrid
from fedscore.simulation import simulate, simulation_backend
from fedscore.vertical.node_app import build_vertical_client_app
from fedscore.vertical.node_config import VerticalNodeConfig
from fedscore.vertical.psi.domain import PsiDomain
from fedscore.vertical.psi.group import hash_to_group
from fedscore.vertical.psi.identifiers import normalize_resident_id
from fedscore.vertical.relay import SUMMARY_FILE, RelaySettings, run_vertical

pytestmark = pytest.mark.simulation

RUN_ID = "vertical-test-1"


class RecordingGrid(DelegatingGrid):
    """The relay's grid, keeping every value of every message it sends and receives."""

    def __init__(self, grid: Grid, seen: list[bytes]) -> None:
        super().__init__(grid)
        self.seen = seen

    def _keep(self, message: Message) -> None:
        if not message.has_content():
            return
        for record in message.content.values():
            if isinstance(record, ConfigRecord):
                for key, value in record.items():
                    self.seen.append(key.encode())
                    self.seen.append(value if isinstance(value, bytes) else str(value).encode())

    def push_messages(self, messages):  # type: ignore[no-untyped-def]
        messages = list(messages)
        for message in messages:
            self._keep(message)
        return self._grid.push_messages(messages)

    def pull_messages(self, message_ids):  # type: ignore[no-untyped-def]
        replies = list(self._grid.pull_messages(message_ids))
        for reply in replies:
            self._keep(reply)
        return replies


class _Resolver:
    def __init__(self, configs: tuple[VerticalNodeConfig, ...]) -> None:
        self.configs = configs

    def __call__(self, context: Context) -> VerticalNodeConfig:
        return self.configs[int(context.node_config["partition-id"])]


def _simulate(consortium, signed, seen: list[bytes]) -> None:
    configs = tuple(VerticalNodeConfig.from_toml(p) for p in consortium.node_configs)
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        run_vertical(RecordingGrid(grid, seen), RelaySettings(signed, consortium.runs_dir, 120))

    simulate(server_app, build_vertical_client_app(_Resolver(configs)), 2, simulation_backend(1))


@pytest.fixture(scope="module")
def vertical_run(tmp_path_factory):
    from fedscore.demo.vertical_consortium import prepare_vertical_consortium

    consortium = prepare_vertical_consortium(tmp_path_factory.mktemp("vertical"), size=6000)
    signed = consortium.signed_run(RUN_ID, {"epochs": 10})
    seen: list[bytes] = []
    _simulate(consortium, signed, seen)
    summary = json.loads((consortium.runs_dir / RUN_ID / SUMMARY_FILE).read_text())
    return consortium, summary, seen


def test_the_pair_intersects_trains_and_tests(vertical_run):
    consortium, summary, _ = vertical_run
    assert summary["ok"], summary.get("error")
    psi = summary["psi"]
    assert psi["bank"]["commitment"] == psi["loan_facilitator"]["commitment"]
    assert psi["bank"]["intersection_size"] == psi["loan_facilitator"]["intersection_size"]
    # The intersection is exactly the people both hold with valid consent at both.
    assert psi["bank"]["intersection_size"] == len(consented_at_both(consortium.data))
    setup = summary["setup"]
    assert setup["bank"]["steps"] == setup["loan_facilitator"]["steps"] == 10
    assert 0 < setup["bank"]["epsilon_rdp"] <= 1.0
    assert summary["test"]["rows"] == setup["bank"]["test_rows"] > 0
    assert summary["test"]["auc"] > 0.65  # the joint model separates defaulters


def test_each_party_ledgers_the_disclosure_the_labels_and_its_training(vertical_run):
    consortium, summary, _ = vertical_run
    keys = load_public_keys(consortium.ledger_keys)
    kinds = {}
    for name, config_path in (
        ("bank", consortium.bank),
        ("loan_facilitator", consortium.facilitator),
    ):
        config = VerticalNodeConfig.from_toml(config_path)
        assert verify_ledger(config.journal_path, keys[name]).ok
        with sqlite3.connect(config.journal_path) as db:
            entries = [e.content for e in read_entries(db)]
        kinds[name] = {e["kind"]: e for e in entries if e["run_id"] == RUN_ID}
    bank, facilitator = kinds["bank"], kinds["loan_facilitator"]
    assert set(bank) == {
        "vertical.psi",
        "vertical.label_release",
        "vertical.training",
        "vertical.disclosure",
    }
    assert set(facilitator) == {"vertical.psi", "vertical.training", "vertical.disclosure"}
    assert bank["vertical.psi"]["commitment"] == facilitator["vertical.psi"]["commitment"]
    assert bank["vertical.psi"]["protocol"] == "ecdh-psi/ristretto255/sha512"
    release = bank["vertical.label_release"]
    assert release["epsilon_label"] == 2.0 and release["new_release"] is True
    # Two budgets: the label release never enters the record-level figure.
    training = bank["vertical.training"]
    assert training["epsilon_rdp"] == summary["setup"]["bank"]["epsilon_rdp"] < 2.0
    assert "epsilon_label" not in training
    assert facilitator["vertical.disclosure"]["record_level_dp"].startswith("none")


def _found(wire: list[bytes], values: list[bytes]) -> list[bytes]:
    """The `values` that occur anywhere in `wire` (every window of every value's length)."""
    by_length: dict[int, set[bytes]] = {}
    for value in values:
        by_length.setdefault(len(value), set()).add(value)
    found: set[bytes] = set()
    for blob in set(wire):
        view = memoryview(blob)
        for length, wanted in by_length.items():
            found.update(
                window
                for window in (bytes(view[i : i + length]) for i in range(len(blob) - length + 1))
                if window in wanted
            )
    return sorted(found)


def test_nothing_personal_and_no_join_key_leaves_a_node(vertical_run):
    consortium, _, seen = vertical_run
    bank = pd.read_csv(consortium.data.bank_table, dtype=str)
    facilitator = pd.read_csv(consortium.data.facilitator_table, dtype=str)
    personal = [
        *bank["name"],
        *bank["id_number"],
        *bank["mobile"],
        *bank["customer_id"],
        *facilitator["name"],
        *facilitator["id_card"],
        *facilitator["phone"],
        *facilitator["user_id"],
    ]
    normalized = [v for v in (normalize_resident_id(v) for v in bank["id_number"]) if v]
    # Neither H(id) under the run's domain nor any join key crossed in the clear.
    domain = PsiDomain(RUN_ID, "joint_risk_control:bank:loan_facilitator").to_bytes()
    points = hash_to_group(domain, normalized)
    config = VerticalNodeConfig.from_toml(consortium.bank)
    with np.load(config.run_dir(RUN_ID) / "intersection.npz") as stored:
        join_keys = [bytes(row) for row in stored["join_keys"]]
    assert join_keys
    values = [v.encode("utf-8") for v in [*personal, *normalized]]
    values += [points[i : i + 32] for i in range(0, len(points), 32)] + join_keys
    assert _found([b"\x00" + values[1] + b"\x01"], values) == [values[1]]  # it can find one
    leaked = _found(seen, values)
    assert not leaked, f"{len(leaked)} personal values, H(id) or join keys crossed the relay"
    # The run's secrets are gone once it closed.
    assert not (config.run_dir(RUN_ID) / "channel.state").exists()
    assert not (config.run_dir(RUN_ID) / "psi.state").exists()


def test_the_consortium_audit_covers_the_vertical_runs(vertical_run, fedscore_cli, tmp_path):
    """`fedscore audit report` on the pair's folder verifies both vertical ledgers, shows the
    run with its two budgets, and fails when a ledger entry was altered."""
    consortium, summary, _ = vertical_run
    root = consortium.bank.parent.parent
    out = tmp_path / "audit"
    keys = str(consortium.ledger_keys)
    result = fedscore_cli(
        "audit", "report", str(root), "--keys", keys, "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads((out / "audit_report.json").read_text())
    assert report["verification"]["ok"] and report["findings"] == []
    parties = report["vertical"]
    assert set(parties) == {"bank", "loan_facilitator"}
    for view in parties.values():
        assert view["verified"]
        run = view["runs"][RUN_ID]
        assert run["vertical.psi"]["commitment"] == summary["psi"]["bank"]["commitment"]
    assert "vertical.label_release" in parties["bank"]["runs"][RUN_ID]
    page = (out / "audit_report.html").read_text()
    assert "Vertical runs" in page and "vertical budgets per party" in page
    assert (out / "figures" / "vertical_budgets.png").is_file()

    tampered = tmp_path / "tampered"
    shutil.copytree(root, tampered, ignore=shutil.ignore_patterns("runs"))
    journal = VerticalNodeConfig.from_toml(tampered / "loan_facilitator" / "vertical.toml")
    with sqlite3.connect(journal.journal_path) as db:
        db.execute("UPDATE ledger SET content = json_set(content, '$.epsilon_rdp', 0.01)")
    out = tmp_path / "tampered-audit"
    result = fedscore_cli(
        "audit", "report", str(tampered), "--keys", keys, "--out", str(out), cwd=tmp_path
    )
    assert result.returncode == 1
    report = json.loads((out / "audit_report.json").read_text())
    assert not report["verification"]["ok"]
    assert any(f["subject"] == "loan_facilitator" for f in report["findings"]), report["findings"]
    # A hostile party's stored text that is not JSON, or nested beyond the parser: a
    # finding, not a traceback.
    for content in ("not json", "[" * 100_000 + "]" * 100_000):
        with sqlite3.connect(journal.journal_path) as db:
            db.execute("UPDATE ledger SET content = ? WHERE rowid = 1", (content,))
        out = tmp_path / f"hostile-audit-{len(content)}"
        result = fedscore_cli(
            "audit", "report", str(tampered), "--keys", keys, "--out", str(out), cwd=tmp_path
        )
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
        report = json.loads((out / "audit_report.json").read_text())
        assert any(f["subject"] == "loan_facilitator" for f in report["findings"])
