"""What one PSI run is bound to, and what a party learns from it.

`PsiDomain` separates one run's hashes from every other run's (the run and the task, under
the protocol's tag); `PsiResult` is a party's outcome, with the `commitment` both parties
record on their ledgers so that an auditor can compare the intersections without seeing
them. The protocol itself is `fedscore.vertical.psi.protocol`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

#: What every PSI domain starts with (protocol name and version).
DOMAIN_TAG = b"fedscore-psi/v1\x00"


@dataclass(frozen=True)
class PsiDomain:
    """What separates one run's hashes from every other run's.

    Attributes:
        run_id: the run both parties take part in.
        task: the consortium task (or consortium) the run belongs to.
    """

    run_id: str
    task: str

    def __post_init__(self) -> None:
        for name, value in (("run_id", self.run_id), ("task", self.task)):
            if not isinstance(value, str) or not 0 < len(value.encode("utf-8")) < 256:
                raise ValueError(f"PsiDomain.{name} must be 1 to 255 bytes of text")

    def to_bytes(self) -> bytes:
        """DOMAIN_TAG, then the run id and the task, each after its length in one byte."""
        run, task = self.run_id.encode("utf-8"), self.task.encode("utf-8")
        return DOMAIN_TAG + bytes([len(run)]) + run + bytes([len(task)]) + task


@dataclass(frozen=True)
class PsiResult:
    """What one party learned: its own rows that the peer holds too.

    Attributes:
        rows: own row numbers (as passed to `PsiParty.start`) in the intersection, ascending.
        join_keys: per row, the 32-byte join key H(x)^ab the peer holds for the same person.
        own_size: distinct valid identifiers this party put in.
        peer_size: identifiers the peer put in.
        duplicates: own identifiers dropped as repeats of an earlier row.
        invalid: own identifiers dropped as invalid (the normalizer returned None).
        commitment: SHA-256 of the sorted join keys, equal at both parties (for the ledger).
    """

    rows: tuple[int, ...]
    join_keys: tuple[bytes, ...]
    own_size: int
    peer_size: int
    duplicates: int
    invalid: int
    commitment: bytes

    @property
    def intersection_size(self) -> int:
        return len(self.rows)


def commitment(join_keys: Iterable[bytes]) -> bytes:
    """SHA-256 over the join keys sorted and concatenated (equal at both parties).

    Args:
        join_keys: the join keys of an intersection, in any order.
    """
    return hashlib.sha256(b"".join(sorted(join_keys))).digest()
