"""A training run's directory as the model owner holds it, its signed ledger heads verified.

With every update a node sends the round's signed ledger entry; the server keeps them in
the run directory (ledger_heads.json). Each must verify with the node's key.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, ValidationError

from fedscore.core.errors import FedscoreError, printable_reason
from fedscore.core.protocol import MalformedMessage
from fedscore.core.protocol.ledger_head import LedgerHead
from fedscore.privacy.audit.discovery import LEDGER_HEADS, RUN_SUMMARY, read_json
from fedscore.privacy.audit.findings import FAILURE, SIGNED_HEADS, WARNING, Finding
from fedscore.privacy.ledger.verify import verify_signed_head


@dataclass(frozen=True)
class RunEvidence:
    """One training run's directory as the model owner holds it.

    Attributes:
        path: the run directory.
        summary: its summary.json (the run's model card and per-party figures).
        heads: the signed ledger heads each party sent, by party.
        verified_heads: how many heads of each checked party verify with its key.
        findings: what the checks found.
    """

    path: Path
    summary: dict[str, Any]
    heads: dict[str, list[dict[str, Any]]]
    verified_heads: dict[str, int] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()

    @property
    def run_id(self) -> str:
        return str(self.summary.get("run_id", self.path.name))


def collect_run(
    path: Path, keys: Mapping[str, Ed25519PublicKey], parties: Collection[str] | None = None
) -> RunEvidence:
    """Read one run directory and verify the signed ledger heads in it.

    Args:
        path: the run directory.
        keys: each party's ledger public key (a checked party without one is reported).
        parties: whose heads to check (None: every party's).

    Raises:
        FedscoreError: summary.json or ledger_heads.json is not readable JSON.
    """
    summary = _well_formed_summary(path / RUN_SUMMARY)
    run_id = str(summary.get("run_id", path.name))
    heads_file = path / LEDGER_HEADS
    findings: list[Finding] = []
    heads = _well_formed_heads(heads_file, run_id, findings) if heads_file.is_file() else {}
    if not heads_file.is_file():
        findings.append(
            Finding(
                WARNING, run_id, f"{path}: no {LEDGER_HEADS} (written before ledgers)", SIGNED_HEADS
            )
        )
    verified: dict[str, int] = {}
    for party, party_heads in sorted(heads.items()):
        if parties is not None and party not in parties:
            continue
        key = keys.get(party)
        if key is None:
            findings.append(
                Finding(
                    FAILURE,
                    run_id,
                    f"{party}: no ledger key to verify its signed entries",
                    SIGNED_HEADS,
                )
            )
            continue
        verified[party] = 0
        for head in party_heads:
            problem = verify_signed_head(head, key)
            if problem:
                findings.append(
                    Finding(
                        FAILURE,
                        run_id,
                        f"{party} ledger entry #{head.get('seq')}: {problem} ({heads_file})",
                        SIGNED_HEADS,
                    )
                )
            else:
                verified[party] += 1
    return RunEvidence(path, summary, heads, verified, tuple(findings))


class _PartyFigures(BaseModel):
    """What the audit reads of a party in summary.json (other keys are kept, unread)."""

    model_config = ConfigDict(extra="allow", strict=True)

    epsilon_rdp: float | str | None = None  # "inf" for a non-private round
    epsilon_prv: float | str | None = None
    rounds_trained: int | None = None
    refused_rounds: list[int] = []
    federated_eval: dict[str, Any] | None = None


class _RunSummary(BaseModel):
    """What the audit reads of summary.json, typed: the run directory is not the auditor's."""

    model_config = ConfigDict(extra="allow", strict=True)

    run_id: str | None = None
    consortium_test: dict[str, Any] | None = None
    parties: dict[str, _PartyFigures] = {}


def _well_formed_summary(summary_file: Path) -> dict[str, Any]:
    """summary.json as written by fedscore, in the shape the audit reads.

    Raises:
        FedscoreError: not valid JSON, or a key the audit reads has another shape (named
            with what was expected, never with the value found).
    """
    document = read_json(summary_file)
    try:
        _RunSummary.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = printable_reason(".".join(str(part) for part in first["loc"]))[:120]
        raise FedscoreError(
            f"{summary_file}: not a run summary fedscore wrote ({where or 'the document'}: "
            f"{first['msg']})"
        ) from None
    summary: dict[str, Any] = document
    return summary


def _well_formed_heads(
    heads_file: Path, run_id: str, findings: list[Finding]
) -> dict[str, list[dict[str, Any]]]:
    """The heads a run directory holds, each in the shape its node signed.

    The run directory is the coordinator's and the model owner's: a head of another shape
    is a failure found (and left out), never a crash of the audit.

    Raises:
        FedscoreError: the file is not an object of lists by party.
    """
    document = read_json(heads_file)
    if not isinstance(document, dict) or not all(
        isinstance(party_heads, list) for party_heads in document.values()
    ):
        raise FedscoreError(f"{heads_file}: not a ledger-heads file (a list of heads per party)")
    heads: dict[str, list[dict[str, Any]]] = {}
    for party, party_heads in document.items():
        heads[party] = []
        for position, head in enumerate(party_heads, start=1):
            try:
                heads[party].append(LedgerHead.from_dict(head).as_dict())
            except (MalformedMessage, TypeError, AttributeError) as problem:
                message = (
                    f"{party}: signed head #{position} is malformed ({problem}) ({heads_file})"
                )
                findings.append(Finding(FAILURE, run_id, message, SIGNED_HEADS))
    return heads
