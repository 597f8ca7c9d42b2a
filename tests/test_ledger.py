"""The privacy-budget ledger: every tampering is detected, at the first broken entry."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest
import tomli_w
from cryptography.hazmat.primitives import hashes
from flwr.app import ArrayRecord
from round_support import round_request

from fedscore.clients.journal import AccountantKey, NodeJournal, RoundRecord
from fedscore.clients.node import NodeConfig
from fedscore.clients.rounds import train_round
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import ConfigError
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.signing import SigningKey
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.ledger import (
    HASH_ALGORITHMS,
    LEDGER_SCHEMA,
    append_entry,
    chain_hash,
    read_entries,
    verify_entries,
    verify_ledger,
)


@pytest.fixture()
def signer(tmp_path):
    return SigningKey.load_or_create(tmp_path / "keys" / "ledger" / "ed25519.pem")


@pytest.fixture(params=HASH_ALGORITHMS)
def ledger(request, tmp_path, signer):
    """40 signed entries chained with each of the hash algorithms a node can choose."""
    path = tmp_path / "privacy.sqlite"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(LEDGER_SCHEMA)
    for index in range(40):
        content = {"round": index + 1, "epsilon_rdp": 0.1 * (index + 1)}
        append_entry(db, content, signer, request.param)
    db.close()
    return path


def test_sm3_links_follow_the_standard():
    # GB/T 32905-2016, appendix A.1: SM3("abc").
    abc = "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"abc")
    assert digest.finalize().hex() == abc
    link = chain_hash(b"\x01" * 32, b"\x02" * 64, b"abc", "sm3")
    digest = hashes.Hash(hashes.SM3())
    digest.update(b"\x01" * 32 + b"\x02" * 64 + b"abc")
    assert link == digest.finalize()
    with pytest.raises(ValueError, match="choose one of sha256, sm3"):
        chain_hash(b"", b"", b"abc", "md5")


def test_a_ledger_may_move_from_sha256_to_sm3(tmp_path, signer):
    path = tmp_path / "privacy.sqlite"
    store = NodeJournal(path, signer=signer)
    key = AccountantKey("bank", "default_risk", "v1")
    record = RoundRecord(
        "run-a", 1, "refused", "budget", None, None, None, None, 1e-5, None, None, 1.0
    )
    store.commit_round(key, PartyAccountant(), record)
    moved = NodeJournal(path, signer=signer, ledger_hash="sm3")
    entry = moved.commit_round(key, PartyAccountant(), replace(record, server_round=2))
    assert entry is not None and entry.algorithm == "sm3"
    db = sqlite3.connect(path)
    entries = read_entries(db)
    db.close()
    assert [e.algorithm for e in entries] == ["sha256", "sm3"]
    assert verify_entries(entries, signer.public_key).ok
    with pytest.raises(ValueError, match="unknown ledger hash algorithm"):
        NodeJournal(path, signer=signer, ledger_hash="sha1")


def _tamper(path, statement, *params):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute(statement, params)
    db.close()


def test_an_intact_ledger_verifies_with_one_signature_check(ledger, signer):
    verdict = verify_ledger(ledger, signer.public_key)
    assert verdict.ok and verdict.entries == 40 and verdict.signature_checks == 1


def test_edited_value_is_detected_at_its_entry(ledger, signer):
    _tamper(
        ledger,
        "UPDATE ledger SET content=? WHERE seq=17",
        json.dumps({"epsilon_rdp": 0.01, "round": 18}, separators=(",", ":")),
    )
    verdict = verify_ledger(ledger, signer.public_key)
    assert not verdict.ok and verdict.first_broken == 17 and "hash chain breaks" in verdict.problem


def _rewrite_text(path, seq, rewrite):
    db = sqlite3.connect(path, isolation_level=None)
    (text,) = db.execute("SELECT content FROM ledger WHERE seq=?", (seq,)).fetchone()
    db.execute("UPDATE ledger SET content=? WHERE seq=?", (rewrite(text), seq))
    db.close()


@pytest.mark.parametrize(
    ("rewrite", "problem"),
    [
        pytest.param(
            lambda text: '{"epsilon_rdp":0.001,' + text[1:],
            "holds the key 'epsilon_rdp' twice",
            id="a key stored twice",
        ),
        pytest.param(
            lambda text: json.dumps(json.loads(text)),
            "not the canonical JSON of its content",
            id="whitespace",
        ),
        pytest.param(
            lambda text: json.dumps(
                dict(reversed(json.loads(text).items())), separators=(",", ":")
            ),
            "not the canonical JSON of its content",
            id="unsorted keys",
        ),
        pytest.param(
            lambda text: text.encode("utf-8"), "stored as bytes, not text", id="stored as a BLOB"
        ),
    ],
)
def test_stored_text_must_be_the_canonical_json_of_its_content(ledger, signer, rewrite, problem):
    # Each still parses (in Python) to the content that was hashed and signed.
    _rewrite_text(ledger, 17, rewrite)
    verdict = verify_ledger(ledger, signer.public_key)
    assert not verdict.ok and verdict.first_broken == 17
    assert verdict.problem.startswith("entry #17: ") and problem in verdict.problem


def test_the_node_cannot_sign_a_text_readers_disagree_on(ledger, signer):
    db = sqlite3.connect(ledger, isolation_level=None)
    (previous_hash, previous_signature), (text, algorithm) = (
        db.execute("SELECT entry_hash, signature FROM ledger WHERE seq=38").fetchone(),
        db.execute("SELECT content, algorithm FROM ledger WHERE seq=39").fetchone(),
    )
    twice = '{"epsilon_rdp":0.001,' + text[1:]
    entry_hash = chain_hash(previous_hash, previous_signature, twice.encode(), algorithm)
    db.execute(
        "UPDATE ledger SET content=?, entry_hash=?, signature=? WHERE seq=39",
        (twice, entry_hash, signer.sign(entry_hash)),
    )
    db.close()
    verdict = verify_ledger(ledger, signer.public_key)
    assert not verdict.ok and verdict.first_broken == 39
    assert "holds the key 'epsilon_rdp' twice" in verdict.problem


def test_an_unknown_hash_algorithm_fails_verification(ledger, signer):
    _tamper(ledger, "UPDATE ledger SET algorithm='md5' WHERE seq=3")
    verdict = verify_ledger(ledger, signer.public_key)
    assert (
        not verdict.ok and verdict.first_broken == 3 and "unknown hash algorithm" in verdict.problem
    )


def test_deleted_entry_is_detected(ledger, signer):
    _tamper(ledger, "DELETE FROM ledger WHERE seq=9")
    verdict = verify_ledger(ledger, signer.public_key)
    assert not verdict.ok and verdict.first_broken == 9 and "missing" in verdict.problem


def test_reordered_entries_are_detected(ledger, signer):
    db = sqlite3.connect(ledger)
    entries = read_entries(db)
    db.close()
    entries[5], entries[6] = entries[6], entries[5]
    verdict = verify_entries(entries, signer.public_key)
    assert not verdict.ok and verdict.first_broken == 5


def test_forged_signature_is_detected(ledger, signer):
    _tamper(ledger, "UPDATE ledger SET signature=? WHERE seq=39", b"\x00" * 64)
    verdict = verify_ledger(ledger, signer.public_key)
    assert not verdict.ok and verdict.first_broken == 39 and "signature" in verdict.problem


def test_rewritten_tail_with_recomputed_hashes_needs_the_key(tmp_path, ledger, signer):
    # An attacker rewrites entries 25.. consistently but signs with their own key.
    db = sqlite3.connect(ledger, isolation_level=None)
    db.execute("DELETE FROM ledger WHERE seq >= 25")
    forger = SigningKey.load_or_create(tmp_path / "forger.pem")
    for index in range(25, 40):
        append_entry(db, {"round": index + 1, "epsilon_rdp": 0.0}, forger)
    db.close()
    verdict = verify_ledger(ledger, signer.public_key)
    assert not verdict.ok and verdict.first_broken == 25
    assert verdict.signature_checks <= 8  # a binary search, not one check per entry


def test_a_wrong_public_key_fails(ledger, tmp_path):
    other = SigningKey.load_or_create(tmp_path / "other.pem")
    assert not verify_ledger(ledger, other.public_key).ok


@pytest.mark.slow  # trains rounds and runs the CLI
def test_node_rounds_are_ledgered_and_the_cli_verifies(tmp_path, party_table, schema, make_node):
    config = make_node(tmp_path / "bank", "bank", party_table, max_epsilon=0.75)
    config.write_text(config.read_text() + '\n[ledger]\nhash = "sm3"\n')
    node = NodeConfig.from_toml(config)
    run = RunConfig(rounds=2, batch_size=256, delta=1e-4)
    arrays = ArrayRecord(
        build_model(ModelSpec("lr", FeatureEncoder(schema).n_features)).state_dict()
    )
    for server_round in (1, 2):
        train_round(node, arrays, round_request(schema, run, server_round, "run-l"))
    db = sqlite3.connect(node.accountant_db)
    entries = read_entries(db)
    db.close()
    assert [e.content["status"] for e in entries] == ["trained", "refused"]
    assert {e.algorithm for e in entries} == {"sm3"}
    first = entries[0].content
    assert first["noise_multiplier"] > 0 and first["sampler"] == "poisson"
    assert first["budget_remaining"] == pytest.approx(0.75 - first["epsilon_rdp"])
    assert len(first["deidentification_report_sha256"]) == 64

    keys = tmp_path / "consortium_keys.toml"
    public = node.ledger_key.with_suffix(".pub").read_text().strip()
    keys.write_text(tomli_w.dumps({"ledger_keys": {"bank": public}}))

    def audit(*args):
        return subprocess.run(
            [sys.executable, "-m", "fedscore.cli.main", "audit", "verify", *args],
            capture_output=True,
            text=True,
            check=False,
        )

    good = audit(str(tmp_path / "bank"), "--keys", str(keys))
    assert good.returncode == 0 and "2 entries verify" in good.stderr
    _tamper(
        node.accountant_db,
        "UPDATE ledger SET content=replace(content, '\"trained\"', '\"refused\"') WHERE seq=0",
    )
    bad = audit(str(node.accountant_db), "--keys", str(keys), "--party", "bank")
    assert bad.returncode == 1 and "FAILED at entry #0" in bad.stderr


def test_the_ledger_key_is_whole_or_refused(tmp_path):
    path = tmp_path / "keys" / "ledger" / "ed25519.pem"
    signer = SigningKey.load_or_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not list(path.parent.glob("*.partial"))
    path.with_suffix(".pub").unlink()  # e.g. a crash before it was written
    again = SigningKey.load_or_create(path)
    assert again.public_hex == signer.public_hex
    assert path.with_suffix(".pub").read_text().strip() == signer.public_hex
    path.write_bytes(b"")
    with pytest.raises(ConfigError, match="not a readable private key"):
        SigningKey.load_or_create(path)
