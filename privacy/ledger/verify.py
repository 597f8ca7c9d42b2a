"""Verifying a ledger: every stored text, hash link and the signatures where they must be.

Complete: each entry's stored text must be the canonical JSON of its content (so every
reader, Python or SQLite's json_extract, sees the same values), and the last signature
authenticates every earlier entry and signature (they are all hashed into it). Fast: N
hashes and one Ed25519 check when the ledger is intact; when it is not, a binary search
over signatures (about log2 N checks) finds the first entry that no longer carries the
node's signature.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.privacy.ledger.chain import HASH_ALGORITHMS, LedgerEntry, canonical, chain_hash
from fedscore.privacy.ledger.foreign import open_party_database


@dataclass(frozen=True)
class Verification:
    """The verdict on one ledger.

    Attributes:
        ok: every stored text, link and the signatures verify.
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


class _DuplicateKey(ValueError):
    """A JSON object names the same key twice (readers disagree on which value counts)."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    content = dict(pairs)
    if len(content) != len(pairs):
        names = [name for name, _ in pairs]
        raise _DuplicateKey(next(name for name in names if names.count(name) > 1))
    return content


def parse_canonical(text: object) -> tuple[dict[str, Any], str]:
    """The content of one stored entry, and why its text is not canonical ("" when it is).

    The text must be exactly `canonical(content)`: one JSON object, no duplicate keys,
    sorted keys, no whitespace. Anything else could read differently to another JSON
    reader (SQLite's json_extract takes the first of two equal keys, Python the last).

    Args:
        text: the entry's `content` column as SQLite returned it.

    Returns:
        The parsed content (empty when the text is not a JSON object, or names a key
        twice) and the problem.
    """
    if not isinstance(text, str):
        return {}, f"its content is stored as {type(text).__name__}, not text"
    try:
        content = json.loads(text)
    except json.JSONDecodeError as exc:
        return {}, f"its stored text is not valid JSON ({exc.msg} at character {exc.pos})"
    except (ValueError, RecursionError):
        return {}, "its stored text is not readable JSON"
    if not isinstance(content, dict):
        return {}, "its stored text is not a JSON object"
    try:
        # A key stored twice is read once, so its text cannot be canonical either.
        if canonical(content) == text.encode("utf-8"):
            return content, ""
    except (ValueError, RecursionError):  # e.g. a lone surrogate: not valid UTF-8
        pass
    try:
        json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as duplicate:
        return {}, f"its stored text holds the key {duplicate.key[:40]!r} twice"
    return content, "its stored text is not the canonical JSON of its content"


def _signed(entry: LedgerEntry, key: Ed25519PublicKey) -> bool:
    try:
        key.verify(entry.signature, entry.entry_hash)
    except InvalidSignature:
        return False
    return True


def verify_entries(entries: Sequence[LedgerEntry], key: Ed25519PublicKey) -> Verification:
    """Check positions, links and signatures of entries in storage order.

    Each entry is hashed as the canonical JSON of its content; `verify_stored` checks the
    text a ledger actually stores.
    """
    return _verify_links(entries, [canonical(entry.content) for entry in entries], key)


def _verify_links(
    entries: Sequence[LedgerEntry], bodies: Sequence[bytes], key: Ed25519PublicKey
) -> Verification:
    previous_hash, previous_signature = b"", b""
    for position, (entry, body) in enumerate(zip(entries, bodies, strict=True)):
        if entry.seq != position:
            what = "missing or re-ordered entries" if entry.seq > position else "re-ordered entry"
            return Verification(
                False,
                len(entries),
                position,
                f"entry #{position} has sequence number {entry.seq}: {what}",
            )
        if entry.algorithm not in HASH_ALGORITHMS:
            return Verification(
                False, len(entries), position, f"entry #{position}: unknown hash algorithm"
            )
        expected = chain_hash(previous_hash, previous_signature, body, entry.algorithm)
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


def verify_stored(
    db: sqlite3.Connection, key: Ed25519PublicKey
) -> tuple[list[LedgerEntry], Verification]:
    """Every entry of a privacy-state database's ledger as stored, and the verdict on them.

    Each link is hashed over the text as stored, and that text must be the canonical JSON
    of its content (see `parse_canonical`): a node holding its own key cannot sign a text
    that reads one way to the auditor and another way to SQL.

    Args:
        db: the node's privacy-state database (read-only is enough).
        key: the node's ledger public key, from the consortium's key list.
    """
    entries: list[LedgerEntry] = []
    bodies: list[bytes] = []
    unreadable: tuple[int, str] | None = None
    rows = db.execute(
        "SELECT seq, content, entry_hash, signature, algorithm FROM ledger ORDER BY rowid"
    )
    for position, (seq, text, entry_hash, signature, algorithm) in enumerate(rows):
        content, problem = parse_canonical(text)
        if problem and unreadable is None:
            unreadable = (position, f"entry #{seq}: {problem} (the entry was tampered with)")
        entries.append(
            LedgerEntry(int(seq), content, _blob(entry_hash), _blob(signature), str(algorithm))
        )
        bodies.append(text.encode("utf-8") if isinstance(text, str) else b"")
    chain = _verify_links(entries, bodies, key)
    if unreadable is None or (
        chain.first_broken is not None and chain.first_broken < unreadable[0]
    ):
        return entries, chain
    position, problem = unreadable
    return entries, Verification(False, len(entries), position, problem, chain.signature_checks)


def verify_ledger(path: Path, key: Ed25519PublicKey) -> Verification:
    """Verify the ledger stored in a node's privacy-state file (see `verify_stored`)."""
    db = open_party_database(path)
    try:
        return verify_stored(db, key)[1]
    finally:
        db.close()


def _blob(value: object) -> bytes:
    """A stored hash or signature; anything but a BLOB fails verification as empty."""
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else b""


def signed_head_content(head: dict[str, object]) -> dict[str, object]:
    """A head's content as its node signed it.

    Run directories hold strict JSON, which has no Infinity: the infinite epsilon of a
    non-private round is written "inf" there, while the node signed the number. The
    hash decides which reading is the signed one (`verify_signed_head`).
    """
    content = _with_infinities(head["content"])
    if not isinstance(content, dict):
        raise TypeError("a signed head's content must be a JSON object")
    return content


def verify_signed_head(head: dict[str, object], key: Ed25519PublicKey) -> str:
    """Problems with one signed ledger head a node sent ("" when it verifies).

    The content verifies as stored or with "inf"/"-inf" read back as the numbers the
    node signed (see `signed_head_content`); the hash must match either way.
    """
    try:
        entry_hash = bytes.fromhex(str(head["entry_hash"]))
        links = (
            bytes.fromhex(str(head["previous_hash"])),
            bytes.fromhex(str(head["previous_signature"])),
        )
        stored = head["content"]
        if not isinstance(stored, dict):
            raise TypeError("a signed head's content must be a JSON object")
        readings = (dict(stored), signed_head_content(head))
        matches = [
            chain_hash(*links, canonical(content), str(head["algorithm"])) == entry_hash
            for content in readings
        ]
        signature = bytes.fromhex(str(head["signature"]))
        seq = int(str(head["seq"]))
    except (KeyError, ValueError, TypeError) as exc:
        return f"malformed signed head ({exc})"
    if not any(matches):
        return "its content does not match its hash"
    entry = LedgerEntry(seq, {}, entry_hash, signature)
    return "" if _signed(entry, key) else "signature does not verify with the node's key"


def _with_infinities(value: object) -> object:
    if isinstance(value, dict):
        return {name: _with_infinities(item) for name, item in value.items()}
    if isinstance(value, list):
        return [_with_infinities(item) for item in value]
    return float(value) if value in ("inf", "-inf") else value


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
