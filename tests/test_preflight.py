"""Before anything is spent, every party is asked whether it can take part; the model owner
gets every party's problems at once, and nothing is charged anywhere.

Each case was a defect: a single-class label trained and spent at every party before
failing; a table with another institution's consent file ended in ZeroDivisionError; a
world-readable ledger key was refused inside a Ray worker with a traceback as the reason;
one node config given twice trained a round twice; a state folder of another party was
written to.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import pytest
from table_support import granted_consent

from fedscore.clients.node import NodeConfig
from fedscore.clients.node_state import claim_state
from fedscore.core.errors import ConfigError

pytestmark = pytest.mark.simulation


def _train(fedscore_cli, root: Path, *nodes: Path, extra: tuple[str, ...] = ()):
    args = ["train", "--rounds", "2", "--workdir", str(root / "work"), *extra]
    for node in nodes:
        args += ["--node", str(node)]
    return fedscore_cli(*args, cwd=root)


def _ledger_entries(config: Path) -> int:
    path = NodeConfig.from_toml(config).accountant_db
    if not path.exists():
        return 0
    with sqlite3.connect(path) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM ledger").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


@pytest.fixture()
def parties(tmp_path, market, make_node):
    """Three healthy institutions (each on its own state folder)."""
    return {
        name: make_node(tmp_path / name, name, market.parties[name].head(3500))
        for name in ("large_bank", "city_bank", "loan_facilitator")
    }


def test_every_partys_problems_are_reported_together_and_nothing_is_spent(
    tmp_path, market, make_node, parties, fedscore_cli
):
    one_class = market.parties["city_bank"].head(3500).copy()
    one_class["default.payment.next.month"] = 0
    make_node(tmp_path / "city_bank", "city_bank", one_class)
    # The facilitator's table with the large bank's consent records.
    make_node(
        tmp_path / "loan_facilitator",
        "loan_facilitator",
        market.parties["loan_facilitator"].head(3500),
        consent=granted_consent(market.parties["large_bank"].head(3500)),
    )
    os.chmod(tmp_path / "large_bank" / "keys", 0o755)
    ledger_key = tmp_path / "large_bank" / "keys" / "ledger" / "ed25519.pem"
    from fedscore.core.signing import SigningKey

    SigningKey.load_or_create(ledger_key)
    os.chmod(ledger_key, 0o644)
    result = _train(fedscore_cli, tmp_path, *parties.values())
    assert result.returncode == 2, result.stderr[-2000:]
    printed = result.stderr
    assert "Traceback" not in printed and "\x1b[" not in printed.split("error:", 1)[1]
    assert "the run cannot start" in printed
    assert "city_bank: the label has a single class" in printed
    assert "loan_facilitator:" in printed and "has valid consent" in printed
    assert "large_bank:" in printed and "readable by others; restrict it with chmod 600" in printed
    assert all(_ledger_entries(config) == 0 for config in parties.values())
    assert not (tmp_path / "work" / "runs").exists() or not any(
        (tmp_path / "work" / "runs").iterdir()
    )


def test_a_run_the_budget_cannot_afford_is_refused_before_round_1(tmp_path, parties, fedscore_cli):
    """`--epsilon 8` against a budget of 5 used to train a round and refuse the rest."""
    result = _train(fedscore_cli, tmp_path, *parties.values(), extra=("--epsilon", "8"))
    assert result.returncode == 2
    for name in parties:
        assert f"{name}: privacy budget: the run would raise epsilon" in result.stderr
    assert all(_ledger_entries(config) == 0 for config in parties.values())


def test_one_node_config_given_twice_is_refused(tmp_path, parties, fedscore_cli):
    large = parties["large_bank"]
    result = _train(fedscore_cli, tmp_path, large, large, parties["city_bank"])
    assert result.returncode == 2 and "party 'large_bank' is given twice" in result.stderr
    assert _ledger_entries(large) == 0


def test_two_parties_on_one_state_folder_are_refused(tmp_path, parties, fedscore_cli):
    city = parties["city_bank"]
    shared = tmp_path / "city_on_large_state.toml"
    text = city.read_text().replace(
        'state_dir = "state"', f'state_dir = "{tmp_path / "large_bank" / "state"}"'
    )
    shared.write_text(
        text.replace('"data/', f'"{city.parent}/data/').replace('"keys"', f'"{city.parent}/keys"')
    )
    result = _train(fedscore_cli, tmp_path, parties["large_bank"], shared)
    assert result.returncode == 2 and "share the state folder" in result.stderr


def test_a_state_folder_keeps_the_party_it_belongs_to(tmp_path):
    state = tmp_path / "state"
    claim_state(state, "large_bank")
    claim_state(state, "large_bank")  # the same party again: fine
    with pytest.raises(ConfigError, match="is the privacy state of party 'large_bank'"):
        claim_state(state, "city_bank")
    assert (state / "owner.json").stat().st_mode & 0o777 == 0o600


def test_a_node_pointed_at_another_partys_state_is_refused(
    tmp_path, market, make_node, parties, fedscore_cli
):
    claim_state(tmp_path / "large_bank" / "state", "large_bank")  # the large bank's state
    intruder = make_node(tmp_path / "intruder", "intruder", market.parties["city_bank"].head(3500))
    intruder.write_text(
        intruder.read_text().replace(
            'state_dir = "state"', f'state_dir = "{tmp_path / "large_bank" / "state"}"'
        )
    )
    result = _train(fedscore_cli, tmp_path, intruder, parties["city_bank"])
    assert result.returncode == 2
    assert "is the privacy state of party 'large_bank', not of 'intruder'" in result.stderr
    assert _ledger_entries(parties["large_bank"]) == 0
