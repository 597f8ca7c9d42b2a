"""What a compliance officer checks of vertical runs: each party's ledger, verified.

For every party's vertical journal: the ledger verified against the consortium's key
list, then per run what was disclosed and what was spent — the intersection (protocol,
set sizes, the commitment both parties must have recorded alike), the label release
(ε_label, on the separate label budget), each side's DP-SGD (record-level ε at its δ),
and what crossed without DP. Written as JSON, and as an HTML page with a chart of both
budgets per party (PNG, embedded).
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fedscore.core.errors import ConfigError
from fedscore.core.figures import styled_figure
from fedscore.core.files import write_bytes_atomic
from fedscore.privacy.ledger import load_public_keys
from fedscore.privacy.ledger.foreign import reading_party_database
from fedscore.privacy.ledger.verify import verify_stored
from fedscore.vertical.node_config import VerticalNodeConfig

KINDS = (
    "vertical.psi",
    "vertical.label_release",
    "vertical.training",
    "vertical.disclosure",
    "vertical.serving",
)


@dataclass(frozen=True)
class PartyAudit:
    """One party's verified vertical ledger.

    Attributes:
        party: the party's name.
        verified: the ledger's links and signature verify with the listed key.
        problem: why not ("" when verified).
        runs: per run id, the content of each kind of entry.
    """

    party: str
    verified: bool
    problem: str
    runs: dict[str, dict[str, dict[str, Any]]]


def audit_party(config: VerticalNodeConfig, keys_path: Path) -> PartyAudit:
    """Verify a party's vertical ledger and group its entries by run.

    Raises:
        ConfigError: the party is not in the key list, or has no vertical journal.
        FedscoreError: the journal is not a readable fedscore journal (not SQLite, or it
            holds a view or trigger).
    """
    keys = load_public_keys(keys_path)
    if config.party not in keys:
        raise ConfigError(f"{keys_path}: no ledger key listed for {config.party}")
    if not config.journal_path.is_file():
        raise ConfigError(f"{config.journal_path}: {config.party} has no vertical journal yet")
    with reading_party_database(config.journal_path, "journal") as db:
        stored, verification = verify_stored(db, keys[config.party])
    # A ledger that does not verify is no evidence, and its stored text may not even be
    # JSON (a hostile party's): its runs are not read, the finding says why.
    entries = stored if verification.ok else []
    runs: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in entries:
        content = entry.content
        if content.get("kind") in KINDS:
            runs.setdefault(str(content.get("run_id")), {})[str(content["kind"])] = content
    return PartyAudit(config.party, verification.ok, verification.problem or "", runs)


def cross_check(audits: list[PartyAudit]) -> list[str]:
    """Findings across parties: a run whose intersection commitments differ."""
    findings: list[str] = []
    runs = {run for audit in audits for run in audit.runs}
    for run in sorted(runs):
        commitments = {
            a.party: a.runs.get(run, {}).get("vertical.psi", {}).get("commitment") for a in audits
        }
        present = {c for c in commitments.values() if c}
        if len(present) > 1:
            findings.append(f"run {run}: the parties recorded different intersections")
    return findings


def findings_of(audits: list[PartyAudit]) -> list[str]:
    """Every finding: ledgers that do not verify, runs whose parties disagree."""
    return cross_check(audits) + [
        f"{a.party}: ledger does not verify: {a.problem}" for a in audits if not a.verified
    ]


def document_of(audits: list[PartyAudit]) -> dict[str, Any]:
    """The audit as JSON-ready data: each party's verification and runs, the findings."""
    return {
        "parties": {
            a.party: {"verified": a.verified, "problem": a.problem, "runs": a.runs} for a in audits
        },
        "findings": findings_of(audits),
    }


def write_report(audits: list[PartyAudit], out: Path) -> Path:
    """Write `vertical_audit.json`, the budget chart and `vertical_audit.html` under `out`."""
    document = document_of(audits)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "vertical_audit.json", json.dumps(document, indent=2).encode("utf-8"))
    chart = budget_chart(audits, out / "vertical_budgets.png")
    page = (
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Vertical runs: audit</title>"
        "<h1>Vertical runs: audit</h1>" + section_html(audits, chart) + "</html>"
    )
    write_bytes_atomic(out / "vertical_audit.html", page.encode("utf-8"))
    return out / "vertical_audit.html"


@styled_figure
def budget_chart(audits: list[PartyAudit], path: Path) -> Path:
    """Draw each party's record-level and label ε per run into `path` (PNG)."""
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.2))
    labels: list[str] = []
    record: list[float] = []
    label_eps: list[float] = []
    for audit in audits:
        for run, kinds in sorted(audit.runs.items()):
            labels.append(f"{audit.party}\n{run}")
            record.append(float(kinds.get("vertical.training", {}).get("epsilon_rdp") or 0.0))
            label_eps.append(
                float(kinds.get("vertical.label_release", {}).get("epsilon_label") or 0.0)
            )
    positions = range(len(labels))
    axis.bar([p - 0.2 for p in positions], record, width=0.4, label="record-level ε (RDP)")
    axis.bar(
        [p + 0.2 for p in positions], label_eps, width=0.4, label="label ε (randomized response)"
    )
    axis.set_xticks(list(positions), labels, fontsize=7)
    axis.set_ylabel("ε")
    axis.set_title("Budgets spent per party and run (two budgets, never added)")
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def section_html(audits: list[PartyAudit], chart: Path, level: int = 2) -> str:
    """The audit's findings, per-party-and-run table and budget chart as HTML.

    Args:
        audits: every party's verified vertical ledger.
        chart: the budget chart (`budget_chart`), embedded.
        level: the heading level of the parts (3 inside another page's section).
    """
    findings = findings_of(audits)
    image = base64.b64encode(chart.read_bytes()).decode("ascii")
    rows = []
    for audit in audits:
        for run, kinds in sorted(audit.runs.items()):
            psi = kinds.get("vertical.psi", {})
            training = kinds.get("vertical.training", {})
            release = kinds.get("vertical.label_release", {})
            disclosure = kinds.get("vertical.disclosure", {})
            cells = [
                audit.party,
                "yes" if audit.verified else "NO",
                run,
                str(psi.get("intersection_size", "—")),
                f"{psi.get('own_set_size', '—')} / {psi.get('peer_set_size', '—')}",
                str(psi.get("commitment", "—"))[:16],
                f"{training.get('epsilon_rdp', 0):.4g} at δ={training.get('delta', '—')}",
                str(release.get("epsilon_label", "—")),
                str(disclosure.get("values_sent", "—")),
            ]
            rows.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    head = [
        "party",
        "ledger verified",
        "run",
        "intersection",
        "own / peer set",
        "commitment",
        "record ε",
        "label ε",
        "values sent without DP",
    ]
    listed = "".join(f"<li>{html.escape(f)}</li>" for f in findings) or "<li>none</li>"
    h = f"h{level}"
    return (
        f"<{h}>Findings</{h}><ul>{listed}</ul>"
        f"<{h}>Per party and run</{h}><table border='1' cellpadding='4'><tr>"
        + "".join(f"<th>{html.escape(h)}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
        f"<{h}>Budgets</{h}><img alt='vertical budgets per party' "
        f"src='data:image/png;base64,{image}'>"
        "<p>Record-level ε covers each party's sub-model (DP-SGD on its own columns); label ε "
        "covers the bank's labels (randomized response, once per label version). They are "
        "separate guarantees and never added. The per-row values exchanged during training "
        "are disclosed without DP, as each party's disclosure entry records.</p>"
    )
