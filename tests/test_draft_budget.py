"""The DP bounds of a drafted schema spend the party's budget: charged to its node's
accountant and signed ledger before the draft is shown, refused when the budget cannot
afford them, counted by every later round and shown by the audit."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from round_support import initial_arrays, round_request
from typer.testing import CliRunner

from fedscore.cli.main import app
from fedscore.clients.journal import AccountantKey, ConcurrentCharge, NodeJournal, RoundRecord
from fedscore.clients.journal.pure_releases import PureReleaseRefused
from fedscore.clients.journal.records import PureRelease
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds import train_round
from fedscore.clients.rounds.budget import earlier_spend
from fedscore.core import protocol
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import SigningKey
from fedscore.core.tabular import write_table
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.audit.discovery import discover_sources
from fedscore.privacy.audit.findings import FAILURE
from fedscore.privacy.audit.trusted_keys import ConsortiumKeys
from fedscore.privacy.audit.verification import verify_evidence
from fedscore.privacy.ledger import read_entries, verify_ledger

PARTY = "large_bank"


def fedscore(*args: object) -> tuple[int, str]:
    """`fedscore ARGS` in this process: its exit status and everything it printed."""
    result = CliRunner().invoke(app, [str(a) for a in args])
    return result.exit_code, result.output


def draft_charged(config: Path, table: Path, epsilon: float, out: Path) -> tuple[int, str]:
    """`fedscore schema draft TABLE --dp-epsilon EPSILON --node CONFIG --out OUT`."""
    return fedscore(
        "schema", "draft", table, "--dp-epsilon", epsilon, "--node", config, "--out", out
    )


@pytest.fixture()
def bank_node(tmp_path, make_node, party_table) -> tuple[Path, Path]:
    """The large bank's node (budget ε 1) and a copy of its table to draft from."""
    config = make_node(tmp_path / PARTY, PARTY, party_table, max_epsilon=1.0)
    table = tmp_path / "export.csv"
    write_table(party_table, table)
    return config, table


def _ledger(config: Path) -> list[dict[str, object]]:
    """The contents of the node's ledger entries (none before its state file exists)."""
    node = NodeConfig.from_toml(config)
    if not node.accountant_db.exists():
        return []
    with sqlite3.connect(node.accountant_db) as db:
        return [entry.content for entry in read_entries(db)]


def _audit_findings(config: Path) -> list[str]:
    """The findings of an audit of the node's ledger and state, with its own key."""
    verified = verify_evidence(
        discover_sources([config.parent]), ConsortiumKeys.from_key_list(None)
    )
    return [f.message for f in verified.findings if f.severity == FAILURE]


def test_dp_bounds_are_charged_to_the_node_before_the_draft_is_shown(
    tmp_path, bank_node, party_table
):
    config, table = bank_node
    status, output = fedscore("schema", "draft", table, "--dp-epsilon", "0.5")
    assert status == 2 and "--dp-epsilon and --node go together" in output
    assert "[[columns]]" not in output and _ledger(config) == []

    status, output = draft_charged(config, table, 0.5, tmp_path / "draft.toml")
    assert status == 0, output
    assert "charged to large_bank's budget (ledger entry #0; 0.5000 of its ε left)" in output
    (entry,) = _ledger(config)
    assert entry["kind"] == "pure_release" and entry["epsilon"] == 0.5
    assert entry["delta"] == 0.0 and entry["budget_remaining"] == 0.5
    assert "LIMIT_BAL" in entry["bounded_columns"]  # type: ignore[operator]
    node = NodeConfig.from_toml(config)
    assert NodeJournal(node.accountant_db).pure_spent(PARTY, node.budget_epoch) == 0.5
    assert verify_ledger(node.accountant_db, SigningKey.load(node.ledger_key).public_key).ok
    recorded = json.dumps(entry, ensure_ascii=False) + output
    for column in ("name", "id_number", "mobile"):
        assert not any(str(value) in recorded for value in party_table[column])

    # What is left cannot afford a second draft at ε 0.6: nothing is shown or recorded.
    second = tmp_path / "second.toml"
    status, output = draft_charged(config, table, 0.6, second)
    assert status == 2 and "privacy budget" in output and "beyond its max_epsilon 1" in output
    assert not second.exists() and len(_ledger(config)) == 1


def test_a_node_config_pointed_at_another_partys_state_charges_nothing_there(
    tmp_path, bank_node, make_node, market
):
    config, table = bank_node
    assert draft_charged(config, table, 0.1, tmp_path / "own.toml")[0] == 0
    city = make_node(tmp_path / "city_bank", "city_bank", market.parties["city_bank"].head(3500))
    bank_state = NodeConfig.from_toml(config).state_dir
    city.write_text(city.read_text().replace('state_dir = "state"', f'state_dir = "{bank_state}"'))
    status, output = draft_charged(city, table, 0.1, tmp_path / "draft.toml")
    assert status == 2 and "is the privacy state of party 'large_bank'" in output
    assert len(_ledger(config)) == 1 and not (tmp_path / "draft.toml").exists()


def test_a_round_counts_every_pure_release_of_its_budget_epoch(tmp_path, bank_node):
    config, _ = bank_node
    node = NodeConfig.from_toml(config)
    journal = NodeJournal(node.accountant_db, signer=SigningKey.load_or_create(node.ledger_key))
    key = AccountantKey(PARTY, "default_risk", "v1")
    trained = PartyAccountant()
    trained.step(2.0, 0.01, 100)
    delta = 1e-6
    spent = trained.epsilon(delta, "rdp")
    record = RoundRecord("run-a", 1, "trained", "", 2.0, 0.01, 100, 1.0, delta, spent, None, 1.0)
    journal.commit_round(key, trained, record, budget_epoch=node.budget_epoch)
    release = PureRelease(PARTY, node.budget_epoch, "test", 0.2, "0" * 64)
    journal.charge_pure_release(release, node.max_epsilon, {})

    # Another task's round and a new data version of this task both see the release.
    run = RunConfig(rounds=1)
    other_task = earlier_spend(journal, AccountantKey(PARTY, "churn", "v1"), node, run, delta)
    assert (other_task.data_versions, other_task.pure_releases) == (0.0, 0.2)
    next_version = earlier_spend(
        journal, AccountantKey(PARTY, "default_risk", "v2"), node, run, delta
    )
    assert next_version.data_versions == pytest.approx(
        spent
    ) and next_version.total == pytest.approx(spent + 0.2)

    # A release must fit beside the task that spent the most.
    too_much = PureRelease(PARTY, node.budget_epoch, "test", 1.0 - spent - 0.2 + 0.01, "0" * 64)
    with pytest.raises(PureReleaseRefused, match="beyond its max_epsilon"):
        journal.charge_pure_release(too_much, node.max_epsilon, {})
    assert journal.pure_spent(PARTY, node.budget_epoch) == 0.2
    # A round whose budget check ran before a release was charged is not committed.
    later = AccountantKey(PARTY, "churn", "v1")
    with pytest.raises(ConcurrentCharge, match="pure release was charged"):
        journal.commit_round(later, trained, record, pure_spent_checked=0.0)
    assert journal.rounds(later) == [] and journal.load(later).steps == 0
    # Another budget epoch does not see it.
    elsewhere = PureRelease(PARTY, "2027", "test", 0.9, "0" * 64)
    journal.charge_pure_release(elsewhere, node.max_epsilon, {})
    assert journal.pure_spent(PARTY, node.budget_epoch) == 0.2


def test_the_audit_shows_the_release_and_counts_it_in_the_lifetime_spend(tmp_path, bank_node):
    config, table = bank_node
    status, output = draft_charged(config, table, 0.25, tmp_path / "draft.toml")
    assert status == 0, output
    node = NodeConfig.from_toml(config)
    keys = tmp_path / "ledger_keys.toml"
    public = SigningKey.load(node.ledger_key).public_hex
    keys.write_text(f'[ledger_keys]\n{PARTY} = "{public}"\n', encoding="utf-8")
    out = tmp_path / "audit"
    status, output = fedscore("audit", "report", config.parent, "--keys", keys, "--out", out)
    assert status == 0, output
    view = json.loads((out / "audit_report.json").read_text())["parties"][PARTY]
    (release,) = view["pure_releases"]
    assert release["epsilon"] == 0.25 and release["mechanism"].startswith("schema_draft_bounds")
    assert view["rounds"] == [] and view["lifetime_epsilon"] == 0.25
    assert "Pure ε-DP releases outside training" in (out / "audit_report.html").read_text()


def test_rounds_count_the_release_and_the_audit_catches_a_node_that_forgets_it(
    tmp_path, bank_node, schema
):
    config, table = bank_node
    status, output = draft_charged(config, table, 0.5, tmp_path / "draft.toml")
    assert status == 0, output
    node = NodeConfig.from_toml(config)
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4, epsilon=0.7)
    refused = train_round(node, initial_arrays(schema, run), round_request(schema, run, 1, "big"))
    reason = refused.config_records[protocol.PARTY][protocol.REASON]
    assert "0.5000 on pure releases outside training" in reason

    run = RunConfig(rounds=2, batch_size=256, delta=1e-4, epsilon=0.4)
    first = train_round(node, initial_arrays(schema, run), round_request(schema, run, 1, "small"))
    assert first.config_records[protocol.PARTY][protocol.STATUS] == protocol.TRAINED
    assert _ledger(config)[-1]["epsilon_pure_releases"] == 0.5
    assert not _audit_findings(config)

    with sqlite3.connect(node.accountant_db) as db:  # the node loses the release's record
        db.execute("DELETE FROM pure_release")
    train_round(node, initial_arrays(schema, run), round_request(schema, run, 2, "small"))
    (finding,) = _audit_findings(config)
    assert "counts ε 0 of pure releases; the ledger holds 0.5 before it" in finding
