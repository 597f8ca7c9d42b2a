"""The sections of the audit page, each from its part of the audit document."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fedscore.core.documents import figure_html
from fedscore.privacy.audit.html_cells import escape, number, percent, table


def findings_section(findings: list[dict[str, str]]) -> str:
    """The findings, one item each; "None." when there are none.

    Args:
        findings: the document's findings (severity, subject, message).
    """
    if not findings:
        return "<h2>Findings</h2><p id='findings'>None.</p>"
    items = "".join(
        f"<li class='{escape(f['severity'])}'><b>{escape(f['severity'])}</b> "
        f"[{escape(f['subject'])}] {escape(f['message'])}</li>"
        for f in findings
    )
    return f"<h2>Findings</h2><ul id='findings'>{items}</ul>"


def verification_section(verification: dict[str, Any]) -> str:
    """The verification of every ledger and of every run's signed ledger heads.

    Args:
        verification: the document's "verification".
    """
    ledgers = table(
        ["party", "entries", "signature checks", "status", "verified with"],
        [
            [
                party,
                v["entries"],
                v["signature_checks"],
                "verified" if v["ok"] else f"FAILED at entry #{v['first_broken']}: {v['problem']}",
                v["key_source"],
            ]
            for party, v in verification["ledgers"].items()
        ],
        "ledgers",
    )
    runs = table(
        ["run", "signed ledger heads received", "verified"],
        [
            [
                run_id,
                ", ".join(f"{p}: {n}" for p, n in sorted(v["signed_heads"].items())) or "—",
                ", ".join(f"{p}: {n}" for p, n in sorted(v["verified_heads"].items())) or "—",
            ]
            for run_id, v in verification["runs"].items()
        ],
        "run-heads",
    )
    return f"<h2>Verification</h2><h3>Ledgers</h3>{ledgers}<h3>Runs</h3>{runs}"


def budget_table(parties: dict[str, Any]) -> str:
    """One row per party and data version: spend by each accountant, budget used and left.

    Args:
        parties: the document's "parties" (see `report.party_view`).
    """
    rows = [
        [
            party,
            str(v["data_version"])[:12] + "…",
            v["budget_epoch"],
            v["accountant"].upper(),
            v["epsilon_rdp"],
            v["epsilon_prv"],
            v["epsilon_earlier_data_versions"],
            v["epsilon_pure_releases"],
            v["budget_used"],
            v["max_epsilon"],
            v["budget_remaining"],
            v["trained_rounds"],
            v["refused_rounds"],
            len(v["runs"]),
        ]
        for party, view in parties.items()
        for v in view["data_versions"]
    ]
    return table(
        [
            "party",
            "data version",
            "budget epoch",
            "charged by",
            "ε RDP",
            "ε PRV",
            "ε earlier versions",
            "ε pure releases",
            "budget used",
            "max ε",
            "left",
            "trained rounds",
            "refused",
            "runs",
        ],
        rows,
        "budget-table",
    )


def party_section(party: str, view: dict[str, Any], figure: Path) -> str:
    """One party's section: ledger, epsilon figure, refusals, de-identification, consent.

    Args:
        party: the party's id.
        view: its view in the document (see `report.party_view`).
        figure: its epsilon-per-round PNG.
    """
    refused = (
        table(
            ["ledger entry", "run", "round", "reason", "when"],
            [
                [r["seq"], r["run_id"], r["server_round"], r["reason"], r["created_at"]]
                for r in view["refused"]
            ],
        )
        if view["refused"]
        else "<p>No refused rounds.</p>"
    )
    deid = table(
        [
            "run",
            "report",
            "k required",
            "k achieved",
            "suppressed",
            "rows read",
            "rows trained",
            "pseudonyms",
            "key version",
            "PII hits",
        ],
        [
            [
                d["run_id"],
                ("verified " if d["verified"] else "NOT FOUND ") + str(d["report_sha256"])[:12],
                d.get("k_min"),
                d.get("k_achieved"),
                percent(d.get("suppression_rate")),
                (d.get("rows") or {}).get("read"),
                (d.get("rows") or {}).get("after_suppression"),
                d.get("pseudonymizer"),
                d.get("key_version"),
                d.get("pii_hits"),
            ]
            for d in view["deidentification"]
        ],
    )
    consent = table(
        ["consent", "customers"],
        [[k, v] for k, v in view["consent"].items() if k not in ("source", "as_of")],
    )
    releases = (
        table(
            ["ledger entry", "what", "ε", "budget epoch", "left", "when"],
            [
                [
                    r["seq"],
                    r["mechanism"],
                    r["epsilon"],
                    r["budget_epoch"],
                    r["budget_remaining"],
                    r["created_at"],
                ]
                for r in view["pure_releases"]
            ],
            f"pure-releases-{party}",
        )
        if view["pure_releases"]
        else "<p>None.</p>"
    )
    label = next((d["label"] for d in view["deidentification"] if d.get("label")), "")
    return (
        f"<section class='party' id='party-{escape(party)}'>"
        f"<h2>{escape(view['display_name'])} <code>{escape(party)}</code></h2>"
        f"<p>ledger {'verified' if view['ledger_ok'] else '<b>FAILED</b>'}; "
        f"{len(view['rounds'])} entries; lifetime ε {number(view['lifetime_epsilon'])} "
        f"(δ {number(view['lifetime_delta'])})</p>"
        + figure_html(figure, f"{party}: epsilon per round (RDP and PRV)", f"epsilon-{party}")
        + f"<h3>Refused rounds</h3>{refused}"
        + f"<h3>Pure ε-DP releases outside training</h3>{releases}"
        + f"<h3>De-identification</h3><p class='note'>{escape(label)}</p>{deid}"
        + f"<h3>Consent (latest round, as of {escape(view['consent'].get('as_of', '—'))})</h3>"
        + consent
        + "</section>"
    )


def shared_customers_section(shared: dict[str, Any]) -> str:
    """The worst case of a customer held by several institutions, and every combination.

    Args:
        shared: the document's "shared_customers" (see `shared_customers.shared_customer_bounds`).
    """
    rows = [[" + ".join(c["parties"]), c["epsilon"], c["delta"]] for c in shared["combinations"]]
    worst = shared["worst_case"]
    headline = (
        f"<p id='worst-case'>Worst case: a customer at {escape(' + '.join(worst['parties']))} — "
        f"ε {number(worst['epsilon'])}, δ {number(worst['delta'])}</p>"
        if worst
        else "<p id='worst-case'>Only one institution: no shared customers.</p>"
    )
    return (
        "<h2>Customers at several institutions</h2>"
        f"<p class='note'>{escape(shared['basis'])}</p>{headline}"
        + table(["held by", "worst-case ε", "worst-case δ"], rows, "shared-customers")
    )


def model_cards_section(runs: list[dict[str, Any]]) -> str:
    """Each run's model card: what it trained, its test figures, each party's spend.

    Args:
        runs: the document's "runs" (see `model_card.model_card`).
    """
    if not runs:
        return "<h2>Model cards</h2><p>No run directory given.</p>"
    cards = []
    for run in runs:
        test = run["consortium_test"] or {}
        cards.append(
            f"<h3 id='run-{escape(run['run_id'])}'>Run {escape(run['run_id'])}</h3>"
            f"<p>task {escape(run['task'])} v{escape(run['task_version'])}, "
            f"model {escape(run['model'])}, "
            f"{escape(run['strategy'])}"
            f"{' under SecAgg+ (server saw only the sum)' if run['secure_aggregation'] else ''}, "
            f"{escape(run['rounds'])} rounds, "
            f"{'DP-SGD' if run['private'] else 'NON-PRIVATE'}, target ε "
            f"{number(run['target_epsilon'])}</p>"
            + table(
                ["consortium test", "AUC", "KS", "Gini", "Brier", "log-loss", "customers"],
                [
                    [
                        "global model",
                        test.get("auc"),
                        test.get("ks"),
                        test.get("gini"),
                        test.get("brier"),
                        test.get("log_loss"),
                        test.get("n"),
                    ]
                ],
            )
            + table(
                ["party", "ε RDP", "ε PRV", "trained", "refused", "local AUC", "heads verified"],
                [
                    [
                        party,
                        p["epsilon_rdp"],
                        p["epsilon_prv"],
                        p["rounds_trained"],
                        ", ".join(map(str, p["refused_rounds"])) or "—",
                        p["local_auc"],
                        f"{p['verified_heads']}/{p['signed_heads']}",
                    ]
                    for party, p in run["parties"].items()
                ],
            )
        )
    return "<h2>Model cards</h2>" + "".join(cards)
