"""How `fedscore audit verify|report` print their verdicts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fedscore.cli.output import console

if TYPE_CHECKING:
    from fedscore.privacy.audit.verification import AuditVerification


def print_verification(verified: AuditVerification) -> None:
    """Each ledger's and run's verdict, every other finding, then the overall verdict.

    Args:
        verified: the verification of the evidence.
    """
    from fedscore.privacy.audit.findings import LEDGER

    for institution in verified.institutions:
        ledger = institution.verification
        if ledger.ok:
            entries = (
                "1 entry verifies" if ledger.entries == 1 else f"{ledger.entries} entries verify"
            )
            line = f"{institution.party}: {entries} ({ledger.signature_checks} signature check(s))"
        else:
            line = f"{institution.party}: FAILED at entry #{ledger.first_broken}: {ledger.problem}"
        console.print(
            f"{line} — {institution.ledger_file}",
            style=None if ledger.ok else "bold red",
            markup=False,
            soft_wrap=True,
        )
    for run in verified.runs:
        for name, verified_heads in sorted(run.verified_heads.items()):
            console.print(
                f"run {run.run_id}: {verified_heads} of {len(run.heads[name])} signed ledger "
                f"head(s) of {name} verify",
                markup=False,
            )
    for finding in verified.findings:
        if finding.check != LEDGER:
            _print_finding(finding.severity, finding.subject, finding.message)
    if verified.ok:
        console.print("OK: everything verifies", style="bold green")
    else:
        console.print(
            f"FAILED: {len(verified.failures)} problem(s), listed above", style="bold red"
        )


def print_audit(document: dict[str, Any]) -> None:
    """The budget table of every party and data version, the findings, the verdict.

    Args:
        document: the audit report's JSON document.
    """
    from rich.table import Table
    from rich.text import Text

    table = Table(title="privacy budget per party and data version")
    for column in ("party", "data version", "ε RDP", "ε PRV", "used", "max ε", "refused", "ledger"):
        table.add_column(column, justify="left" if column in ("party", "data version") else "right")
    parties: dict[str, dict[str, Any]] = document["parties"]
    for party, view in parties.items():
        for version in view["data_versions"]:
            cells = (
                party,
                str(version["data_version"])[:12],
                _fmt_epsilon(version["epsilon_rdp"]),
                _fmt_epsilon(version["epsilon_prv"]),
                _fmt_epsilon(version["budget_used"]),
                _fmt_epsilon(version["max_epsilon"]),
                str(version["refused_rounds"]),
                "verified" if view["ledger_ok"] else "FAILED",
            )
            # Read from the parties' own files: text, never markup.
            table.add_row(*(Text(cell) for cell in cells))
    console.print(table)
    shared: dict[str, Any] = document["shared_customers"]
    if shared["worst_case"]:
        worst = shared["worst_case"]
        console.print(
            f"worst case for a customer at {' + '.join(worst['parties'])}: "
            f"ε {_fmt_epsilon(worst['epsilon'])}, δ {worst['delta']:g}",
            markup=False,
        )
    for finding in document["findings"]:
        _print_finding(finding["severity"], finding["subject"], finding["message"])
    verdict = document["verification"]["ok"]
    console.print(
        "VERIFIED" if verdict else "FAILED: the evidence does not verify",
        style="bold green" if verdict else "bold red",
    )


def print_canary_results(results: dict[str, dict[str, float | int]]) -> None:
    """One line per audited run: claimed ε against the empirical lower bound.

    Args:
        results: run name ("dp", "non_private_control") → the audit's outcome as a dict.
    """
    for name, result in results.items():
        console.print(
            f"{name}: claimed ε {result['claimed_epsilon']:.3f}, empirical lower bound "
            f"{result['lower_bound']:.3f} ({result['correct']}/{result['guesses']} guesses "
            f"right, {result['canaries']} canaries, β = {result['beta']})",
            markup=False,
        )


def _print_finding(severity: str, subject: str, message: str) -> None:
    console.print(
        f"{severity}: [{subject}] {message}",
        style="bold red" if severity == "failure" else "yellow",
        markup=False,
        soft_wrap=True,
    )


def _fmt_epsilon(value: float | str | None) -> str:
    if value is None:
        return "—"
    if value == "inf" or (isinstance(value, float) and value == float("inf")):
        return "∞"
    return f"{float(value):.4f}"
