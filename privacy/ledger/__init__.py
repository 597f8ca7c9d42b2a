"""The privacy-budget ledger of a node: append-only, hash-chained, signed, fast to verify."""

from fedscore.privacy.ledger.chain import (
    HASH_ALGORITHMS,
    LedgerEntry,
    chain_hash,
    check_hash_algorithm,
)
from fedscore.privacy.ledger.signing import load_public_keys
from fedscore.privacy.ledger.store import LEDGER_SCHEMA, append_entry, read_entries
from fedscore.privacy.ledger.verify import Verification, verify_entries, verify_ledger

__all__ = [
    "HASH_ALGORITHMS",
    "LEDGER_SCHEMA",
    "LedgerEntry",
    "Verification",
    "append_entry",
    "chain_hash",
    "check_hash_algorithm",
    "load_public_keys",
    "read_entries",
    "verify_entries",
    "verify_ledger",
]
