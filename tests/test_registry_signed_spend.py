"""A model card's privacy figures come from the parties' signed ledger entries only.

Each test writes a run directory's summary.json and ledger_heads.json the way the server
does (`write_json`), with heads a real node ledger signed (`append_entry` on a real
SQLite privacy-state file), then reads the card's parties from them.
"""

from __future__ import annotations

import math
import sqlite3

import pytest
import tomli_w

from fedscore.core.documents import write_json
from fedscore.core.signing import SigningKey
from fedscore.privacy.ledger import LEDGER_SCHEMA, append_entry
from fedscore.scoring.registry import RegistryError
from fedscore.scoring.registry.signed_spend import signed_party_cards

RUN_ID = "20261130-120000-abcdef"


def _round(server_round: int, **figures: object) -> dict[str, object]:
    """A trained round's ledger content, as a node records it."""
    return {
        "party": "bank",
        "task": "default_risk",
        "data_version": "a" * 64,
        "run_id": RUN_ID,
        "server_round": server_round,
        "status": "trained",
        "attempt": 1,
        "accountant": "rdp",
        "delta": 1e-5,
        **figures,
    }


@pytest.fixture()
def run(tmp_path):
    """Writes a run directory from round contents the node signs; returns its paths."""
    node_key = SigningKey.create(tmp_path / "node" / "ed25519.pem")
    key_list = tmp_path / "consortium_keys.toml"
    key_list.write_text(tomli_w.dumps({"ledger_keys": {"bank": node_key.public_hex}}))
    run_dir = tmp_path / "run"

    def write(rounds: list[dict[str, object]], summary_figures: dict[str, object]) -> list:
        db = sqlite3.connect(tmp_path / "node" / "privacy.sqlite")
        db.executescript(LEDGER_SCHEMA)
        heads = [append_entry(db, content, node_key).signed_head() for content in rounds]
        db.commit()
        db.close()
        summary = {
            "run_id": RUN_ID,
            "task": "default_risk",
            "parties": {
                "bank": {"rounds_trained": len(rounds), "accountant": "rdp", **summary_figures}
            },
        }
        write_json(run_dir / "summary.json", summary)
        write_json(run_dir / "ledger_heads.json", {"bank": heads})
        return heads

    return run_dir, key_list, write


def test_a_non_private_run_registers_with_infinite_epsilon(run):
    # The run directory writes the node's Infinity as "inf"; the head is still the node's.
    run_dir, keys, write = run
    write(
        [_round(1, epsilon_rdp=math.inf, epsilon_prv=math.inf, private=False)],
        {"epsilon": "inf", "epsilon_rdp": "inf", "epsilon_prv": "inf", "delta": 1e-5},
    )
    (party,) = signed_party_cards(run_dir, keys)
    assert (party.epsilon, party.epsilon_rdp, party.epsilon_prv) == ("inf", "inf", "inf")


def test_the_figures_are_the_last_signed_round_whatever_the_heads_are_numbered(run):
    run_dir, keys, write = run
    rounds = [
        _round(1, epsilon_rdp=0.4, epsilon_prv=0.3),
        _round(2, epsilon_rdp=0.9, epsilon_prv=0.8),
    ]
    figures = {"epsilon": 0.9, "epsilon_rdp": 0.9, "epsilon_prv": 0.8, "delta": 1e-5}
    heads = write(rounds, figures)
    figures["accountant"] = "rdp"
    (party,) = signed_party_cards(run_dir, keys)
    assert (party.epsilon, party.epsilon_prv, party.delta) == (0.9, 0.8, 1e-5)
    assert party.data_versions == ("a" * 64,)
    # A head's number is not signed: renumbering the first round as the last one and
    # claiming its smaller spend does not make round 1 the last round.
    heads[0]["seq"], heads[1]["seq"] = heads[1]["seq"], heads[0]["seq"]
    write_json(run_dir / "ledger_heads.json", {"bank": heads})
    write_json(
        run_dir / "summary.json",
        {
            "run_id": RUN_ID,
            "task": "default_risk",
            "parties": {
                "bank": {"rounds_trained": 2, **figures, "epsilon": 0.4, "epsilon_rdp": 0.4}
            },
        },
    )
    with pytest.raises(RegistryError, match=r"bank's epsilon is 0\.4 in summary\.json, but 0\.9"):
        signed_party_cards(run_dir, keys)


def test_a_head_of_another_run_or_signed_by_another_key_is_refused(run, tmp_path):
    run_dir, keys, write = run
    figures = {"epsilon": 0.5, "epsilon_rdp": 0.5, "epsilon_prv": 0.4, "delta": 1e-5}
    write([_round(1, epsilon_rdp=0.5, epsilon_prv=0.4, run_id="20250101-000000-000000")], figures)
    with pytest.raises(RegistryError, match=r"bank ledger entry #0: its run_id is not this run's"):
        signed_party_cards(run_dir, keys)
    stranger = SigningKey.create(tmp_path / "stranger.pem")
    keys.write_text(tomli_w.dumps({"ledger_keys": {"bank": stranger.public_hex}}))
    with pytest.raises(RegistryError, match="signature does not verify with the node's key"):
        signed_party_cards(run_dir, keys)
    keys.write_text(tomli_w.dumps({"ledger_keys": {"other_bank": stranger.public_hex}}))
    with pytest.raises(RegistryError, match="no ledger key for party 'bank'"):
        signed_party_cards(run_dir, keys)


def test_a_party_that_refused_every_round_shows_only_its_accountants_spend(run):
    run_dir, keys, write = run
    refused = _round(1, status="refused", epsilon_rdp=None, epsilon_prv=None, epsilon_spent=0.7)
    write([refused], {"epsilon": 0.7, "epsilon_rdp": 0.7, "epsilon_prv": 0.6, "delta": 1e-5})
    summary = run_dir / "summary.json"
    summary.write_text(summary.read_text().replace('"rounds_trained": 1', '"rounds_trained": 0'))
    (party,) = signed_party_cards(run_dir, keys)
    assert (party.epsilon, party.epsilon_rdp, party.epsilon_prv) == (0.7, 0.7, None)
    assert party.rounds_trained == 0


def test_a_run_without_signed_ledger_entries_is_refused(run):
    run_dir, keys, write = run
    write([_round(1, epsilon_rdp=0.5, epsilon_prv=0.4)], {"epsilon": 0.5, "delta": 1e-5})
    (run_dir / "ledger_heads.json").unlink()
    with pytest.raises(RegistryError, match=r"no ledger_heads\.json"):
        signed_party_cards(run_dir, keys)
    write_json(run_dir / "ledger_heads.json", {})
    with pytest.raises(RegistryError, match="bank's rounds_trained is 1, but it signed no"):
        signed_party_cards(run_dir, keys)
