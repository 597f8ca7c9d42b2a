"""The compliance audit report: every institution's privacy spend, from verified evidence.

`build_audit_report` turns the verified evidence (see `verification`) into one
document: per party, epsilon per round by RDP and PRV, budget used and left per data
version, refused rounds, de-identification summaries and consent counts; the worst-case
epsilon of a customer held by several institutions; the model card of every run; and
the verification status of everything it rests on. `write_audit_report` (in
`report_files`) saves it as JSON and as one self-contained HTML page with the figures
embedded; `shared_customers` and `model_card` build their parts of the document.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fedscore.privacy.audit.discovery import discover_sources
from fedscore.privacy.audit.evidence import InstitutionEvidence
from fedscore.privacy.audit.model_card import model_card
from fedscore.privacy.audit.report_files import AuditOutputs, write_audit_report
from fedscore.privacy.audit.run_evidence import RunEvidence
from fedscore.privacy.audit.shared_customers import (
    MAX_PARTIES_FOR_EVERY_COMBINATION,
    ledger_number,
    shared_customer_bounds,
)
from fedscore.privacy.audit.trusted_keys import ConsortiumKeys
from fedscore.privacy.audit.verification import AuditVerification, verify_evidence
from fedscore.privacy.audit.vertical_runs import audit_vertical_parties, vertical_document
from fedscore.privacy.ledger.kinds import PURE_RELEASE_KIND, is_round

if TYPE_CHECKING:
    from fedscore.vertical.audit import PartyAudit

__all__ = [
    "MAX_PARTIES_FOR_EVERY_COMBINATION",
    "SEMANTICS",
    "AuditOutputs",
    "AuditReport",
    "audit",
    "build_audit_report",
    "model_card",
    "party_view",
    "shared_customer_bounds",
    "write_audit_report",
]

SEMANTICS = (
    "Epsilon is record-level (ε, δ)-differential privacy of one institution's training "
    "data, accumulated over every round of every run on a data version (RDP and PRV are "
    "two accountants of the same mechanism; the budget is charged by the one named). A "
    "new data version of the same budget epoch adds its spend to the earlier versions', "
    "and a pure ε-DP release outside training (a drafted schema's DP bounds) adds its ε "
    "to every task of its budget epoch. "
    "A customer held by several institutions is protected by the sum of their epsilons "
    "and deltas (basic composition): that sum is the worst case shown for customers at "
    "several institutions, whoever those customers are."
)


@dataclass(frozen=True)
class AuditReport:
    """One audit: the document (as JSON-ready data) and the evidence it came from.

    Attributes:
        document: the report's content (what audit_report.json holds).
        institutions: the verified evidence of each institution.
        runs: the verified run directories.
        vertical: each vertical party's verified vertical ledger.
    """

    document: dict[str, Any]
    institutions: tuple[InstitutionEvidence, ...]
    runs: tuple[RunEvidence, ...]
    vertical: tuple[PartyAudit, ...] = field(default=())

    @property
    def ok(self) -> bool:
        """Whether everything verified (no finding of severity "failure")."""
        return bool(self.document["verification"]["ok"])

    @property
    def parties(self) -> list[str]:
        return list(self.document["parties"])


def audit(paths: Sequence[Path], keys: ConsortiumKeys) -> AuditReport:
    """Verify and summarise the evidence found at `paths` (see `discover_sources`).

    Raises:
        FedscoreError: a path cannot be read or a party has no key.
    """
    sources = discover_sources(paths)
    report = build_audit_report(verify_evidence(sources, keys))
    vertical, findings = audit_vertical_parties(sources.vertical, keys.source)
    if not sources.vertical:
        return report
    document = dict(report.document)
    document["vertical"] = vertical_document(vertical)
    document["findings"] = [
        *document["findings"],
        *(
            {"severity": f.severity, "check": f.check, "subject": f.subject, "message": f.message}
            for f in findings
        ),
    ]
    document["verification"] = {**document["verification"], "ok": report.ok and not findings}
    return AuditReport(document, report.institutions, report.runs, vertical)


def build_audit_report(verified: AuditVerification) -> AuditReport:
    """The audit document of verified evidence (see `verify_evidence`)."""
    institutions, runs, keys = verified.institutions, verified.runs, verified.keys
    parties = {i.party: party_view(i) for i in institutions}
    document = {
        "title": "fedscore privacy-budget audit",
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fedscore_version": _version(),
        "semantics": SEMANTICS,
        "verification": {
            "ok": verified.ok,
            "key_list": str(keys.source) if keys.source else None,
            "ledgers": {
                i.party: {
                    "ledger_file": str(i.ledger_file),
                    "ok": i.verification.ok,
                    "entries": i.verification.entries,
                    "signature_checks": i.verification.signature_checks,
                    "first_broken": i.verification.first_broken,
                    "problem": i.verification.problem,
                    "key_source": i.key_source,
                }
                for i in institutions
            },
            "runs": {
                r.run_id: {
                    "path": str(r.path),
                    "signed_heads": {p: len(h) for p, h in r.heads.items()},
                    "verified_heads": r.verified_heads,
                }
                for r in runs
            },
        },
        "findings": [
            {"severity": f.severity, "check": f.check, "subject": f.subject, "message": f.message}
            for f in verified.findings
        ],
        "parties": parties,
        "shared_customers": shared_customer_bounds(parties),
        "runs": [model_card(r) for r in runs],
    }
    return AuditReport(document, institutions, runs)


#: What the report shows of each pure release's ledger entry.
RELEASE_FIELDS = (
    "mechanism",
    "epsilon",
    "delta",
    "budget_epoch",
    "data_sha256",
    "budget_remaining",
    "created_at",
)


def party_view(evidence: InstitutionEvidence) -> dict[str, Any]:
    """One institution's spend, rounds, refusals, pure releases, de-identification, consent."""
    numbered = list(enumerate(evidence.entries))
    entries = [entry for _, entry in numbered if is_round(entry)]
    releases = [
        {"seq": seq, **{k: e.get(k) for k in RELEASE_FIELDS}}
        for seq, e in numbered
        if e.get("kind") == PURE_RELEASE_KIND
    ]
    rounds = [
        {
            "seq": seq,
            "run_id": e.get("run_id"),
            "server_round": e.get("server_round"),
            "status": e.get("status"),
            "reason": e.get("reason", ""),
            "data_version": e.get("data_version"),
            "epsilon_rdp": e.get("epsilon_rdp"),
            "epsilon_prv": e.get("epsilon_prv"),
            "epsilon_spent": e.get("epsilon_spent"),
            "epsilon_earlier_data_versions": e.get("epsilon_earlier_data_versions", 0.0),
            "budget_remaining": e.get("budget_remaining"),
            "max_epsilon": e.get("max_epsilon"),
            "accountant": e.get("accountant", "rdp"),
            "noise_multiplier": e.get("noise_multiplier"),
            "sample_rate": e.get("sample_rate"),
            "steps": e.get("steps"),
            "max_grad_norm": e.get("max_grad_norm"),
            "delta": e.get("delta"),
            "sampler": e.get("sampler"),
            "created_at": e.get("created_at"),
        }
        for seq, e in numbered
        if is_round(e)
    ]
    versions: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for entry in entries:
        versions.setdefault((str(entry.get("task")), str(entry.get("data_version"))), []).append(
            entry
        )
    data_versions = [
        _version_view(task, version, group) for (task, version), group in versions.items()
    ]
    runs: dict[str, dict[str, Any]] = {}
    for entry in entries:
        runs[str(entry.get("run_id"))] = entry
    return {
        "display_name": evidence.display_name,
        "ledger_ok": evidence.verification.ok,
        "rounds": rounds,
        "refused": [
            {k: r[k] for k in ("seq", "run_id", "server_round", "reason", "created_at")}
            for r in rounds
            if r["status"] != "trained"
        ],
        "data_versions": data_versions,
        "pure_releases": releases,
        "lifetime_epsilon": sum(ledger_number(v["epsilon"]) for v in data_versions)
        + sum(ledger_number(r["epsilon"]) for r in releases),
        "lifetime_delta": sum(ledger_number(v["delta"]) for v in data_versions),
        "deidentification": [
            _deidentification_view(run_id, entry, evidence) for run_id, entry in runs.items()
        ],
        "consent": dict(entries[-1].get("consent") or {}) if entries else {},
    }


def _version_view(task: str, version: str, group: list[dict[str, Any]]) -> dict[str, Any]:
    last = group[-1]
    trained = [e for e in group if e.get("status") == "trained"]
    last_trained = trained[-1] if trained else {}
    accountant = str(last.get("accountant", "rdp"))
    spent = last.get("epsilon_spent")
    earlier = last.get("epsilon_earlier_data_versions") or 0.0
    released = last.get("epsilon_pure_releases") or 0.0
    return {
        "task": task,
        "data_version": version,
        "budget_epoch": last.get("budget_epoch"),
        "accountant": accountant,
        "epsilon": spent if spent is not None else 0.0,
        "epsilon_rdp": last_trained.get("epsilon_rdp"),
        "epsilon_prv": last_trained.get("epsilon_prv"),
        "epsilon_earlier_data_versions": earlier,
        "epsilon_pure_releases": released,
        "budget_used": ledger_number(spent or 0.0)
        + ledger_number(earlier)
        + ledger_number(released),
        "max_epsilon": last.get("max_epsilon"),
        "budget_remaining": last.get("budget_remaining"),
        "delta": max((ledger_number(e.get("delta") or 0.0) for e in group), default=0.0),
        "trained_rounds": len(trained),
        "refused_rounds": len(group) - len(trained),
        "runs": list(dict.fromkeys(str(e.get("run_id")) for e in group)),
        "first_used": group[0].get("created_at"),
        "last_used": last.get("created_at"),
        "mechanism": {
            k: last_trained.get(k)
            for k in ("noise_multiplier", "sample_rate", "steps", "max_grad_norm", "sampler")
        },
    }


def _deidentification_view(
    run_id: str, entry: dict[str, Any], evidence: InstitutionEvidence
) -> dict[str, Any]:
    digest = entry.get("deidentification_report_sha256")
    report = evidence.reports.get(str(digest))
    view: dict[str, Any] = {"run_id": run_id, "report_sha256": digest, "verified": False}
    if report is not None:
        view.update(report.summary(), verified=True, quasi_identifiers=report.quasi_identifiers)
    return view


def _version() -> str:
    try:
        return metadata.version("fedscore")
    except metadata.PackageNotFoundError:
        return "unknown"
