"""`fedscore audit verify` verifies everything `fedscore audit report` does.

On private copies of a real two-round run (see `trained_consortium`), the node's state is
tampered with in ways its ledger's chain alone cannot show: the accountant state rewound,
wiped or rewritten to a lower epsilon, the ledger's last entry deleted, a de-identification
report altered, and a ledger entry whose stored text holds a key twice (SQLite and Python
read different values from it). `audit verify` exits 1 and names what, and `audit report`
reaches the same verdict from the same verification.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from fedscore.cli.main import app
from fedscore.clients.node import NodeConfig
from fedscore.privacy.accounting import PartyAccountant

pytestmark = pytest.mark.simulation
PARTY = "city_bank"  # its two entries are both trained rounds
#: A second, smaller epsilon prepended to the stored text of the entry at seq = ?.
KEY_STORED_TWICE = (
    "UPDATE ledger SET content = '{\"epsilon_rdp\":0.001,' || substr(content, 2) WHERE seq = ?"
)


@pytest.fixture()
def consortium(tmp_path, trained_consortium):
    return trained_consortium.copy_to(tmp_path / "consortium")


def _node(consortium) -> NodeConfig:
    return NodeConfig.from_toml(consortium.root / PARTY / "node.toml")


def _fedscore(*args: object) -> Result:
    """A `fedscore` command, run in this process (as the compliance notebook runs it)."""
    return CliRunner().invoke(app, [str(a) for a in args])


def _verify(consortium, *extra: object) -> Result:
    return _fedscore("audit", "verify", consortium.root / PARTY, "--keys", consortium.keys, *extra)


def _sql(path: Path, statement: str, *params: object) -> None:
    with sqlite3.connect(path) as db:
        db.execute(statement, params)
    db.close()


def _ledger(path: Path) -> list[dict]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT content FROM ledger ORDER BY seq").fetchall()
    db.close()
    return [json.loads(content) for (content,) in rows]


def _store_accountant(path: Path, accountant: PartyAccountant) -> None:
    _sql(path, "UPDATE accountant SET state = ?", json.dumps(accountant.state_dict()))


def _rewind_to_first_round(path: Path) -> None:
    first = _ledger(path)[0]
    rewound = PartyAccountant()
    rewound.step(first["noise_multiplier"], first["sample_rate"], first["steps"])
    _store_accountant(path, rewound)


def _more_noise_recorded(path: Path) -> None:
    with sqlite3.connect(path) as db:
        (state,) = db.execute("SELECT state FROM accountant").fetchone()
    db.close()
    accountant = PartyAccountant.from_state_dict(json.loads(state))
    accountant.history = [(sigma * 2, q, steps) for sigma, q, steps in accountant.history]
    _store_accountant(path, accountant)


TAMPERINGS: dict[str, tuple[Callable[[Path], None], str]] = {
    "accountant rewound to round 1": (
        _rewind_to_first_round,
        "the accountant state gives ε",
    ),
    "accountant wiped": (
        lambda path: _sql(path, "DELETE FROM accountant"),
        "trained rounds in the ledger but no accountant state",
    ),
    "accountant reset to nothing spent": (
        lambda path: _store_accountant(path, PartyAccountant()),
        "the accountant state gives ε 0 (RDP)",
    ),
    "accountant rewritten to a lower epsilon": (
        _more_noise_recorded,
        "the accountant state gives ε",
    ),
    "last ledger entry deleted": (
        lambda path: _sql(path, "DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger)"),
        "the ledger's last trained entry #0 records",
    ),
}


def test_an_untouched_node_verifies_with_everything_named(consortium):
    result = _verify(consortium, "--against", consortium.run_dir)
    assert result.exit_code == 0, result.output
    assert f"{PARTY}: 2 entries verify (1 signature check(s))" in result.output
    assert f"2 of 2 signed ledger head(s) of {PARTY} verify" in result.output
    assert "OK: everything verifies" in result.output
    assert "failure" not in result.output


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_node_state_that_disagrees_with_its_ledger_fails(consortium, tampering):
    tamper, named = TAMPERINGS[tampering]
    state = _node(consortium).accountant_db
    version = _ledger(state)[0]["data_version"]
    tamper(state)
    result = _verify(consortium)
    assert result.exit_code == 1, result.output
    assert f"failure: [{PARTY}] data version {version[:12]}… of task default_risk" in result.output
    assert named in result.output
    assert "FAILED: 1 problem(s)" in result.output


def test_a_deleted_last_entry_is_also_caught_against_the_server(consortium):
    _sql(
        _node(consortium).accountant_db,
        "DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger)",
    )
    result = _verify(consortium, "--against", consortium.run_dir)
    assert result.exit_code == 1, result.output
    assert "the server holds signed entry #1, the ledger ends at #0" in result.output
    assert "the accountant state gives ε" in result.output


def test_a_key_stored_twice_fails_at_its_entry(consortium):
    state = _node(consortium).accountant_db
    _sql(state, KEY_STORED_TWICE, 1)
    # Readers disagree: SQLite's json_extract takes the first value, Python the last.
    with sqlite3.connect(state) as db:
        (by_sql,) = db.execute(
            "SELECT json_extract(content, '$.epsilon_rdp') FROM ledger WHERE seq = 1"
        ).fetchone()
    db.close()
    assert by_sql == 0.001 and _ledger(state)[1]["epsilon_rdp"] > 0.5
    result = _verify(consortium)
    assert result.exit_code == 1, result.output
    assert f"{PARTY}: FAILED at entry #1: entry #1: its stored text holds the key " in result.output
    assert "'epsilon_rdp' twice" in result.output


def _alter_report(node: NodeConfig) -> None:
    (report,) = (node.state_dir / "reports").glob("deidentification-*.json")
    document = json.loads(report.read_text(encoding="utf-8"))
    document["k_achieved"] += 1
    report.write_text(json.dumps(document), encoding="utf-8")


#: Evidence altered, what names it, and the check that finds it.
ALTERED: dict[str, tuple[Callable[[NodeConfig], None], str, str]] = {
    "de-identification report": (
        _alter_report,
        "ledger entry #1 names de-identification report sha256",
        "deidentification",
    ),
    "stored ledger text": (
        lambda node: _sql(node.accountant_db, KEY_STORED_TWICE, 0),
        "entry #0: its stored text holds the key 'epsilon_rdp' twice",
        "ledger",
    ),
}


@pytest.mark.parametrize("evidence", ALTERED)
def test_verify_and_report_reach_the_same_verdict(consortium, tmp_path, evidence):
    alter, named, check = ALTERED[evidence]
    alter(_node(consortium))
    verified = _verify(consortium)
    audited = _fedscore(
        "audit", "report", consortium.root / PARTY, "--keys", consortium.keys,
        "--out", tmp_path / "audit",
    )  # fmt: skip
    assert verified.exit_code == audited.exit_code == 1, verified.output + audited.output
    assert named in verified.output
    findings = json.loads((tmp_path / "audit" / "audit_report.json").read_text())["findings"]
    (failure,) = (f for f in findings if f["severity"] == "failure")
    assert failure["check"] == check and named in failure["message"]


@pytest.mark.parametrize("command", ["verify", "report"])
def test_a_view_in_place_of_the_ledger_is_refused_not_run_forever(
    consortium, fedscore_cli, tmp_path, command
):
    """A node's own state file, read by the auditor: a view with a recursive query where the
    ledger table belongs kept `audit verify` and `audit report` running forever."""
    state = _node(consortium).accountant_db
    _sql(state, "ALTER TABLE ledger RENAME TO ledger_kept")
    _sql(
        state,
        "CREATE VIEW ledger AS WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
        "SELECT l.* FROM ledger_kept AS l, c",
    )
    extra = ("--out", tmp_path / "audit") if command == "report" else ()
    result = fedscore_cli(
        "audit", command, consortium.root / PARTY, "--keys", consortium.keys, *extra,
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr[-2000:]
    assert "holds 1 view(s) or trigger(s), which no fedscore state file has" in result.stderr
    assert not (tmp_path / "audit").exists()
