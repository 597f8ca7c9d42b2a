"""What a run prints on the server's console: the summary table and the problems found."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from fedscore.core.protocol.records import NUM_EXAMPLES

_COLUMNS = (
    "party",
    "rows",
    "held out",
    "k",
    "suppressed",
    "no consent",
    "trained",
    "refused",
    "ε RDP",
    "ε PRV",
    "δ",
    "max ε",
    "local AUC",
)


def print_problems(console: Console, problems: list[str]) -> None:
    """Print each problem that fails a run, one line each.

    Args:
        console: where to print.
        problems: the problems, as sentences.
    """
    for problem in problems:
        # A problem quotes parties' reasons: printed as text, never as markup (a "[/x]"
        # in a hostile node's reason would raise, a "[link=…]" would style the console).
        console.print("problem:", style="bold red", end=" ")
        console.print(problem, markup=False, highlight=False, soft_wrap=True)


def print_run_summary(console: Console, summary: dict[str, Any], run_dir: Path) -> None:
    """Print a finished run's summary: one row per party, the consortium-test figures.

    Args:
        console: where to print.
        summary: the run's summary.json content (see `rundir.build_summary`).
        run_dir: the run directory, named last.
    """
    title = Text(f"run {summary['run_id']} — {summary['model']}, {summary['rounds']} rounds")
    table = Table(title=title)
    for column in _COLUMNS:
        table.add_column(column, justify="right" if column != "party" else "left")
    for party, info in sorted(summary["parties"].items()):
        table.add_row(*(Text(cell) for cell in (party, *_party_cells(info))))
    console.print(table)
    test = summary["consortium_test"]
    if test:
        console.print(
            f"consortium test: AUC [bold]{test['auc']:.4f}[/]  KS {test['ks']:.4f}  "
            f"Brier {test['brier']:.4f}  log-loss {test['log_loss']:.4f}"
        )
    console.print(
        "rows: training rows after de-identification; held out: validation rows, never "
        "trained on (the node's validation_fraction, default 20%; the same rows every run: "
        "chosen by a hash of each person's pseudonym, or of the row's number with "
        'privacy_unit = "row"); k: smallest quasi-identifier class; each node\'s data is '
        "de-identified personal information (去标识化), not anonymized"
    )
    print_problems(console, summary["verdict"]["problems"])
    console.print(f"run directory: {run_dir}", markup=False, highlight=False, soft_wrap=True)


def refused_cell(info: dict[str, Any]) -> str:
    """The refused rounds of a party's summary, those the server rejected marked.

    Args:
        info: the party's entry in summary.json's "parties".

    Returns:
        e.g. "2 (rejected), 3", or "—" when no round was refused.
    """
    rejected = set(info.get("rejected_rounds", []))
    cells = [f"{r} (rejected)" if r in rejected else str(r) for r in info["refused_rounds"]]
    return ", ".join(cells) or "—"


def _party_cells(info: dict[str, Any]) -> list[str]:
    """The table cells after the party's name, in `_COLUMNS` order."""
    deid = info.get("deidentification") or {}
    consent = deid.get("consent", {})
    held_out = info["federated_eval"].get(NUM_EXAMPLES)
    return [
        str(info["num_examples"]),
        "—" if held_out is None else str(int(held_out)),
        str(deid.get("k_achieved", "—")),
        f"{deid['suppression_rate']:.1%}" if "suppression_rate" in deid else "—",
        str(consent.get("excluded", "—")),
        str(info["rounds_trained"]),
        refused_cell(info),
        _fmt(info["epsilon_rdp"]),
        _fmt(info["epsilon_prv"]),
        "—" if info["delta"] is None or math.isnan(info["delta"]) else f"{info['delta']:g}",
        _fmt(info["max_epsilon"]),
        _fmt(info["federated_eval"].get("auc")),
    ]


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:.4f}"
