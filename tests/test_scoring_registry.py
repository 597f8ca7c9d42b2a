"""The model registry on a really trained run: cards, signatures, copies, promote/rollback."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest
from typer.testing import CliRunner

from fedscore.cli.main import app
from fedscore.scoring import ModelRegistry
from fedscore.scoring.registry import RegistryError


@pytest.fixture()
def registry(tmp_path):
    return ModelRegistry(tmp_path / "registry")


def test_card_holds_the_run_facts(registry, trained_consortium):
    card = registry.register(trained_consortium.run_dir)
    summary = json.loads((trained_consortium.run_dir / "summary.json").read_text())
    assert card.version == "default_risk-v1"
    assert (card.task, card.task_version, card.model, card.rounds) == (
        "default_risk",
        summary["task_version"],
        "lr",
        2,
    )
    assert len(card.schema_sha256) == 64
    assert [p.name for p in card.parties] == sorted(summary["parties"])
    for party in card.parties:
        info = summary["parties"][party.name]
        assert party.epsilon == info["epsilon"] and party.delta == info["delta"]
        assert party.rounds_trained == info["rounds_trained"]
        assert len(party.data_versions) == 1 and len(party.data_versions[0]) == 64
    assert card.consortium_test["auc"] == summary["consortium_test"]["auc"]
    assert card.created_at.startswith(summary["run_id"][:4])
    # The development profile: the run's consortium test set, one share per PSI bin.
    model = registry.load(card.version)
    assert model.development.rows == 1500
    assert sum(model.development.grades.values()) == 1500
    assert sum(model.development.distribution.shares) == pytest.approx(1.0)
    # The registry's signing key is owner-only.
    key = registry.root / "keys" / "registry_ed25519.pem"
    assert key.stat().st_mode & 0o777 == 0o600
    assert registry.register(trained_consortium.run_dir).version == "default_risk-v2"


def test_scores_from_the_registry_copy_after_the_run_directory_is_gone(
    registry, trained_consortium, market, tmp_path
):
    run_copy = tmp_path / "run"
    shutil.copytree(trained_consortium.run_dir, run_copy)
    version = registry.register(run_copy).version
    shutil.rmtree(run_copy)
    scorer = ModelRegistry(registry.root).load(version).scorer()
    customer = market.consortium_test.iloc[0].to_dict()
    features = {k: customer[k] for k in scorer.records.feature_names}
    result = scorer.score_record(features)
    assert result.model_version == version
    assert 0 < result.probability_of_default < 1


def test_tampering_with_a_registered_model_is_detected(registry, trained_consortium):
    version = registry.register(trained_consortium.run_dir).version
    folder = registry.root / "models" / version
    weights = folder / "run" / "model" / "weights.npz"
    original = weights.read_bytes()
    weights.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(RegistryError, match=r"run/model/weights.npz: changed"):
        registry.load(version)
    weights.write_bytes(original)
    (folder / "run" / "extra.txt").write_text("x")
    with pytest.raises(RegistryError, match=r"extra\.txt: not in the signed manifest"):
        registry.load(version)
    (folder / "run" / "extra.txt").unlink()
    registry.load(version)
    with sqlite3.connect(registry.root / "registry.sqlite") as db:
        db.execute("UPDATE models SET signature = ? WHERE version = ?", ("00" * 64, version))
    with pytest.raises(RegistryError, match="signature does not verify"):
        registry.load(version)


def test_models_commands_promote_and_roll_back(tmp_path, trained_consortium):
    runner = CliRunner()
    root = str(tmp_path / "registry")

    def fedscore(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--registry", root])
        return result.exit_code, result.output

    assert fedscore("models", "register", str(trained_consortium.run_dir), "--promote")[0] == 0
    assert fedscore("models", "register", str(trained_consortium.run_dir))[0] == 0
    code, listing = fedscore("models", "list")
    assert code == 0 and "default_risk-v1 *" in listing and "default_risk-v2" in listing
    assert fedscore("models", "promote", "default_risk-v2")[0] == 0
    code, shown = fedscore("models", "show", "production")
    document = json.loads(shown[shown.index("{") :])
    assert document["card"]["version"] == "default_risk-v2" and document["production"]
    assert document["signature"]["verified"] is True
    assert "baseline" not in document["development"]
    code, output = fedscore("models", "rollback")
    assert code == 0 and "default_risk-v1 is in production" in output
    assert ModelRegistry(root).resolve("production") == "default_risk-v1"
    code, output = fedscore("models", "rollback")
    assert code == 2 and "no earlier production model" in output
    code, output = fedscore("models", "promote", "default_risk-v9")
    assert code == 2 and "no registered model 'default_risk-v9'" in output
