"""The node's journal on disk: named columns, migration of older files, the SQL hook."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, fields, replace
from pathlib import Path

import pytest

from fedscore.clients.journal import (
    AccountantKey,
    NodeJournal,
    ReleasedUpdate,
    RoundRecord,
)
from fedscore.clients.journal.tables import SCHEMA_VERSION, JournalVersionError, columns_of
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.ledger import LEDGER_SCHEMA

KEY = AccountantKey("bank", "default_risk", "v1")

# The journal's tables as fedscore wrote them before rounds had attempts, released
# updates were kept, or the file had a version.
OLD_SCHEMA = """
CREATE TABLE accountant (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL,
    state TEXT NOT NULL, updated_at TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version)
);
CREATE TABLE round (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, run_id TEXT NOT NULL,
    server_round INTEGER NOT NULL, status TEXT NOT NULL CHECK (status IN ('trained', 'refused')),
    reason TEXT NOT NULL, noise_multiplier REAL, sample_rate REAL, steps INTEGER,
    max_grad_norm REAL, delta REAL NOT NULL, epsilon_rdp REAL, epsilon_prv REAL,
    max_epsilon REAL NOT NULL, created_at TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version, run_id, server_round)
);
CREATE TABLE budget_epoch (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, epoch TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version)
);
CREATE TABLE run_plan (
    party TEXT NOT NULL, task TEXT NOT NULL, data_version TEXT NOT NULL, run_id TEXT NOT NULL,
    plan TEXT NOT NULL,
    PRIMARY KEY (party, task, data_version, run_id)
);
INSERT INTO round VALUES ('bank', 'default_risk', 'v1', 'run-a', 1, 'trained', '', 3.0, 0.1,
    6, 4.0, 1e-5, 0.5, 0.45, 3.0, '2026-11-01T00:00:00+00:00');
INSERT INTO budget_epoch VALUES ('bank', 'default_risk', 'v1', '2026');
INSERT INTO run_plan VALUES ('bank', 'default_risk', 'v1', 'run-a', '{"noise": 3.0}');
"""


def _distinct_record(server_round: int = 7) -> RoundRecord:
    """A trained round whose numeric fields all differ, so a shifted column shows."""
    return RoundRecord(
        run_id="run-x",
        server_round=server_round,
        status="trained",
        reason="",
        noise_multiplier=1.25,
        sample_rate=0.0625,
        steps=11,
        max_grad_norm=2.5,
        delta=1e-6,
        epsilon_rdp=0.75,
        epsilon_prv=0.625,
        max_epsilon=8.0,
        created_at="2026-01-02T03:04:05.000006+00:00",
    )


def _stored_row(path: Path, table: str) -> sqlite3.Row:
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        row = db.execute(f"SELECT * FROM {table}").fetchone()
    db.close()
    return row


def _old_file(path: Path) -> None:
    db = sqlite3.connect(path)
    db.executescript(OLD_SCHEMA + LEDGER_SCHEMA)
    db.close()


@pytest.mark.parametrize(
    ("table", "record"),
    [("round", RoundRecord), ("released_update", ReleasedUpdate), ("round", AccountantKey)],
)
def test_every_record_field_has_a_column_of_its_name(tmp_path, table, record):
    journal = NodeJournal(tmp_path / "privacy.sqlite")
    with sqlite3.connect(journal.path) as db:
        columns = set(columns_of(db, table))
    db.close()
    assert {field.name for field in fields(record)} <= columns


def test_each_round_field_lands_in_the_column_of_its_name(tmp_path):
    journal = NodeJournal(tmp_path / "privacy.sqlite")
    record = _distinct_record()
    journal.commit_round(KEY, PartyAccountant(), record)
    stored = _stored_row(journal.path, "round")
    assert {name: stored[name] for name in asdict(KEY)} == asdict(KEY)
    assert {name: stored[name] for name in asdict(record)} == asdict(record)
    assert journal.rounds(KEY) == [record]


def test_a_released_update_lands_in_the_columns_of_its_names(tmp_path):
    signer = SigningKey.load_or_create(tmp_path / "ledger.pem")
    journal = NodeJournal(tmp_path / "privacy.sqlite", signer=signer)
    update = ReleasedUpdate("model-sha", b"\x00npz", '{"loss": 0.5}')
    entry = journal.commit_round(KEY, PartyAccountant(), _distinct_record(), released=update)
    assert entry is not None
    stored = _stored_row(journal.path, "released_update")
    assert (stored["run_id"], stored["server_round"], stored["ledger_seq"]) == ("run-x", 7, 0)
    assert (stored["request_sha256"], stored["arrays"]) == ("model-sha", b"\x00npz")
    replayed = journal.released(KEY, "run-x", 7)
    assert replayed is not None and replayed[0] == ReleasedUpdate(
        "model-sha", b"\x00npz", '{"loss": 0.5}', ledger_seq=0
    )
    assert replayed[1] is not None and replayed[1].entry_hash == entry.entry_hash


def test_a_file_from_before_attempts_and_versions_is_migrated_once(tmp_path):
    path = tmp_path / "privacy.sqlite"
    _old_file(path)
    journal = NodeJournal(path)
    (old,) = journal.rounds(KEY)
    assert (old.attempt, old.steps, old.epsilon_rdp, old.epsilon_prv) == (1, 6, 0.5, 0.45)
    assert journal.epoch_of(KEY, "now") == "2026"
    assert journal.plan(KEY, "run-a") == {"noise": 3.0}
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert "attempt" in columns_of(db, "round")
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    db.close()
    assert "round_before_attempts" not in tables and "released_update" in tables
    # Asked again, the round is a second attempt next to the migrated first.
    journal.commit_round(KEY, PartyAccountant(), replace(old, created_at=""))
    assert [r.attempt for r in journal.rounds(KEY)] == [1, 2]
    # Opened again, the migrated file is only read.
    statements: list[str] = []
    NodeJournal(path, on_statement=statements.append)
    assert not [s for s in statements if s.split()[0].upper() in {"BEGIN", "CREATE", "INSERT"}]


def test_a_file_with_today_s_tables_but_no_version_keeps_its_rounds(tmp_path):
    path = tmp_path / "privacy.sqlite"
    NodeJournal(path).commit_round(KEY, PartyAccountant(), _distinct_record())
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version = 0")  # as the journal wrote it before versions
    db.close()
    assert NodeJournal(path).rounds(KEY) == [_distinct_record()]


def test_a_file_from_a_newer_fedscore_is_refused(tmp_path):
    path = tmp_path / "privacy.sqlite"
    NodeJournal(path)
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(JournalVersionError, match="newer"):
        NodeJournal(path)


def test_the_statement_hook_sees_each_statement_before_it_has_effect(tmp_path):
    path = tmp_path / "privacy.sqlite"
    signer = SigningKey.load_or_create(tmp_path / "ledger.pem")
    seen: list[str] = []
    rounds_when_committing: list[int] = []

    def hook(statement: str) -> None:
        seen.append(statement)
        if statement.strip().upper() == "COMMIT" and "INSERT INTO round" in " ".join(seen):
            with sqlite3.connect(path) as reader:  # another connection: what is on disk
                (count,) = reader.execute("SELECT COUNT(*) FROM round").fetchone()
            reader.close()
            rounds_when_committing.append(count)

    journal = NodeJournal(path, signer=signer, on_statement=hook)
    assert any(s.lstrip().startswith("CREATE TABLE") for s in seen)  # opening is traced too
    seen.clear()
    journal.commit_round(KEY, PartyAccountant(), _distinct_record())
    verbs = [" ".join(s.split()[:3]).upper() for s in seen]
    begin, commit = verbs.index("BEGIN IMMEDIATE"), verbs.index("COMMIT")
    writes = [verb for verb in verbs[begin:commit] if verb.startswith("INSERT")]
    assert writes == [
        "INSERT OR IGNORE",  # the budget epoch
        "INSERT INTO ACCOUNTANT",
        "INSERT INTO ROUND",
        "INSERT INTO LEDGER",
    ]
    assert rounds_when_committing == [0]  # the hook ran before COMMIT took effect
    assert journal.rounds(KEY) == [_distinct_record()]
