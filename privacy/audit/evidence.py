"""The evidence a compliance audit rests on, each piece verified before it is used.

Three sources, each checked against the others:

- an institution's ledger (its node's privacy-state file): every hash link and the
  signature, with the public key from the consortium's key list;
- the institution's node state beside it: the accountant state of every data version
  must equal what the ledger says was spent (a truncated or rewound ledger shows up
  here even without the server's copy), and the de-identification reports must be the
  ones the ledger entries name by hash;
- the run directories the model owner holds: every signed ledger head a node sent
  must verify, and must still be in the node's ledger.
"""

from __future__ import annotations

import json
import math
import sqlite3
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from fedscore.core.errors import FedscoreError
from fedscore.core.signing import public_key_from_hex
from fedscore.privacy.accounting.accountant import PartyAccountant
from fedscore.privacy.deidentification.report import DeidentificationReport
from fedscore.privacy.ledger import Verification, read_entries, verify_entries
from fedscore.privacy.ledger.verify import compare_with_heads, verify_signed_head

NODE_CONFIG = "node.toml"
RUN_SUMMARY = "summary.json"
LEDGER_HEADS = "ledger_heads.json"
FAILURE, WARNING = "failure", "warning"


@dataclass(frozen=True)
class Finding:
    """Something an auditor must know about.

    Attributes:
        severity: "failure" (the evidence cannot be trusted) or "warning" (it can, but
            something needs a look).
        subject: the institution or run it concerns.
        message: what was found, naming files and entries, never personal data.
    """

    severity: str
    subject: str
    message: str


@dataclass(frozen=True)
class AccountantState:
    """One data version's accountant as the node stored it.

    Attributes:
        task, data_version: whose budget.
        epsilon_rdp: epsilon of the stored state by the RDP accountant at the ledger's delta
            (None when the ledger holds no entry to take delta from).
        budget_epoch: the budget the data version draws on (None if never recorded).
    """

    task: str
    data_version: str
    epsilon_rdp: float | None
    budget_epoch: str | None


@dataclass(frozen=True)
class InstitutionEvidence:
    """One institution's ledger and node state, with what checking them found.

    Attributes:
        party: the institution's identifier.
        display_name: how reports name it.
        ledger_file: its privacy-state file.
        public_key: the key the ledger was verified with.
        key_source: where that key came from.
        verification: the verdict on the ledger's chain and signature.
        entries: the ledger entries' contents in ledger order.
        accountants: the stored accountant state of every data version.
        reports: the de-identification reports found at the node, by their sha256.
        findings: what the checks found.
    """

    party: str
    display_name: str
    ledger_file: Path
    public_key: Ed25519PublicKey
    key_source: str
    verification: Verification
    entries: tuple[dict[str, Any], ...]
    accountants: tuple[AccountantState, ...]
    reports: Mapping[str, DeidentificationReport]
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True)
class RunEvidence:
    """One training run's directory as the model owner holds it.

    Attributes:
        path: the run directory.
        summary: its summary.json (the run's model card and per-party figures).
        heads: the signed ledger heads each party sent, by party.
        verified_heads: how many heads of each party verify with the party's key.
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


@dataclass(frozen=True)
class ConsortiumKeys:
    """The ledger public keys an audit trusts.

    Attributes:
        keys: each party's public key from the consortium's key list.
        source: the key list file (None: no list given; each node's own public key
            file is used, which is not an independent check).
    """

    keys: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)
    source: Path | None = None

    def for_party(self, party: str, own_key_file: Path | None) -> tuple[Ed25519PublicKey, str]:
        """The key to verify `party`'s ledger with, and where it came from.

        Raises:
            FedscoreError: no key for the party can be found.
        """
        if self.source is not None:
            if party not in self.keys:
                raise FedscoreError(f"{self.source}: no ledger key for party '{party}'")
            return self.keys[party], f"consortium key list {self.source}"
        if own_key_file is not None and own_key_file.is_file():
            key = public_key_from_hex(own_key_file.read_text(encoding="utf-8"))
            return key, f"the node's own public key file {own_key_file} (not independent)"
        raise FedscoreError(f"no ledger key for party '{party}': name the consortium's key list")


@dataclass(frozen=True)
class EvidenceSources:
    """The paths an audit reads: institution folders (or ledger files) and run directories."""

    institutions: tuple[Path, ...]
    runs: tuple[Path, ...]


def discover_sources(paths: Iterable[Path]) -> EvidenceSources:
    """Sort audit paths into institutions and runs; a consortium folder expands to both.

    A path may be an institution folder (holding node.toml), a node's privacy-state file,
    a run directory (holding summary.json), or a folder holding `institutions/` and
    `runs/` (as `fedscore demo` writes).

    Raises:
        FedscoreError: a path is none of these.
    """
    institutions: list[Path] = []
    runs: list[Path] = []
    for path in paths:
        path = Path(path)
        if (path / NODE_CONFIG).is_file() or path.is_file():
            institutions.append(path)
        elif (path / RUN_SUMMARY).is_file():
            runs.append(path)
        elif (path / "institutions").is_dir() or (path / "runs").is_dir():
            institutions += sorted(p.parent for p in path.glob(f"institutions/*/{NODE_CONFIG}"))
            runs += sorted(p.parent for p in path.glob(f"runs/*/{RUN_SUMMARY}"))
        else:
            raise FedscoreError(
                f"{path}: not an institution folder (node.toml), a privacy-state file, a run "
                "directory (summary.json) or a consortium folder (institutions/, runs/)"
            )
    if not institutions and not runs:
        raise FedscoreError("nothing to audit: no institution folder or run directory found")
    return EvidenceSources(tuple(institutions), tuple(runs))


def collect_institution(
    path: Path, keys: ConsortiumKeys, party: str | None = None
) -> InstitutionEvidence:
    """Read and check one institution's ledger and node state.

    Args:
        path: an institution folder (holding node.toml) or a node's privacy-state file.
        keys: the public keys the audit trusts.
        party: whose ledger a bare privacy-state file is (default: from its entries).

    Raises:
        FedscoreError: the ledger file cannot be read or no key is known for its party.
    """
    from fedscore.clients.node import NodeConfig

    display_name, reports_dir, own_key = "", None, None
    ledger_file = path
    if (path / NODE_CONFIG).is_file():
        node = NodeConfig.from_toml(path / NODE_CONFIG)
        ledger_file, party = node.accountant_db, party or node.party
        display_name = node.display_name
        reports_dir = node.state_dir / "reports"
        own_key = node.ledger_key.with_suffix(".pub")
    if not ledger_file.is_file():
        raise FedscoreError(f"{ledger_file}: no such privacy-state file")
    try:
        db = sqlite3.connect(f"file:{ledger_file}?mode=ro", uri=True)
        try:
            ledger = read_entries(db)
            rows = db.execute("SELECT task, data_version, state FROM accountant").fetchall()
            epochs = dict(
                ((t, v), e)
                for t, v, e in db.execute("SELECT task, data_version, epoch FROM budget_epoch")
            )
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise FedscoreError(
            f"{ledger_file}: not a readable fedscore privacy-state file ({exc})"
        ) from exc
    party = party or next((str(e.content.get("party")) for e in ledger), None)
    if not party:
        raise FedscoreError(f"{ledger_file}: empty ledger; name its party")
    public_key, key_source = keys.for_party(party, own_key)
    verification = verify_entries(ledger, public_key)
    entries = tuple(entry.content for entry in ledger)
    findings: list[Finding] = []
    if not verification.ok:
        findings.append(
            Finding(
                FAILURE,
                party,
                f"ledger {ledger_file} FAILED verification at entry "
                f"#{verification.first_broken}: {verification.problem}",
            )
        )
    if keys.source is None:
        findings.append(Finding(WARNING, party, f"ledger verified with {key_source}"))
    accountants = tuple(
        _accountant_state(task, version, state, epochs.get((task, version)), entries)
        for task, version, state in rows
    )
    findings += _check_accountants(party, accountants, entries)
    reports = _read_reports(party, reports_dir, findings)
    findings += _check_reports(party, entries, reports, reports_dir)
    return InstitutionEvidence(
        party,
        display_name or party,
        ledger_file,
        public_key,
        key_source,
        verification,
        entries,
        accountants,
        reports,
        tuple(findings),
    )


def collect_run(path: Path, keys: Mapping[str, Ed25519PublicKey]) -> RunEvidence:
    """Read one run directory and verify every signed ledger head in it.

    Args:
        path: the run directory.
        keys: each party's ledger public key (a party without one is reported).

    Raises:
        FedscoreError: summary.json or ledger_heads.json is not readable JSON.
    """
    summary = _read_json(path / RUN_SUMMARY)
    heads_file = path / LEDGER_HEADS
    heads: dict[str, list[dict[str, Any]]] = _read_json(heads_file) if heads_file.is_file() else {}
    run_id = str(summary.get("run_id", path.name))
    findings: list[Finding] = []
    if not heads_file.is_file():
        findings.append(
            Finding(WARNING, run_id, f"{path}: no {LEDGER_HEADS} (written before ledgers)")
        )
    verified: dict[str, int] = {}
    for party, party_heads in sorted(heads.items()):
        key = keys.get(party)
        if key is None:
            findings.append(
                Finding(FAILURE, run_id, f"{party}: no ledger key to verify its signed entries")
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
                    )
                )
            else:
                verified[party] += 1
    return RunEvidence(path, summary, heads, verified, tuple(findings))


def cross_check(
    institutions: Iterable[InstitutionEvidence], runs: Iterable[RunEvidence]
) -> list[Finding]:
    """Findings from comparing each node's ledger with the signed heads the server holds.

    A head the ledger no longer holds, or holds with another hash, means the ledger lost
    or replaced entries after the server received them.
    """
    runs = list(runs)
    findings: list[Finding] = []
    for institution in institutions:
        db = sqlite3.connect(f"file:{institution.ledger_file}?mode=ro", uri=True)
        try:
            ledger = read_entries(db)
        finally:
            db.close()
        for run in runs:
            heads = run.heads.get(institution.party, [])
            problem = compare_with_heads(ledger, heads) if heads else ""
            if problem:
                findings.append(Finding(FAILURE, institution.party, f"run {run.run_id}: {problem}"))
    return findings


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise FedscoreError(f"{path}: cannot be read ({exc.strerror})") from exc
    except json.JSONDecodeError as exc:
        raise FedscoreError(f"{path}: not valid JSON (line {exc.lineno}: {exc.msg})") from exc


def _accountant_state(
    task: str,
    version: str,
    state: str,
    epoch: str | None,
    entries: tuple[dict[str, Any], ...],
) -> AccountantState:
    deltas = [
        e["delta"] for e in entries if e.get("task") == task and e.get("data_version") == version
    ]
    epsilon = (
        PartyAccountant.from_state_dict(json.loads(state)).epsilon(deltas[-1], "rdp")
        if deltas
        else None
    )
    return AccountantState(task, version, epsilon, epoch)


def _check_accountants(
    party: str, accountants: tuple[AccountantState, ...], entries: tuple[dict[str, Any], ...]
) -> list[Finding]:
    """The accountant state of each data version against its last trained ledger entry."""
    findings: list[Finding] = []
    for state in accountants:
        trained = [
            e
            for e in entries
            if e.get("task") == state.task
            and e.get("data_version") == state.data_version
            and e.get("status") == "trained"
        ]
        label = f"data version {state.data_version[:12]}… of task {state.task}"
        if not trained:
            findings.append(
                Finding(
                    WARNING,
                    party,
                    f"{label}: accountant state without ledger entries (recorded before "
                    "the ledger existed, or the ledger lost them)",
                )
            )
            continue
        recorded = _as_float(trained[-1].get("epsilon_rdp"))
        if state.epsilon_rdp is None or not _same_epsilon(state.epsilon_rdp, recorded):
            findings.append(
                Finding(
                    FAILURE,
                    party,
                    f"{label}: the accountant state gives ε {state.epsilon_rdp:.6g} (RDP), the "
                    f"ledger's last entry #{entries.index(trained[-1])} records {recorded:.6g}",
                )
            )
    versions = {(a.task, a.data_version) for a in accountants}
    orphans = {
        (e.get("task"), e.get("data_version")) for e in entries if e.get("status") == "trained"
    } - versions
    for task, version in sorted(orphans, key=str):
        findings.append(
            Finding(
                FAILURE,
                party,
                f"data version {str(version)[:12]}… of task {task}: trained rounds in the ledger "
                "but no accountant state",
            )
        )
    return findings


def _read_reports(
    party: str, reports_dir: Path | None, findings: list[Finding]
) -> dict[str, DeidentificationReport]:
    reports: dict[str, DeidentificationReport] = {}
    if reports_dir is None or not reports_dir.is_dir():
        return reports
    for path in sorted(reports_dir.glob("deidentification-*.json")):
        try:
            report = DeidentificationReport.from_dict(_read_json(path))
        except (FedscoreError, ValueError) as exc:
            findings.append(Finding(WARNING, party, f"{path}: unreadable report ({exc})"))
            continue
        reports[report.sha256()] = report
    return reports


def _check_reports(
    party: str,
    entries: tuple[dict[str, Any], ...],
    reports: Mapping[str, DeidentificationReport],
    reports_dir: Path | None,
) -> list[Finding]:
    """Each run's last ledger entry names the report its data was de-identified under."""
    if reports_dir is None:
        return []
    last_of_run: dict[str, dict[str, Any]] = {}
    for entry in entries:
        last_of_run[str(entry.get("run_id"))] = entry
    findings: list[Finding] = []
    for run_id, entry in last_of_run.items():
        digest = entry.get("deidentification_report_sha256")
        if digest and digest not in reports:
            findings.append(
                Finding(
                    WARNING,
                    party,
                    f"run {run_id}: the de-identification report its ledger entry names "
                    f"(sha256 {str(digest)[:12]}…) is not in {reports_dir} (altered or removed)",
                )
            )
    return findings


def _as_float(value: Any) -> float:
    if value in ("inf", None):
        return math.inf if value == "inf" else math.nan
    return float(value)


def _same_epsilon(a: float, b: float) -> bool:
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
