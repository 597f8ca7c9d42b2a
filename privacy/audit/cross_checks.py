"""How the pieces of audit evidence must agree with each other.

A ledger can be intact and still not tell the whole story: entries deleted from its end
leave a valid chain. What it must agree with:

- the node's accountant state: per data version, the epsilon of the stored DP-SGD
  history equals the epsilon the last trained ledger entry records (a rewound, wiped or
  rewritten accountant, or a ledger that lost its last trained entries, shows here
  even without the server's copy);
- the pure releases (a drafted schema's DP bounds): every trained round after one counts
  its ε in the round's spend;
- the de-identification reports: the report each run's last entry names by hash is
  the one the node keeps;
- the signed ledger heads the server received: each one is still in the ledger, with
  the same hash.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from fedscore.privacy.audit.evidence import AccountantState, InstitutionEvidence
from fedscore.privacy.audit.findings import (
    ACCOUNTANT,
    DEIDENTIFICATION,
    FAILURE,
    SERVER_COPY,
    Finding,
)
from fedscore.privacy.audit.run_evidence import RunEvidence
from fedscore.privacy.ledger.chain import LedgerEntry
from fedscore.privacy.ledger.kinds import PURE_RELEASE_KIND, is_round
from fedscore.privacy.ledger.verify import compare_with_heads

TRAINED = "trained"
# Slack for the float sum of releases against the total a round recorded.
_RELEASE_SLACK = 1e-9


def check_accountants(evidence: InstitutionEvidence) -> list[Finding]:
    """Each data version's accountant state against its last trained ledger entry."""
    findings: list[Finding] = []
    for state in evidence.accountants:
        problem = _accountant_problem(state, _trained_entries(evidence.ledger, state))
        if problem:
            findings.append(
                Finding(FAILURE, evidence.party, f"{_label(state)}: {problem}", ACCOUNTANT)
            )
    stored = {(a.task, a.data_version) for a in evidence.accountants}
    ledgered = {
        (str(e.content.get("task")), str(e.content.get("data_version")))
        for e in evidence.ledger
        if e.content.get("status") == TRAINED
    }
    for task, version in sorted(ledgered - stored):
        findings.append(
            Finding(
                FAILURE,
                evidence.party,
                f"data version {version[:12]}… of task {task}: trained rounds in the ledger "
                "but no accountant state",
                ACCOUNTANT,
            )
        )
    return findings


def check_reports(evidence: InstitutionEvidence) -> list[Finding]:
    """Each run's last ledger entry names the report its data was de-identified under.

    Only the last entry of a run is checked: the node rewrites the run's report every
    round (consent is re-read), so earlier entries may name an earlier version of it.
    """
    if evidence.reports_dir is None:
        return []
    last_of_run: dict[str, LedgerEntry] = {}
    for entry in evidence.ledger:
        if is_round(entry.content):
            last_of_run[str(entry.content.get("run_id"))] = entry
    findings: list[Finding] = []
    for run_id, entry in last_of_run.items():
        digest = entry.content.get("deidentification_report_sha256")
        if digest and str(digest) not in evidence.reports:
            findings.append(
                Finding(
                    FAILURE,
                    evidence.party,
                    f"run {run_id}: ledger entry #{entry.seq} names de-identification report "
                    f"sha256 {str(digest)[:12]}…, which is not in {evidence.reports_dir} "
                    "(altered or removed)",
                    DEIDENTIFICATION,
                )
            )
    return findings


def check_pure_releases(evidence: InstitutionEvidence) -> list[Finding]:
    """Each trained round counted every pure release its ledger holds before it, in its epoch.

    A node that lost (or deleted) the record of a release would stop adding its ε to later
    rounds' spend, while the release itself stays in the signed ledger.
    """
    released: dict[str, float] = defaultdict(float)
    findings: list[Finding] = []
    for entry in evidence.ledger:
        content = entry.content
        epoch = str(content.get("budget_epoch"))
        if content.get("kind") == PURE_RELEASE_KIND:
            released[epoch] += _as_float(content.get("epsilon"))
        elif is_round(content) and content.get("status") == TRAINED:
            counted = _as_float(content.get("epsilon_pure_releases", 0.0))
            if not counted + _RELEASE_SLACK >= released[epoch]:
                findings.append(
                    Finding(
                        FAILURE,
                        evidence.party,
                        f"ledger entry #{entry.seq} (run {content.get('run_id')}, round "
                        f"{content.get('server_round')}) counts ε {counted:.6g} of pure "
                        f"releases; the ledger holds {released[epoch]:.6g} before it in budget "
                        f"epoch '{epoch}'",
                        ACCOUNTANT,
                    )
                )
    return findings


def check_server_copies(
    institutions: Iterable[InstitutionEvidence], runs: Iterable[RunEvidence]
) -> list[Finding]:
    """Each node's ledger against the signed heads the server holds of it.

    A head the ledger no longer holds, or holds with another hash, means the ledger lost
    or replaced entries after the server received them.
    """
    runs = list(runs)
    findings: list[Finding] = []
    for institution in institutions:
        for run in runs:
            heads = run.heads.get(institution.party, [])
            problem = compare_with_heads(list(institution.ledger), heads) if heads else ""
            if problem:
                findings.append(
                    Finding(FAILURE, institution.party, f"run {run.run_id}: {problem}", SERVER_COPY)
                )
    return findings


def _trained_entries(ledger: Iterable[LedgerEntry], state: AccountantState) -> list[LedgerEntry]:
    return [
        entry
        for entry in ledger
        if entry.content.get("task") == state.task
        and entry.content.get("data_version") == state.data_version
        and entry.content.get("status") == TRAINED
    ]


def _accountant_problem(state: AccountantState, trained: list[LedgerEntry]) -> str:
    """Why the stored accountant disagrees with the ledger ("" when it agrees)."""
    if state.accountant is None:
        return "the stored accountant state cannot be read"
    if not trained:
        steps = state.accountant.steps + state.accountant.non_private_steps
        if steps:
            return (
                f"the accountant state records {steps} training step(s) but the ledger holds "
                "no trained round of it"
            )
        return ""
    last = trained[-1]
    recorded = _as_float(last.content.get("epsilon_rdp"))
    delta = _as_float(last.content.get("delta"))
    if not 0 < delta < 1:
        return f"the ledger's last trained entry #{last.seq} records no valid delta"
    try:
        stored = state.accountant.epsilon(delta, "rdp")
    except (ValueError, ArithmeticError):
        return "the stored accountant state does not give an epsilon"
    if _same_epsilon(stored, recorded):
        return ""
    return (
        f"the accountant state gives ε {stored:.6g} (RDP), the ledger's last trained entry "
        f"#{last.seq} records {recorded:.6g}"
    )


def _label(state: AccountantState) -> str:
    return f"data version {state.data_version[:12]}… of task {state.task}"


def _as_float(value: Any) -> float:
    """A recorded figure as a number ("inf" is infinite; anything unreadable is NaN)."""
    if value == "inf":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float):
        return math.nan
    return float(value)


def _same_epsilon(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
