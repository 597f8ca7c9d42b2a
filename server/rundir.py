"""The run directory: what the model owner receives from a training run.

Layout (a stable contract, documented in the README):

    run_config.json   the run and server settings
    metrics.json      every round: each party's outcome, federated evaluation,
                      consortium-test metrics
    privacy.json      each party's epsilon (RDP and PRV) per round, refused rounds
    ledger_heads.json each party's signed ledger entry of every round
    summary.json      the headline figures (see `build_summary`)
    model/            weights.npz + task.toml + run_config.json (`fedscore.load_model`)
    plots/            auc_per_round.png, epsilon_per_round.png, roc_ks.png
    report.html       one self-contained page with the figures embedded

JSON holds no NaN/Infinity: a missing figure is null, an infinite epsilon "inf".
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord
from rich.console import Console
from rich.table import Table
from torch import nn

from fedscore.core.artifact import save_model
from fedscore.core.documents import figure_html, json_safe, write_json, write_text_atomic
from fedscore.core.schema import TaskSchema
from fedscore.server.evaluation import ConsortiumEvaluator
from fedscore.server.history import RunHistory
from fedscore.server.plots import plot_auc_per_round, plot_epsilon_per_round, plot_roc_ks
from fedscore.server.settings import RUN_REQUEST_FILE, ServerSettings
from fedscore.server.verdict import RunVerdict, judge_run

LEDGER_HEADS = "ledger_heads.json"


def build_summary(
    settings: ServerSettings, schema: TaskSchema, history: RunHistory
) -> dict[str, Any]:
    """The headline figures of a run (the contract automation and audits rely on)."""
    run = settings.run
    last = history.rounds[-1] if history.rounds else None
    parties: dict[str, Any] = {}
    for party in history.parties:
        latest = history.latest_spend(party)
        reported = latest or next(
            (r.outcomes[party] for r in reversed(history.rounds) if party in r.outcomes), None
        )
        assert reported is not None
        epsilon = reported.epsilon_prv if run.accountant == "prv" else reported.epsilon_rdp
        parties[party] = {
            "epsilon": epsilon,
            "epsilon_rdp": reported.epsilon_rdp,
            "epsilon_prv": reported.epsilon_prv,
            "accountant": run.accountant,
            "delta": run.delta,
            "max_epsilon": reported.max_epsilon,
            "refused_rounds": history.refused_rounds(party),
            "rejected_rounds": history.rejected_rounds(party),
            "refusal_reasons": sorted(
                {
                    r.outcomes[party].reason
                    for r in history.rounds
                    if party in r.outcomes and r.outcomes[party].status != "trained"
                }
            ),
            "rounds_trained": len(history.trained_rounds(party)),
            "num_examples": latest.num_examples if latest else 0,
            "noise_multiplier": latest.noise_multiplier if latest else None,
            "federated_eval": last.federated_eval.get(party, {}) if last else {},
            "deidentification": reported.deidentification,
        }
    return {
        "run_id": settings.run_id,
        "task": schema.name,
        "task_version": schema.version,
        "rounds": len(history.rounds),
        "model": run.model,
        "strategy": run.strategy,
        "secure_aggregation": run.secure_aggregation,
        "private": run.private,
        "target_epsilon": run.epsilon,
        "consortium_test": last.consortium_test if last else {},
        "parties": parties,
        "seconds": sum(r.seconds for r in history.rounds),
        "verdict": judge_run(history, run).as_dict(),
        "privacy_note": (
            "epsilon is record-level (ε, δ)-DP per party, cumulative over every run on the "
            "party's data version; a customer held by several parties is covered by the sum."
        ),
    }


class RunDirectory:
    """Writes a run's results as the rounds complete.

    Parameters
    ----------
    path : Path
        The run directory; created if missing.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.plots = path / "plots"

    def start(self, settings: ServerSettings, schema: TaskSchema) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        write_json(
            self.path / "run_config.json",
            {
                "run_id": settings.run_id,
                "run": settings.run.as_dict(),
                "task": {
                    "name": schema.name,
                    "version": schema.version,
                    "sha256": schema.sha256,
                    "path": str(settings.task_path),
                },
                "expected_parties": settings.expected_parties,
                "consortium_test": str(settings.consortium_test_path or ""),
            },
        )
        if settings.run_request:
            write_text_atomic(self.path / RUN_REQUEST_FILE, settings.run_request + "\n")

    def refuse(
        self, settings: ServerSettings, schema: TaskSchema, problems: list[str], console: Console
    ) -> None:
        """The run stops before round 1: its summary names every party's problems."""
        write_json(
            self.path / "summary.json",
            {
                "run_id": settings.run_id,
                "task": schema.name,
                "task_version": schema.version,
                "rounds": 0,
                "model": settings.run.model,
                "consortium_test": {},
                "parties": {},
                "verdict": RunVerdict(["the run was refused before round 1", *problems]).as_dict(),
            },
        )
        for problem in problems:
            console.print(f"[bold red]problem:[/] {problem}", highlight=False, soft_wrap=True)
        console.print(f"run directory: {self.path}", markup=False)

    def write_history(self, history: RunHistory) -> None:
        write_json(self.path / "metrics.json", history.as_dict())
        write_json(self.path / LEDGER_HEADS, history.ledger_heads())
        write_json(
            self.path / "privacy.json",
            {
                party: {
                    "rdp": history.epsilon_series(party, "rdp"),
                    "prv": history.epsilon_series(party, "prv"),
                    "refused_rounds": history.refused_rounds(party),
                }
                for party in history.parties
            },
        )

    def finish(
        self,
        model: nn.Module,
        schema: TaskSchema,
        settings: ServerSettings,
        history: RunHistory,
        evaluator: ConsortiumEvaluator | None,
    ) -> dict[str, Any]:
        save_model(self.path, model, schema, settings.run)
        figures = [
            plot_auc_per_round(history, self.plots / "auc_per_round.png"),
            plot_epsilon_per_round(history, self.plots / "epsilon_per_round.png"),
        ]
        if evaluator is not None:
            probabilities = evaluator.probabilities(ArrayRecord(model.state_dict()))
            figures.append(plot_roc_ks(evaluator.labels, probabilities, self.plots / "roc_ks.png"))
        summary = build_summary(settings, schema, history)
        write_json(self.path / "summary.json", summary)
        self._write_report(summary, figures)
        return summary

    def _write_report(self, summary: dict[str, Any], figures: list[Path]) -> None:
        images = "\n".join(figure_html(f, f.stem) for f in figures)
        body = html.escape(json.dumps(json_safe(summary), indent=2, ensure_ascii=False))
        page = (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>fedscore run {html.escape(summary['run_id'])}</title>"
            "<style>body{font-family:sans-serif;margin:2em}img{max-width:100%}</style></head>"
            f"<body><h1>Run {html.escape(summary['run_id'])}</h1>{images}"
            f"<h2>summary.json</h2><pre>{body}</pre></body></html>"
        )
        write_text_atomic(self.path / "report.html", page)

    def print_summary(self, console: Console, history: RunHistory) -> None:
        summary = json.loads((self.path / "summary.json").read_text(encoding="utf-8"))
        test = summary["consortium_test"]
        table = Table(
            title=f"run {summary['run_id']} — {summary['model']}, {summary['rounds']} rounds"
        )
        for column in (
            "party",
            "rows",
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
        ):
            table.add_column(column, justify="right" if column != "party" else "left")
        for party, info in sorted(summary["parties"].items()):
            deid = info.get("deidentification") or {}
            consent = deid.get("consent", {})
            table.add_row(
                party,
                str(info["num_examples"]),
                str(deid.get("k_achieved", "—")),
                f"{deid['suppression_rate']:.1%}" if "suppression_rate" in deid else "—",
                str(consent.get("excluded", "—")),
                str(info["rounds_trained"]),
                _refused_cell(info),
                _fmt(info["epsilon_rdp"]),
                _fmt(info["epsilon_prv"]),
                f"{info['delta']:g}",
                _fmt(info["max_epsilon"]),
                _fmt(info["federated_eval"].get("auc")),
            )
        console.print(table)
        if test:
            console.print(
                f"consortium test: AUC [bold]{test['auc']:.4f}[/]  KS {test['ks']:.4f}  "
                f"Brier {test['brier']:.4f}  log-loss {test['log_loss']:.4f}"
            )
        console.print(
            "rows: training rows after de-identification; k: smallest quasi-identifier class; "
            "each node's data is de-identified personal information (去标识化), not anonymized"
        )
        for problem in summary["verdict"]["problems"]:
            console.print(f"[bold red]problem:[/] {problem}", highlight=False, soft_wrap=True)
        console.print(f"run directory: {self.path}")


def _refused_cell(info: dict[str, Any]) -> str:
    """The refused rounds of a party's summary, those the server rejected marked."""
    rejected = set(info.get("rejected_rounds", []))
    cells = [f"{r} (rejected)" if r in rejected else str(r) for r in info["refused_rounds"]]
    return ", ".join(cells) or "—"


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return value
    return f"{value:.4f}"
