"""One institution's evidence, read from disk and verified as far as it goes alone.

Its ledger (the node's privacy-state file): every stored text, hash link and the
signature, with the public key from the consortium's key list; beside it, the node's
accountant state of every data version and its de-identification reports. A run's
evidence is in `run_evidence`; how the pieces must agree with each other is in
`cross_checks`; `verification` runs everything, for `fedscore audit verify` and
`fedscore audit report` alike.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.errors import FedscoreError
from fedscore.privacy.accounting.accountant import PartyAccountant
from fedscore.privacy.audit.discovery import (
    LEDGER_HEADS,
    NODE_CONFIG,
    REPORTS_FOLDER,
    RUN_SUMMARY,
    EvidenceSources,
    discover_sources,
    locate_institution,
    read_json,
)
from fedscore.privacy.audit.findings import (
    DEIDENTIFICATION,
    FAILURE,
    KEYS,
    LEDGER,
    WARNING,
    Finding,
)
from fedscore.privacy.audit.run_evidence import RunEvidence, collect_run
from fedscore.privacy.audit.trusted_keys import ConsortiumKeys
from fedscore.privacy.deidentification.report import DeidentificationReport
from fedscore.privacy.ledger.chain import LedgerEntry
from fedscore.privacy.ledger.foreign import reading_party_database
from fedscore.privacy.ledger.verify import Verification, parse_canonical, verify_stored

# What this module offered before discovery, keys, findings and runs had modules of their own.
__all__ = [
    "FAILURE",
    "LEDGER_HEADS",
    "NODE_CONFIG",
    "RUN_SUMMARY",
    "WARNING",
    "AccountantState",
    "ConsortiumKeys",
    "EvidenceSources",
    "Finding",
    "InstitutionEvidence",
    "RunEvidence",
    "collect_institution",
    "collect_run",
    "discover_sources",
]


@dataclass(frozen=True)
class AccountantState:
    """One data version's accountant as the node stored it.

    Attributes:
        task, data_version: whose budget.
        accountant: the stored DP-SGD history (None when it cannot be read).
        budget_epoch: the budget the data version draws on (None if never recorded).
    """

    task: str
    data_version: str
    accountant: PartyAccountant | None
    budget_epoch: str | None


@dataclass(frozen=True)
class InstitutionEvidence:
    """One institution's ledger and node state, with what checking the ledger found.

    Attributes:
        party: the institution's identifier.
        display_name: how reports name it.
        ledger_file: its privacy-state file.
        public_key: the key the ledger was verified with.
        key_source: where that key came from.
        verification: the verdict on the ledger's stored texts, chain and signature.
        ledger: the ledger's entries in storage order.
        accountants: the stored accountant state of every data version.
        reports: the de-identification reports found at the node, by their sha256.
        reports_dir: where those reports were looked for (None: not known, not checked).
        findings: what reading and verifying the ledger found.
    """

    party: str
    display_name: str
    ledger_file: Path
    public_key: Ed25519PublicKey
    key_source: str
    verification: Verification
    ledger: tuple[LedgerEntry, ...]
    accountants: tuple[AccountantState, ...]
    reports: Mapping[str, DeidentificationReport]
    reports_dir: Path | None = None
    findings: tuple[Finding, ...] = ()

    @property
    def entries(self) -> tuple[dict[str, Any], ...]:
        """The ledger entries' contents in ledger order."""
        return tuple(entry.content for entry in self.ledger)


def collect_institution(
    path: Path, keys: ConsortiumKeys, party: str | None = None
) -> InstitutionEvidence:
    """Read one institution's ledger and node state, and verify the ledger.

    Args:
        path: an institution folder (holding node.toml) or a node's privacy-state file.
        keys: the public keys the audit trusts.
        party: whose ledger a bare privacy-state file is (default: from its entries).

    Raises:
        FedscoreError: the ledger file cannot be read or no key is known for its party.
    """
    files = locate_institution(path, party)
    with reading_party_database(files.ledger_file, "privacy-state file") as db:
        party = files.party or _party_of_first_entry(db)
        if not party:
            raise FedscoreError(
                f"{files.ledger_file}: its ledger does not say whose it is (empty, or its "
                "first entry names no party); name its party"
            )
        public_key, key_source = keys.for_party(party, files.own_key_file)
        ledger, verification = verify_stored(db, public_key)
        accountants = _read_accountants(db)
    findings: list[Finding] = []
    if not verification.ok:
        findings.append(
            Finding(
                FAILURE,
                party,
                f"ledger {files.ledger_file} FAILED verification at entry "
                f"#{verification.first_broken}: {verification.problem}",
                LEDGER,
            )
        )
    if keys.source is None:
        findings.append(
            Finding(
                WARNING,
                party,
                f"ledger verified with {key_source}: name the consortium's key list for an "
                "independent check",
                KEYS,
            )
        )
    if files.reports_dir is None:
        findings.append(
            Finding(
                WARNING,
                party,
                f"de-identification reports not checked: no {REPORTS_FOLDER}/ folder beside "
                f"{files.ledger_file}",
                DEIDENTIFICATION,
            )
        )
    reports = _read_reports(party, files.reports_dir, findings)
    return InstitutionEvidence(
        party,
        files.display_name or party,
        files.ledger_file,
        public_key,
        key_source,
        verification,
        tuple(ledger),
        accountants,
        reports,
        files.reports_dir,
        tuple(findings),
    )


def _party_of_first_entry(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT content FROM ledger ORDER BY rowid LIMIT 1").fetchone()
    party = parse_canonical(row[0])[0].get("party") if row else None
    return str(party) if party else None


def _read_accountants(db: sqlite3.Connection) -> tuple[AccountantState, ...]:
    """Every data version's stored accountant (a missing table reads as none stored)."""
    tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "accountant" not in tables:
        return ()
    epochs: dict[tuple[str, str], str] = {}
    if "budget_epoch" in tables:
        epochs = {
            (str(t), str(v)): str(e)
            for t, v, e in db.execute("SELECT task, data_version, epoch FROM budget_epoch")
        }
    return tuple(
        AccountantState(str(task), str(version), _accountant(state), epochs.get((task, version)))
        for task, version, state in db.execute("SELECT task, data_version, state FROM accountant")
    )


def _accountant(state: object) -> PartyAccountant | None:
    try:
        return PartyAccountant.from_state_dict(json.loads(str(state)))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return None


def _read_reports(
    party: str, reports_dir: Path | None, findings: list[Finding]
) -> dict[str, DeidentificationReport]:
    reports: dict[str, DeidentificationReport] = {}
    if reports_dir is None or not reports_dir.is_dir():
        return reports
    for path in sorted(reports_dir.glob("deidentification-*.json")):
        try:
            report = DeidentificationReport.from_dict(read_json(path))
        except (FedscoreError, ValueError) as exc:
            findings.append(
                Finding(WARNING, party, f"{path}: unreadable report ({exc})", DEIDENTIFICATION)
            )
            continue
        reports[report.sha256()] = report
    return reports
