"""The model registry on a really trained run: cards from signed evidence, signatures,
copies, promote/rollback, and the two roles (the owner signs, scorers only verify)."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3

import pytest
from process_support import scoring_service
from typer.testing import CliRunner

from fedscore.cli.main import app
from fedscore.core.tabular import write_table
from fedscore.deployment.pki import init_pki
from fedscore.scoring import ModelRegistry
from fedscore.scoring.grpc_api import ScoringClient
from fedscore.scoring.registry import RegistryError

PRIVATE_KEY = "keys/registry_ed25519.pem"


@pytest.fixture()
def registry(tmp_path):
    return ModelRegistry(tmp_path / "registry")


def test_card_holds_the_run_facts(registry, trained_consortium):
    card = registry.register(trained_consortium.run_dir, trained_consortium.keys)
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
    heads = json.loads((trained_consortium.run_dir / "ledger_heads.json").read_text())
    for party in card.parties:
        info = summary["parties"][party.name]
        assert party.epsilon == info["epsilon"] and party.delta == info["delta"]
        assert party.rounds_trained == info["rounds_trained"]
        # The figures are the party's last signed trained round of the run.
        signed = [h["content"] for h in heads[party.name] if h["content"]["status"] == "trained"]
        assert (party.epsilon_rdp, party.epsilon_prv) == (
            signed[-1]["epsilon_rdp"],
            signed[-1]["epsilon_prv"],
        )
        assert party.data_versions == (signed[-1]["data_version"],)
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
    assert (
        registry.register(trained_consortium.run_dir, trained_consortium.keys).version
        == "default_risk-v2"
    )


def test_scores_from_the_registry_copy_after_the_run_directory_is_gone(
    registry, trained_consortium, market, tmp_path
):
    run_copy = tmp_path / "run"
    shutil.copytree(trained_consortium.run_dir, run_copy)
    version = registry.register(run_copy, trained_consortium.keys).version
    shutil.rmtree(run_copy)
    scorer = ModelRegistry(registry.root).load(version).scorer()
    customer = market.consortium_test.iloc[0].to_dict()
    features = {k: customer[k] for k in scorer.records.feature_names}
    result = scorer.score_record(features)
    assert result.model_version == version
    assert 0 < result.probability_of_default < 1


def test_tampering_with_a_registered_model_is_detected(registry, trained_consortium):
    version = registry.register(trained_consortium.run_dir, trained_consortium.keys).version
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

    run, keys = str(trained_consortium.run_dir), str(trained_consortium.keys)
    assert fedscore("models", "register", run, "--keys", keys, "--promote")[0] == 0
    assert fedscore("models", "register", run, "--keys", keys)[0] == 0
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


def _fedscore(*args: object) -> tuple[int, str]:
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def test_an_edited_summary_is_refused_at_registration(registry, trained_consortium, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained_consortium.run_dir, run)
    summary = json.loads((run / "summary.json").read_text())
    honest = summary["parties"]["city_bank"]["epsilon_prv"]
    summary["parties"]["city_bank"]["epsilon_prv"] = honest / 10
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RegistryError, match=r"city_bank's epsilon_prv is .* in summary\.json"):
        registry.register(run, trained_consortium.keys)
    code, output = _fedscore(
        "models", "register", run, "--keys", trained_consortium.keys, "--registry", registry.root
    )
    assert code == 2 and "city_bank's epsilon_prv" in output and "Traceback" not in output
    assert registry.index.entries() == []
    assert [p.name for p in (registry.root / "models").iterdir()] == []
    # A ledger head edited to match is no longer the node's.
    heads = json.loads((run / "ledger_heads.json").read_text())
    for head in heads["city_bank"]:
        if head["content"]["epsilon_prv"] == honest:
            head["content"]["epsilon_prv"] = honest / 10
    (run / "ledger_heads.json").write_text(json.dumps(heads))
    with pytest.raises(RegistryError, match=r"city_bank ledger entry #.*does not match its hash"):
        registry.register(run, trained_consortium.keys)
    # --keys is required: without the consortium's key list nothing registers.
    code, output = _fedscore("models", "register", trained_consortium.run_dir)
    assert code != 0 and "--keys" in output


def test_a_task_name_that_would_leave_the_registry_is_refused(
    registry, trained_consortium, tmp_path
):
    run = tmp_path / "run"
    shutil.copytree(trained_consortium.run_dir, run)
    summary = json.loads((run / "summary.json").read_text())
    summary["task"] = "../../escaped"
    (run / "summary.json").write_text(json.dumps(summary))
    with pytest.raises(RegistryError, match="names a task that is not 1 to 64 letters"):
        registry.register(run, trained_consortium.keys)
    assert registry.index.entries() == []
    assert not list(registry.root.parent.rglob("escaped*"))


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("summary.json", lambda d: {**d, "consortium_test": [1]}),
        ("summary.json", lambda d: {**d, "rounds": "ten"}),
        ("run_config.json", lambda d: {**d, "task": 5}),
    ],
)
def test_a_run_file_of_another_shape_is_refused_not_a_traceback(
    registry, trained_consortium, tmp_path, name, change
):
    """The run directory is the coordinator's: each of these ended `models register` in a
    TypeError or AttributeError's traceback."""
    run = tmp_path / "run"
    shutil.copytree(trained_consortium.run_dir, run)
    (run / name).write_text(json.dumps(change(json.loads((run / name).read_text()))))
    code, output = _fedscore(
        "models", "register", run, "--keys", trained_consortium.keys, "--registry", registry.root
    )
    assert code == 2 and "Traceback" not in output, output
    assert "summary.json or run_config.json is not a finished run's" in output
    assert registry.index.entries() == []
    assert [p.name for p in (registry.root / "models").iterdir()] == []


def test_listing_shows_the_signed_card_not_the_index_copy(registry, trained_consortium):
    version = registry.register(trained_consortium.run_dir, trained_consortium.keys).version
    auc = registry.card(version).consortium_test["auc"]
    with sqlite3.connect(registry.root / "registry.sqlite") as db:
        (text,) = db.execute("SELECT card FROM models").fetchone()
        card = json.loads(text)
        # A figure no other column can show (ε is calibrated near its target, KS > 0.1).
        card["consortium_test"]["auc"] = 0.0001
        db.execute("UPDATE models SET card = ?", (json.dumps(card),))
    code, listing = _fedscore("models", "list", "--registry", registry.root)
    assert code == 0 and f"{auc:.4f}" in listing and "0.0001" not in listing
    code, shown = _fedscore("models", "show", version, "--registry", registry.root)
    assert code == 0 and json.loads(shown)["card"]["consortium_test"]["auc"] == auc
    # The signed card edited in the bundle: listed as unverified, never shown.
    card_file = registry.root / "models" / version / "card.json"
    card = json.loads(card_file.read_text())
    card["consortium_test"]["auc"] = 0.0001
    card_file.write_text(json.dumps(card))
    code, listing = _fedscore("models", "list", "--registry", registry.root)
    assert code == 1 and "0.0001" not in listing
    assert f"{version}: NOT VERIFIED" in listing and "card.json: changed" in listing
    code, shown = _fedscore("models", "show", version, "--registry", registry.root)
    assert code == 2 and "card.json: changed" in shown and "0.0001" not in shown


def test_scoring_needs_only_the_public_key(registry, trained_consortium, market, tmp_path):
    registry.promote(registry.register(trained_consortium.run_dir, trained_consortium.keys).version)
    private_key = registry.root / PRIVATE_KEY
    private_key.rename(tmp_path / "backup.pem")
    book = tmp_path / "book.csv"
    write_table(market.consortium_test.head(200), book)

    def scores() -> None:
        scorer = ModelRegistry(registry.root).load("production").scorer()
        customer = market.consortium_test.iloc[0]
        features = customer[list(scorer.records.feature_names)].to_dict()
        assert scorer.score_record(features).score > 0
        code, output = _fedscore(
            "score", "--registry", registry.root, "--input", book, "--output", tmp_path / "s.csv"
        )
        assert code == 0 and "200 customers scored by default_risk-v1" in output, output
        assert _fedscore("models", "list", "--registry", registry.root)[0] == 0
        assert _fedscore("models", "show", "production", "--registry", registry.root)[0] == 0

    scores()
    assert not private_key.exists()  # never regenerated
    # A private key that is not one: scoring never opens it, so never notices.
    private_key.write_bytes(b"not a key")
    private_key.chmod(0o600)
    scores()
    # Nor does the gRPC service, in its own process.
    pki = init_pki(tmp_path / "pki", ["127.0.0.1"])
    with scoring_service(registry.root, pki.root) as (process, port, banner):
        assert f"serving default_risk-v1 on 127.0.0.1:{port}" in banner, banner
        with ScoringClient(f"127.0.0.1:{port}", pki.ca_cert) as client:
            client.wait_ready(timeout=20)
            features = list(client.model_info().features)
            fields = market.consortium_test.head(1)[features].to_dict("records")[0]
            assert client.score(fields).model_version == "default_risk-v1"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert private_key.read_bytes() == b"not a key"


def test_a_missing_registry_key_is_an_error_not_a_new_key(trained_consortium, tmp_path):
    root = tmp_path / "registry"
    code, output = _fedscore("models", "init-registry", "--registry", root)
    public = (root / "keys" / "registry_ed25519.pub").read_text().strip()
    assert code == 0 and public in output.replace("\n", "")
    assert (root / PRIVATE_KEY).stat().st_mode & 0o777 == 0o600
    code, output = _fedscore("models", "init-registry", "--registry", root)
    assert code == 2 and "never replaced" in output
    registry = ModelRegistry(root)
    version = registry.register(trained_consortium.run_dir, trained_consortium.keys).version
    assert registry.public_hex == public
    (root / PRIVATE_KEY).unlink()
    missing = "the registry key is missing: restore it from its backup"
    with pytest.raises(RegistryError, match=missing):
        ModelRegistry(root).register(trained_consortium.run_dir, trained_consortium.keys)
    with pytest.raises(RegistryError, match=missing):
        ModelRegistry(root).promote(version)
    code, output = _fedscore(
        "models",
        "register",
        trained_consortium.run_dir,
        "--keys",
        trained_consortium.keys,
        "--registry",
        root,
    )
    assert code == 2 and missing in output.replace("\n", " ")
    assert not (root / PRIVATE_KEY).exists()
    assert (root / "keys" / "registry_ed25519.pub").read_text().strip() == public
    assert [entry.version for entry in ModelRegistry(root).index.entries()] == [version]
    ModelRegistry(root).load(version)  # what was signed still verifies
