"""The audit report as one self-contained HTML page (figures embedded, no scripts, no fetches)."""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fedscore.core.documents import figure_html

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
table{border-collapse:collapse;margin:.6em 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f4f4f4}
.verdict{padding:.8em 1em;border-radius:6px;font-weight:bold;font-size:1.1em}
.ok{background:#e3f4e8;color:#145a2a}.failed{background:#fbe4e4;color:#8a1c1c}
.failure{color:#8a1c1c}.warning{color:#8a5a00}
.note{color:#555;font-size:.9em}code{font-size:.85em}
figure{margin:1em 0}img{max-width:100%}figcaption{color:#555;font-size:.85em}
section.party{border-left:4px solid #d95f02;padding-left:1em;margin:1.5em 0}
"""


def render_html(
    document: dict[str, Any], budget_figure: Path, party_figures: dict[str, Path]
) -> str:
    """The page for an audit document (see `report.build_audit_report`).

    Args:
        document: the audit document.
        budget_figure: the PNG of budgets per party and data version.
        party_figures: each party's epsilon-per-round PNG.
    """
    verification = document["verification"]
    verdict = (
        '<p class="verdict ok" id="verdict">VERIFIED: every ledger, signature and '
        "cross-check holds</p>"
        if verification["ok"]
        else '<p class="verdict failed" id="verdict">FAILED: the evidence does not verify '
        "(see the findings)</p>"
    )
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(document['title'])}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_e(document['title'])}</h1>",
        f"<p class='note'>generated {_e(document['generated_at'])} by fedscore "
        f"{_e(document['fedscore_version'])}; key list: "
        f"{_e(verification['key_list'] or 'none (nodes’ own key files)')}</p>",
        verdict,
        _findings(document["findings"]),
        _verification(verification),
        "<h2>Privacy budget</h2>",
        figure_html(budget_figure, "budget used and left per party and data version", "budget"),
        _budget_table(document["parties"]),
        *(
            _party_section(party, view, party_figures[party])
            for party, view in document["parties"].items()
        ),
        _shared_customers(document["shared_customers"]),
        _model_cards(document["runs"]),
        f"<h2>What the figures mean</h2><p class='note'>{_e(document['semantics'])}</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def _findings(findings: list[dict[str, str]]) -> str:
    if not findings:
        return "<h2>Findings</h2><p id='findings'>None.</p>"
    items = "".join(
        f"<li class='{_e(f['severity'])}'><b>{_e(f['severity'])}</b> "
        f"[{_e(f['subject'])}] {_e(f['message'])}</li>"
        for f in findings
    )
    return f"<h2>Findings</h2><ul id='findings'>{items}</ul>"


def _verification(verification: dict[str, Any]) -> str:
    ledgers = _table(
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
    runs = _table(
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


def _budget_table(parties: dict[str, Any]) -> str:
    rows = [
        [
            party,
            str(v["data_version"])[:12] + "…",
            v["budget_epoch"],
            v["accountant"].upper(),
            v["epsilon_rdp"],
            v["epsilon_prv"],
            v["epsilon_earlier_data_versions"],
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
    return _table(
        [
            "party",
            "data version",
            "budget epoch",
            "charged by",
            "ε RDP",
            "ε PRV",
            "ε earlier versions",
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


def _party_section(party: str, view: dict[str, Any], figure: Path) -> str:
    refused = (
        _table(
            ["ledger entry", "run", "round", "reason", "when"],
            [
                [r["seq"], r["run_id"], r["server_round"], r["reason"], r["created_at"]]
                for r in view["refused"]
            ],
        )
        if view["refused"]
        else "<p>No refused rounds.</p>"
    )
    deid = _table(
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
                _percent(d.get("suppression_rate")),
                (d.get("rows") or {}).get("read"),
                (d.get("rows") or {}).get("after_suppression"),
                d.get("pseudonymizer"),
                d.get("key_version"),
                d.get("pii_hits"),
            ]
            for d in view["deidentification"]
        ],
    )
    consent = _table(
        ["consent", "customers"],
        [[k, v] for k, v in view["consent"].items() if k not in ("source", "as_of")],
    )
    label = next((d["label"] for d in view["deidentification"] if d.get("label")), "")
    return (
        f"<section class='party' id='party-{_e(party)}'>"
        f"<h2>{_e(view['display_name'])} <code>{_e(party)}</code></h2>"
        f"<p>ledger {'verified' if view['ledger_ok'] else '<b>FAILED</b>'}; "
        f"{len(view['rounds'])} entries; lifetime ε {_fmt(view['lifetime_epsilon'])} "
        f"(δ {_fmt(view['lifetime_delta'])})</p>"
        + figure_html(figure, f"{party}: epsilon per round (RDP and PRV)", f"epsilon-{party}")
        + f"<h3>Refused rounds</h3>{refused}"
        + f"<h3>De-identification</h3><p class='note'>{_e(label)}</p>{deid}"
        + f"<h3>Consent (latest round, as of {_e(view['consent'].get('as_of', '—'))})</h3>"
        + consent
        + "</section>"
    )


def _shared_customers(shared: dict[str, Any]) -> str:
    rows = [[" + ".join(c["parties"]), c["epsilon"], c["delta"]] for c in shared["combinations"]]
    worst = shared["worst_case"]
    headline = (
        f"<p id='worst-case'>Worst case: a customer at {_e(' + '.join(worst['parties']))} — "
        f"ε {_fmt(worst['epsilon'])}, δ {_fmt(worst['delta'])}</p>"
        if worst
        else "<p id='worst-case'>Only one institution: no shared customers.</p>"
    )
    return (
        "<h2>Customers at several institutions</h2>"
        f"<p class='note'>{_e(shared['basis'])}</p>{headline}"
        + _table(["held by", "worst-case ε", "worst-case δ"], rows, "shared-customers")
    )


def _model_cards(runs: list[dict[str, Any]]) -> str:
    if not runs:
        return "<h2>Model cards</h2><p>No run directory given.</p>"
    cards = []
    for run in runs:
        test = run["consortium_test"] or {}
        cards.append(
            f"<h3 id='run-{_e(run['run_id'])}'>Run {_e(run['run_id'])}</h3>"
            f"<p>task {_e(run['task'])} v{_e(run['task_version'])}, model {_e(run['model'])}, "
            f"{_e(run['strategy'])}"
            f"{' under SecAgg+ (server saw only the sum)' if run['secure_aggregation'] else ''}, "
            f"{_e(run['rounds'])} rounds, "
            f"{'DP-SGD' if run['private'] else 'NON-PRIVATE'}, target ε "
            f"{_fmt(run['target_epsilon'])}</p>"
            + _table(
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
            + _table(
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


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], ident: str = "") -> str:
    ident_attr = f" id='{_e(ident)}'" if ident else ""
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table{ident_attr}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return _fmt(value)
    return _e("—" if value is None or value == "" else value)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if value == "inf" or (isinstance(value, float) and math.isinf(value)):
        return "∞"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.4g}" if abs(value) < 1e-3 and value else f"{value:.4f}"
    return _e(value)


def _percent(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1%}"


def _e(value: Any) -> str:
    return html.escape(str(value))
