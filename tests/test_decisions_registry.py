"""Decision strategies in the model registry: registered for one model version, signed with
the registry key, verified before use, never replaced, never moved to another model."""

from __future__ import annotations

import json

import pytest
from decision_support import default_document, good_customer, write_strategy

from fedscore.core.errors import ConfigError
from fedscore.decisions.store import StrategyStore
from fedscore.decisions.strategies import default_strategy_path
from fedscore.scoring import ModelRegistry
from fedscore.scoring.registry import RegistryError


@pytest.fixture()
def store(tmp_path, trained_consortium):
    """A registry with two registered versions of the consortium's model (v1 in production)."""
    registry = ModelRegistry(tmp_path / "registry")
    for _ in range(2):
        registry.register(trained_consortium.run_dir, trained_consortium.keys)
    registry.promote("default_risk-v1")
    return StrategyStore(registry)


def test_a_registered_strategy_is_signed_verified_and_decides(store):
    scorer = store.registry.load("production").scorer()
    binding = store.register("production", default_strategy_path(), scorer)
    assert (binding.model_version, binding.name) == ("default_risk-v1", "cards_default-2026.11-1")
    folder = store.registry.root / "strategies" / "default_risk-v1" / binding.name
    assert {p.name for p in folder.iterdir()} == {
        "default.toml",
        "challenger.toml",
        "binding.json",
        "manifest.json",
        "manifest.sig",
    }
    assert store.names("default_risk-v1") == [binding.name] and store.names("default_risk-v2") == []
    decision = store.decider(scorer, binding.name).decide(good_customer(), "application-7")
    assert decision.strategy_version == "2026.11-1" and decision.model_version == "default_risk-v1"
    with pytest.raises(RegistryError, match="already registered"):
        store.register("default_risk-v1", default_strategy_path(), scorer)
    # Edited after signing: refused, naming the file.
    (folder / "challenger.toml").write_text("# edited\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"challenger.toml: changed"):
        store.decider(scorer, binding.name)


def test_a_strategy_is_bound_to_its_model_version(store):
    scorer = store.registry.load("default_risk-v1").scorer()
    binding = store.register("default_risk-v1", default_strategy_path(), scorer)
    root = store.registry.root / "strategies"
    (root / "default_risk-v2").mkdir()
    (root / "default_risk-v1" / binding.name).rename(root / "default_risk-v2" / binding.name)
    other = store.registry.load("default_risk-v2").scorer()
    with pytest.raises(RegistryError, match="signed for another model"):
        store.decider(other, binding.name)


def test_a_strategy_that_does_not_compile_is_not_registered(store, tmp_path):
    document = default_document()
    document["hard_rules"][0]["when"] = "PAY0 >= 2"
    path = write_strategy(document, tmp_path)
    scorer = store.registry.load("production").scorer()
    with pytest.raises(ConfigError, match="unknown field 'PAY0'"):
        store.register("production", path, scorer)
    assert store.names("production") == []


def test_the_command_line_checks_registers_and_decides(store, fedscore_cli, tmp_path):
    registry = str(store.registry.root)
    strategy = str(default_strategy_path())
    result = fedscore_cli("strategy", "check", strategy, "--registry", registry, cwd=tmp_path)
    assert result.returncode == 0 and "cards_wider_b 2026.11-1" in result.stderr, result.stderr
    result = fedscore_cli("strategy", "register", strategy, "--registry", registry, cwd=tmp_path)
    assert "registered cards_default-2026.11-1 for default_risk-v1" in result.stderr
    application = tmp_path / "application.json"
    application.write_text(json.dumps(good_customer()), encoding="utf-8")
    result = fedscore_cli(
        "decide", "--application", str(application), "--strategy", "cards_default-2026.11-1",
        "--application-id", "application-7", "--registry", registry, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    assert decision["strategy_version"] == "2026.11-1" and decision["outcome"] in (
        "approve",
        "refer",
        "decline",
    )
    application.write_text(json.dumps({**good_customer(), "AGE": "thirty"}), encoding="utf-8")
    result = fedscore_cli(
        "decide", "--application", str(application), "--strategy", "cards_default-2026.11-1",
        "--registry", registry, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2 and "field 'AGE'" in result.stderr
    assert "thirty" not in result.stderr
    application.write_text("[" * 100_000 + "]" * 100_000, encoding="utf-8")
    result = fedscore_cli(
        "decide", "--application", str(application), "--strategy", "cards_default-2026.11-1",
        "--registry", registry, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr  # was a RecursionError's traceback
    assert "application.json: not a readable JSON file (is nested deeper than" in result.stderr
    assert "Traceback" not in result.stderr
