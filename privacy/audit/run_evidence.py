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
    summary = read_json(path / RUN_SUMMARY)
    heads_file = path / LEDGER_HEADS
    heads: dict[str, list[dict[str, Any]]] = read_json(heads_file) if heads_file.is_file() else {}
    run_id = str(summary.get("run_id", path.name))
    findings: list[Finding] = []
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
