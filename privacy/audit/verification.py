"""The one verification behind `fedscore audit verify` and `fedscore audit report`.

Everything the evidence at the given paths allows is checked: each ledger's stored
texts, chain and signatures; each data version's accountant state against its ledger;
the de-identification reports the ledger names; every signed ledger head in the run
directories, and that each node's ledger still holds the heads the server received.
`audit verify` prints the result and exits 0 only when it is ok; `audit report`
renders it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.privacy.audit.cross_checks import (
    check_accountants,
    check_pure_releases,
    check_reports,
    check_server_copies,
)
from fedscore.privacy.audit.discovery import EvidenceSources
from fedscore.privacy.audit.evidence import InstitutionEvidence, collect_institution
from fedscore.privacy.audit.findings import FAILURE, SERVER_COPY, WARNING, Finding
from fedscore.privacy.audit.run_evidence import RunEvidence, collect_run
from fedscore.privacy.audit.trusted_keys import ConsortiumKeys


@dataclass(frozen=True)
class AuditVerification:
    """What an audit verified, and everything it found.

    Attributes:
        institutions: each institution's evidence.
        runs: each run directory's evidence.
        findings: every finding, of each piece and of the cross-checks between them.
        keys: the keys the evidence was verified with.
    """

    institutions: tuple[InstitutionEvidence, ...]
    runs: tuple[RunEvidence, ...]
    findings: tuple[Finding, ...]
    keys: ConsortiumKeys

    @property
    def failures(self) -> tuple[Finding, ...]:
        """The findings that mean the evidence cannot be trusted."""
        return tuple(f for f in self.findings if f.severity == FAILURE)

    @property
    def ok(self) -> bool:
        """Whether everything verified (no failure found)."""
        return not self.failures


def verify_evidence(
    sources: EvidenceSources,
    keys: ConsortiumKeys,
    party: str | None = None,
    audited_parties_only: bool = False,
) -> AuditVerification:
    """Collect and check the evidence at `sources` (see `discover_sources`).

    Args:
        sources: the institutions and run directories to verify.
        keys: the keys the audit trusts.
        party: whose ledger a bare privacy-state file is (default: from its entries).
        audited_parties_only: check only the signed heads of the institutions in
            `sources` (a node checked against the server's copy), not every party's.

    Raises:
        FedscoreError: a path cannot be read or a party has no key.
    """
    institutions = tuple(collect_institution(path, keys, party) for path in sources.institutions)
    parties = {i.party for i in institutions} if audited_parties_only else None
    runs = tuple(collect_run(path, _run_keys(keys, institutions), parties) for path in sources.runs)
    findings = [
        *(
            f
            for i in institutions
            for f in (
                *i.findings,
                *check_accountants(i),
                *check_pure_releases(i),
                *check_reports(i),
            )
        ),
        *(f for r in runs for f in r.findings),
        *check_server_copies(institutions, runs),
    ]
    if parties is not None:
        findings += _nothing_to_compare(runs, parties)
    return AuditVerification(institutions, runs, tuple(findings), keys)


def _nothing_to_compare(runs: tuple[RunEvidence, ...], parties: set[str]) -> list[Finding]:
    """A node checked against a run the node had no part in: the check proves nothing."""
    return [
        Finding(
            WARNING,
            run.run_id,
            f"{party}: no signed ledger entries in {run.path}: nothing to compare its ledger with",
            SERVER_COPY,
        )
        for run in runs
        for party in sorted(parties - set(run.heads))
    ]


def _run_keys(
    keys: ConsortiumKeys, institutions: tuple[InstitutionEvidence, ...]
) -> Mapping[str, Ed25519PublicKey]:
    """Without a key list, run directories are checked with the keys the ledgers verified with."""
    return dict(keys.keys) if keys.source else {i.party: i.public_key for i in institutions}
