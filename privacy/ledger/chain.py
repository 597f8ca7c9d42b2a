"""The hash chain: each entry's hash commits to every earlier entry and signature.

    h_0 = H(genesis || canonical(entry_0))
    h_i = H(h_{i-1} || signature_{i-1} || canonical(entry_i))
    signature_i = Ed25519_sign(h_i)

Because every signature is hashed into the next link, one valid signature on the last
hash authenticates the whole ledger, earlier signatures included: verification costs
N hashes and one signature check, and a binary search over signatures (log N checks)
finds the first entry an attacker without the key rewrote.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import hashes

GENESIS = b"fedscore-ledger-v1"
#: The chain's hash algorithms: SHA-256, or SM3 (GB/T 32905) for national-algorithm deployments.
HASH_ALGORITHMS = ("sha256", "sm3")


def check_hash_algorithm(name: str) -> str:
    """`name` if it is a chain hash algorithm; a ValueError naming the choices otherwise."""
    if name not in HASH_ALGORITHMS:
        raise ValueError(
            f"unknown ledger hash algorithm '{name}': choose one of {', '.join(HASH_ALGORITHMS)}"
        )
    return name


def canonical(content: dict[str, Any]) -> bytes:
    """One byte string per entry content: sorted keys, no whitespace, UTF-8."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=True
    ).encode("utf-8")


def chain_hash(
    previous_hash: bytes, previous_signature: bytes, content: bytes, algorithm: str = "sha256"
) -> bytes:
    """The hash of one link, by one of `HASH_ALGORITHMS`.

    SM3 comes from OpenSSL through hashlib where this Python's OpenSSL has it, else
    from `cryptography`; both give the same digest.
    """
    check_hash_algorithm(algorithm)
    message = (previous_hash or GENESIS) + previous_signature + content
    if algorithm == "sm3" and "sm3" not in hashlib.algorithms_available:
        digest = hashes.Hash(hashes.SM3())
        digest.update(message)
        return digest.finalize()
    return hashlib.new(algorithm, message).digest()


@dataclass(frozen=True)
class LedgerEntry:
    """One stored entry.

    Attributes:
        seq: position in the ledger, from 0, without gaps.
        content: what happened (run, round, mechanism, epsilon, budget, ...).
        entry_hash: h_seq of the chain.
        signature: Ed25519 signature of `entry_hash` by the node's key.
        algorithm: the chain's hash algorithm.
        previous_hash, previous_signature: the link before (set when the entry was just
            appended, so a signed head can be checked on its own).
    """

    seq: int
    content: dict[str, Any]
    entry_hash: bytes
    signature: bytes
    algorithm: str = "sha256"
    previous_hash: bytes = b""
    previous_signature: bytes = b""

    def signed_head(self) -> dict[str, Any]:
        """The entry as a node sends it to the server: self-verifying with the node's key."""
        return {
            "seq": self.seq,
            "content": self.content,
            "entry_hash": self.entry_hash.hex(),
            "signature": self.signature.hex(),
            "algorithm": self.algorithm,
            "previous_hash": self.previous_hash.hex(),
            "previous_signature": self.previous_signature.hex(),
        }
