"""End to end: `fedscore train` runs three institutions in Flower's simulation engine."""

from __future__ import annotations

import json
import sqlite3

import numpy as np
import pytest

from fedscore import load_model
from fedscore.clients.journal import AccountantKey, NodeJournal
from fedscore.clients.node import NodeConfig
from fedscore.core.metrics import score_metrics
from fedscore.core.tabular import file_sha256

pytestmark = pytest.mark.simulation


def test_three_parties_two_rounds_write_every_artifact(tmp_path, trained_consortium, fedscore_cli):
    consortium = trained_consortium.copy_to(tmp_path)
    nodes, test, run_dir = consortium.nodes, consortium.test, consortium.run_dir
    for artifact in (
        "summary.json",
        "metrics.json",
        "privacy.json",
        "run_config.json",
        "report.html",
        "model/weights.npz",
        "model/task.toml",
        "plots/auc_per_round.png",
        "plots/epsilon_per_round.png",
        "plots/roc_ks.png",
    ):
        assert (run_dir / artifact).is_file(), artifact
    for png in (run_dir / "plots").glob("*.png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["rounds"] == 2 and summary["model"] == "lr"
    assert set(summary["parties"]) == {"large_bank", "city_bank", "loan_facilitator"}
    for name in ("large_bank", "city_bank"):
        party = summary["parties"][name]
        assert party["refused_rounds"] == [] and party["rounds_trained"] == 2
        assert 0.98 <= party["epsilon"] <= 1.0 and party["delta"] == 1e-5
        assert party["max_epsilon"] == 5.0
    facilitator = summary["parties"]["loan_facilitator"]
    assert facilitator["refused_rounds"] == [] and facilitator["rounds_trained"] == 2
    assert facilitator["epsilon"] <= facilitator["max_epsilon"] == 1.15

    # Each node's own state agrees with what the server was told.
    for config in nodes:
        node = NodeConfig.from_toml(config)
        key = AccountantKey(node.party, "default_risk", file_sha256(node.data_path))
        spent = NodeJournal(node.accountant_db).load(key).epsilon(1e-5, "rdp")
        assert spent == pytest.approx(summary["parties"][node.party]["epsilon"], abs=1e-12)

    # The model loads in one call and reproduces the reported consortium-test metrics.
    model = load_model(run_dir)
    import pandas as pd

    table = pd.read_csv(test, dtype=str, keep_default_na=False)
    probabilities = model.predict_proba(table)
    labels = table["default.payment.next.month"].astype(int).to_numpy()
    metrics = score_metrics(labels, probabilities)
    # The run scored in float32 with torch, the loaded LR scores with NumPy in float64: a
    # few near-tied customers may swap places, nothing more.
    assert metrics.auc == pytest.approx(summary["consortium_test"]["auc"], abs=1e-5)
    assert summary["consortium_test"]["auc"] > 0.65
    assert np.all((probabilities > 0) & (probabilities < 1))

    # The model owner can check every party's signed ledger entries without its node.
    keys = consortium.keys
    heads = json.loads((run_dir / "ledger_heads.json").read_text())
    assert {p: len(h) for p, h in heads.items()} == {
        "large_bank": 2,
        "city_bank": 2,
        "loan_facilitator": 2,
    }
    assert (
        fedscore_cli("audit", "verify", str(run_dir), "--keys", str(keys), cwd=tmp_path).returncode
        == 0
    )
    city = str(tmp_path / "city_bank")
    assert (
        fedscore_cli(
            "audit", "verify", city, "--keys", str(keys), "--against", str(run_dir), cwd=tmp_path
        ).returncode
        == 0
    )
    ledger = NodeConfig.from_toml(tmp_path / "city_bank" / "node.toml").accountant_db
    with sqlite3.connect(ledger) as db:  # drop the ledger's last entry: a truncation
        db.execute("DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger)")
    truncated = fedscore_cli(
        "audit", "verify", city, "--keys", str(keys), "--against", str(run_dir), cwd=tmp_path
    )
    assert truncated.returncode == 1 and "removed from its end" in truncated.stderr
    heads["city_bank"][0]["content"]["epsilon_rdp"] = 0.01
    (run_dir / "ledger_heads.json").write_text(json.dumps(heads))
    tampered = fedscore_cli("audit", "verify", str(run_dir), "--keys", str(keys), cwd=tmp_path)
    assert tampered.returncode == 1
    assert "city_bank ledger entry #0: its content does not match its hash" in tampered.stderr

    history = json.loads((run_dir / "metrics.json").read_text())
    assert [r["round"] for r in history["rounds"]] == [1, 2]
    # Round 1's federated evaluation came with round 2's training replies, round 2's in
    # the one evaluation exchange after the last round.
    for record in history["rounds"]:
        assert set(record["federated_eval"]) == set(summary["parties"])


def test_a_bad_party_table_stops_before_anything_runs(tmp_path, market, make_node, fedscore_cli):
    table = market.parties["city_bank"].head(3000).copy()
    table.loc[12, "MARRIAGE"] = 7
    bad = make_node(tmp_path / "bad", "bad", table)
    good = make_node(tmp_path / "good", "good", market.parties["large_bank"].head(3000))
    work = tmp_path / "work"
    result = fedscore_cli(
        "train", "--node", str(good), "--node", str(bad), "--workdir", str(work), cwd=tmp_path
    )
    assert result.returncode == 2
    assert "row 13 (line 14), column 'MARRIAGE': unknown category" in result.stderr
    assert not (work / "runs").exists()
    assert not (tmp_path / "good" / "state").exists()
