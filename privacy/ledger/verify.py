"""Verifying a ledger: every link recomputed, signatures checked where they must be.

Complete: the last signature authenticates every earlier entry and signature (they are
all hashed into it). Fast: N hashes and one Ed25519 check when the ledger is intact;
when it is not, a binary search over signatures (about log2 N checks) finds the first
entry that no longer carries the node's signature.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.privacy.ledger.chain import LedgerEntry, canonical, chain_hash
from fedscore.privacy.ledger.store import read_entries


@dataclass(frozen=True)
class Verification:
    """The verdict on one ledger.

    Attributes:
        ok: every link and the signatures verify.
        entries: how many entries were checked.
        first_broken: position of the first entry that fails (None when ok).
        problem: what fails there.
        signature_checks: Ed25519 verifications performed.
    """

    ok: bool
    entries: int
    first_broken: int | None = None
    problem: str = ""
    signature_checks: int = 0


def _signed(entry: LedgerEntry, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(entry.signature, entry.entry_hash)
    except InvalidSignature:
        return False
    return True


def verify_entries(entries: list[LedgerEntry], key: Ed25519PublicKey) -> Verification:
    """Check positions, links and signatures of entries in storage order."""
    previous_hash, previous_signature = b"", b""
    for position, entry in enumerate(entries):
        if entry.seq != position:
            what = "missing or re-ordered entries" if entry.seq > position else "re-ordered entry"
            return Verification(
                False,
                len(entries),
                position,
                f"entry #{position} has sequence number {entry.seq}: {what}",
            )
        expected = chain_hash(
            previous_hash, previous_signature, canonical(entry.content), entry.algorithm
        )
        if expected != entry.entry_hash:
            return Verification(
                False,
                len(entries),
                position,
                f"entry #{position}: its content or the entry before it was altered "
                "(the hash chain breaks here)",
            )
        previous_hash, previous_signature = entry.entry_hash, entry.signature
    if not entries:
        return Verification(True, 0)
    checks = 1
    if _signed(entries[-1], key):
        return Verification(True, len(entries), signature_checks=checks)
    # The chain is consistent but not signed by the node: find the first forged entry.
    low, high = 0, len(entries) - 1  # entries[high] is known to fail
    while low < high:
        middle = (low + high) // 2
        checks += 1
        if _signed(entries[middle], key):
            low = middle + 1
        else:
            high = middle
    return Verification(
        False,
        len(entries),
        high,
        f"entry #{high}: signature does not verify with the node's public key "
        "(entries from here on were rewritten or signed by another key)",
        signature_checks=checks,
    )


def verify_ledger(path: Path, key: Ed25519PublicKey) -> Verification:
    """Verify the ledger stored in a node's privacy-state file."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return verify_entries(read_entries(db), key)
    finally:
        db.close()


def verify_signed_head(head: dict[str, object], key: Ed25519PublicKey) -> str:
    """Problems with one signed ledger head a node sent ("" when it verifies)."""
    try:
        entry_hash = bytes.fromhex(str(head["entry_hash"]))
        expected = chain_hash(
            bytes.fromhex(str(head["previous_hash"])),
            bytes.fromhex(str(head["previous_signature"])),
            canonical(dict(head["content"])),  # type: ignore[call-overload]
            str(head["algorithm"]),
        )
        signature = bytes.fromhex(str(head["signature"]))
    except (KeyError, ValueError, TypeError) as exc:
        return f"malformed signed head ({exc})"
    if expected != entry_hash:
        return "its content does not match its hash"
    entry = LedgerEntry(int(str(head["seq"])), {}, entry_hash, signature)
    return "" if _signed(entry, key) else "signature does not verify with the node's key"


def compare_with_heads(entries: list[LedgerEntry], heads: list[dict[str, object]]) -> str:
    """Problems found comparing a node's ledger with the signed heads the server received.

    A head the ledger no longer holds means entries were deleted from its end (which
    the chain alone cannot show); a head that differs means the entry was replaced.
    """
    by_seq = {entry.seq: entry for entry in entries}
    for head in heads:
        seq = int(str(head["seq"]))
        entry = by_seq.get(seq)
        if entry is None:
            return (
                f"the server holds signed entry #{seq}, the ledger ends at "
                f"#{len(entries) - 1}: entries were removed from its end"
            )
        if entry.entry_hash.hex() != head["entry_hash"]:
            return f"entry #{seq} differs from the signed entry the server received"
    return ""
