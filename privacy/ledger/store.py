"""The ledger table, inside the node's privacy-state SQLite file.

Entries are appended inside the caller's transaction — the same one that saves the
accountant state of the round — so the two can never disagree.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from fedscore.core.signing import SigningKey
from fedscore.privacy.ledger.chain import LedgerEntry, canonical, chain_hash

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
    seq INTEGER PRIMARY KEY,
    content TEXT NOT NULL,
    entry_hash BLOB NOT NULL,
    signature BLOB NOT NULL,
    algorithm TEXT NOT NULL
);
"""


def append_entry(
    db: sqlite3.Connection, content: dict[str, Any], signer: SigningKey, algorithm: str = "sha256"
) -> LedgerEntry:
    """Append one signed entry (call within an open transaction).

    Args:
        db: the node's privacy-state database, inside the caller's transaction.
        content: what the entry records.
        signer: the node's ledger key.
        algorithm: the hash of this link (see `HASH_ALGORITHMS`); each entry records its
            own, so a node can move from SHA-256 to SM3 without breaking its chain.
    """
    last = db.execute(
        "SELECT seq, entry_hash, signature FROM ledger ORDER BY seq DESC LIMIT 1"
    ).fetchone()
    seq = 0 if last is None else int(last[0]) + 1
    previous_hash, previous_signature = (b"", b"") if last is None else (last[1], last[2])
    body = canonical(content)
    entry_hash = chain_hash(previous_hash, previous_signature, body, algorithm)
    signature = signer.sign(entry_hash)
    db.execute(
        "INSERT INTO ledger (seq, content, entry_hash, signature, algorithm) VALUES (?,?,?,?,?)",
        (seq, body.decode("utf-8"), entry_hash, signature, algorithm),
    )
    return LedgerEntry(
        seq, content, entry_hash, signature, algorithm, previous_hash, previous_signature
    )


def read_entries(db: sqlite3.Connection) -> list[LedgerEntry]:
    """Every entry in storage order (rowid), as stored — verification judges them."""
    rows = db.execute(
        "SELECT seq, content, entry_hash, signature, algorithm FROM ledger ORDER BY rowid"
    ).fetchall()
    return [LedgerEntry(int(s), json.loads(c), bytes(h), bytes(sig), a) for s, c, h, sig, a in rows]


def read_entry(db: sqlite3.Connection, seq: int) -> LedgerEntry | None:
    """One entry with the link before it (so its signed head can be rebuilt), or None."""
    rows = db.execute(
        "SELECT seq, content, entry_hash, signature, algorithm FROM ledger "
        "WHERE seq IN (?, ?) ORDER BY seq",
        (seq - 1, seq),
    ).fetchall()
    if not rows or int(rows[-1][0]) != seq:
        return None
    previous = rows[0] if len(rows) == 2 else None
    s, content, entry_hash, signature, algorithm = rows[-1]
    return LedgerEntry(
        int(s),
        json.loads(content),
        bytes(entry_hash),
        bytes(signature),
        algorithm,
        bytes(previous[2]) if previous else b"",
        bytes(previous[3]) if previous else b"",
    )
