"""Two-party ECDH private set intersection over ristretto255, one step per process.

A is the label holder (the bank), B the feature holder (the facilitator); each draws a
fresh secret scalar (a, b) per run, and H is `group.hash_to_group` under the run's
`PsiDomain`:

1. `PsiParty.start`: each sends shuffle(H(x)^k) of its set, one blob of 32 bytes a point,
   in a secret random order so that its table's order never shows.
2. `PsiParty.answer`: each raises the peer's blob to its own scalar, in the peer's
   order, and sends it back; under `Reveal.LABEL_HOLDER` A keeps its answer, so B learns
   nothing but the size of A's set.
3. `PsiParty.finish`: the peer's answer, un-shuffled to own rows, holds H(x)^ab of each
   own x; those also in the peer's set raised to own scalar (kept from step 2) form the
   intersection. H(x)^ab, the same 32 bytes at both parties, is the customer's **join
   key**, valid for this run only (fresh scalars and domain each run).

The peer sees neither an identifier nor H(x), only H(x)^k under a scalar it does not
know. Each message from the peer is checked before use (whole valid points, no repeats,
an answer as long as the set sent), and a party answers one set only, so the peer
cannot probe with a second. Each step may run in a fresh process: `save` / `load` keep
the state (secret scalar, shuffle, row of each identifier; never an identifier) in an
owner-only file, which the caller deletes when the run ends.

Security holds against semi-honest parties (as FATE's and SecretFlow's ECDH-PSI): each
learns the other's set size and the intersection (or, under label_holder, B the size
only). A party that deviates can make the other's result wrong; the two parties'
`PsiResult.commitment`s, compared on the ledger, then differ.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from fedscore.core.errors import FedscoreError
from fedscore.core.files import read_private, write_private
from fedscore.vertical.psi.domain import PsiDomain, PsiResult, commitment
from fedscore.vertical.psi.group import (
    POINT_BYTES,
    PeerMessageError,
    blind,
    hash_to_group,
    is_valid_scalar,
    new_secret_scalar,
    point_count,
    refuse_repeats,
    split_points,
    validate_points,
)
from fedscore.vertical.psi.identifiers import normalize_resident_id
from fedscore.vertical.roles import Reveal, Role

_STATE_MAGIC = b"fedscore-psi-state/v1\n"
_INT = np.dtype("<i8")
Rows = npt.NDArray[np.int64]


class PsiStateError(FedscoreError):
    """A PSI step out of order or by a party that may not take it, or a damaged state."""


class PsiParty:
    """One party's side of a PSI run; made by `start`, `from_bytes` or `load` only."""

    def __init__(
        self,
        head: dict[str, Any],
        scalar: bytes,
        order: Rows,
        rows: Rows,
        answered: tuple[int, bytes, bytes] | None = None,
    ) -> None:
        self.role, self.reveal = Role(head["role"]), Reveal(head["reveal"])
        self.domain = PsiDomain(head["run_id"], head["task"])
        self.duplicates, self.invalid = int(head["duplicates"]), int(head["invalid"])
        self._scalar, self._order, self._rows = scalar, order, rows  # sent[j] = own[order[j]]
        # After `answer`: the peer's set size, its SHA-256, and (if this party learns the
        # intersection) that set raised to own scalar, else b"".
        self._answered = answered

    @property
    def own_size(self) -> int:
        return len(self._rows)

    @property
    def peer_size(self) -> int | None:
        """The peer's set size once answered (all that B learns under label_holder)."""
        return None if self._answered is None else self._answered[0]

    @property
    def learns_intersection(self) -> bool:
        return self.reveal is Reveal.BOTH or self.role is Role.LABEL_HOLDER

    @classmethod
    def start(
        cls,
        role: Role,
        domain: PsiDomain,
        identifiers: Sequence[str | None],
        rows: Sequence[int] | None = None,
        reveal: Reveal = Reveal.BOTH,
        normalize: Callable[[str], str | None] = normalize_resident_id,
        workers: int = 1,
    ) -> tuple[PsiParty, bytes]:
        """Stage 1: a new secret scalar, and the blinded, shuffled own set to send.

        Consent is filtered **before**: pass only the identifiers of customers whose
        consent to the joint purpose is valid; no other takes part. The input is one
        entry per person: identifiers equal after `normalize` are collapsed to the first
        row (counted in `duplicates`), invalid ones dropped (counted in `invalid`).

        Args:
            role: which party this is.
            domain: this run's domain; both parties must pass the same.
            identifiers: own customers' identifiers (consented ones only), as stored.
            rows: own row number of each identifier (e.g. its table index), reported
                back in `PsiResult.rows`; default 0, 1, 2, ...
            reveal: who learns the intersection; both parties must pass the same.
            normalize: identifier → canonical text, None if invalid (resident IDs).
            workers: threads for the group operations.

        Returns:
            The party's state (save it between steps) and the message for the peer.

        Raises:
            ValueError: `rows` is not one 64-bit integer per identifier.
        """
        numbers = range(len(identifiers)) if rows is None else _int_array(rows).tolist()
        if len(numbers) != len(identifiers):
            raise ValueError(f"{len(numbers)} rows for {len(identifiers)} identifiers")
        first: dict[str, int] = {}
        valid = 0
        for identifier, row in zip(identifiers, numbers, strict=True):
            value = normalize(identifier) if isinstance(identifier, str) else None
            if value is not None:
                valid += 1
                first.setdefault(value, row)
        scalar = new_secret_scalar()
        points = hash_to_group(domain.to_bytes(), list(first), workers)
        blinded = np.frombuffer(blind(points, scalar, "own identifiers", workers), np.uint8)
        order = np.argsort(np.frombuffer(os.urandom(8 * len(first)), np.uint64), kind="stable")
        head: dict[str, Any] = {"role": role, "reveal": reveal}
        head |= {"run_id": domain.run_id, "task": domain.task}
        head |= {"duplicates": valid - len(first), "invalid": len(identifiers) - valid}
        party = cls(head, scalar, order.astype(_INT), _int_array(first.values()))
        return party, blinded.reshape(-1, POINT_BYTES)[order].tobytes()

    def answer(self, peer_set: bytes, workers: int = 1) -> bytes | None:
        """Stage 2: the peer's set raised to own scalar, in the peer's order.

        A party answers one set only: the same set again gets the same answer (a retried
        step), another set an error, so the peer cannot test more identifiers.

        Args:
            peer_set: the peer's stage-1 message.
            workers: threads for the group operations.

        Returns:
            The answer to send to the peer, or None where the peer may not learn the
            intersection (the label holder under `Reveal.LABEL_HOLDER`).

        Raises:
            PeerMessageError: `peer_set` is not whole valid points, or repeats one.
            PsiStateError: a different set was answered already.
        """
        what = f"PSI set from the {self._peer}"
        count = point_count(peer_set, what)
        digest = hashlib.sha256(peer_set).digest()
        if self._answered is not None and self._answered[1] != digest:
            raise PsiStateError("this party already answered another set in this run")
        refuse_repeats(peer_set, what)
        raised = blind(peer_set, self._scalar, what, workers)
        self._answered = (count, digest, raised if self.learns_intersection else b"")
        return raised if self.reveal is Reveal.BOTH or self.role is Role.FEATURE_HOLDER else None

    def finish(self, peer_answer: bytes, workers: int = 1) -> PsiResult:
        """Stage 3: own rows in the intersection and their join keys.

        Args:
            peer_answer: the peer's stage-2 answer to this party's set.
            workers: threads for validating the answer.

        Returns:
            The intersection as this party sees it.

        Raises:
            PsiStateError: the peer's set is not answered yet, or this party may not learn
                the intersection (the feature holder under `Reveal.LABEL_HOLDER`).
            PeerMessageError: the answer is not one valid point per point sent, or
                repeats a point.
        """
        if not self.learns_intersection:
            raise PsiStateError(
                "under reveal 'label_holder' the feature holder learns only the size of the "
                "label holder's set, never the intersection"
            )
        if self._answered is None:
            raise PsiStateError("finish comes after answer: answer the peer's set first")
        what = f"PSI answer from the {self._peer}"
        count = validate_points(peer_answer, what, workers)
        if count != self.own_size:
            raise PeerMessageError(what, "points", f"has {count}, this party sent {self.own_size}")
        refuse_repeats(peer_answer, what)
        peer_keys = set(split_points(self._answered[2]))
        answer = split_points(peer_answer)
        hits = [j for j, key in enumerate(answer) if key in peer_keys]
        own_rows = self._rows[self._order[np.asarray(hits, dtype=np.intp)]].tolist()
        matched = sorted(zip(own_rows, (answer[j] for j in hits), strict=True))
        keys = tuple(key for _, key in matched)
        return PsiResult(
            rows=tuple(row for row, _ in matched),
            join_keys=keys,
            own_size=self.own_size,
            peer_size=self._answered[0],
            duplicates=self.duplicates,
            invalid=self.invalid,
            commitment=commitment(keys),
        )

    def to_bytes(self) -> bytes:
        """The whole state, secret scalar included: keep it owner-only (see `save`)."""
        count, digest, raised = self._answered or (0, b"", b"")
        head: dict[str, Any] = {"role": self.role.value, "reveal": self.reveal.value}
        head["scalar"] = self._scalar.hex()
        head |= {"run_id": self.domain.run_id, "task": self.domain.task, "size": self.own_size}
        head |= {"duplicates": self.duplicates, "invalid": self.invalid}
        head["answered"] = None if self._answered is None else [count, digest.hex(), len(raised)]
        text = json.dumps(head, sort_keys=True).encode("utf-8")
        parts = (_STATE_MAGIC, len(text).to_bytes(4, "big"), text, self._order, self._rows, raised)
        body = b"".join(bytes(part) for part in parts)
        return body + hashlib.sha256(body).digest()

    @classmethod
    def from_bytes(cls, data: bytes) -> PsiParty:
        """The state `to_bytes` wrote.

        Args:
            data: the saved state.

        Raises:
            PsiStateError: not a PSI state of this version, or a damaged one.
        """
        body = data[:-32]
        if not body.startswith(_STATE_MAGIC) or hashlib.sha256(body).digest() != data[-32:]:
            raise PsiStateError("the saved PSI state is damaged or not a PSI state of v1")
        at = len(_STATE_MAGIC) + 4
        end = at + int.from_bytes(body[at - 4 : at], "big")
        try:
            head = json.loads(body[at:end])
            size, scalar = int(head["size"]), bytes.fromhex(head["scalar"])
            order = np.frombuffer(body, _INT, size, end).copy()
            rows = np.frombuffer(body, _INT, size, end + 8 * size).copy()
            answered = None
            if head["answered"] is not None:
                count, digest, length = head["answered"]
                raised = body[end + 16 * size :]
                if len(raised) != length or length not in (0, POINT_BYTES * count):
                    raise ValueError("the peer's raised set is truncated")
                answered = (int(count), bytes.fromhex(digest), raised)
            party = cls(head, scalar, order, rows, answered)
        except (ValueError, KeyError, TypeError, IndexError) as exc:
            raise PsiStateError(f"the saved PSI state is malformed ({type(exc).__name__})") from exc
        if not is_valid_scalar(scalar):
            raise PsiStateError("the saved PSI state holds no valid secret scalar")
        return party

    def save(self, path: Path) -> Path:
        """Write the state owner-only (0600, a new folder 0700), whole or not at all.

        Args:
            path: the state file, in a folder only this party's node reads; delete it
                when the run ends (it holds the run's secret scalar).
        """
        write_private(path, self.to_bytes())
        return path

    @classmethod
    def load(cls, path: Path) -> PsiParty:
        """The state `save` wrote.

        Args:
            path: the state file.

        Raises:
            PsiStateError: no state there, one readable by others, or a damaged one.
        """
        return cls.from_bytes(read_private(path, "the PSI state", PsiStateError))

    @property
    def _peer(self) -> str:
        return "feature holder" if self.role is Role.LABEL_HOLDER else "label holder"


def _int_array(values: Iterable[int]) -> Rows:
    try:
        return np.fromiter(values, dtype=_INT)
    except (OverflowError, TypeError, ValueError) as exc:
        raise ValueError("rows must be integers that fit in 64 bits") from exc
