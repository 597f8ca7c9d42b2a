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
    report.html       one self-contained page with the figures embedded (`run_page`)

JSON holds no NaN/Infinity: a missing figure is null, an infinite epsilon "inf".
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord
from rich.console import Console
from torch import nn

from fedscore.clients.training import LocalSchedule
from fedscore.core.artifact import save_model
from fedscore.core.documents import write_json, write_text_atomic
from fedscore.core.runconfig import RunConfig
from fedscore.core.schema import TaskSchema
from fedscore.server.evaluation import ConsortiumEvaluator
from fedscore.server.history import RunHistory
from fedscore.server.plots import plot_auc_per_round, plot_epsilon_per_round, plot_roc_ks
from fedscore.server.run_console import print_problems, print_run_summary
from fedscore.server.run_page import render_run_page
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
            "delta": reported.delta,
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
            "training_settings": _training_settings(run, latest.num_examples if latest else 0),
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


def _training_settings(run: RunConfig, rows: float) -> dict[str, Any] | None:
    """A party's batch, steps, learning rate and clipping, as its node chose them.

    The choice depends on public figures only (the rows it reports as its update's
    weight, the run's ε, δ and model), so the coordinator repeats it exactly.
    """
    if rows < 1:
        return None
    return LocalSchedule.for_party(run, int(rows)).settings(run)


class RunDirectory:
    """Writes a run's results as the rounds complete.

    Report page: `run_page`; console output: `run_console`.

    Attributes:
        path: the run directory; created when the run starts.
        plots: its folder of PNG figures.
    """

    def __init__(self, path: Path) -> None:
        """Name the run directory (nothing is written yet).

        Args:
            path: the run directory.
        """
        self.path = path
        self.plots = path / "plots"

    def start(self, settings: ServerSettings, schema: TaskSchema) -> None:
        """Create the directory and write run_config.json (and the signed run request).

        Args:
            settings: the server's settings of this run.
            schema: the task the run trains.
        """
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
        """The run stops before round 1: its summary names every party's problems.

        Args:
            settings: the server's settings of this run.
            schema: the task the run would have trained.
            problems: why the run is refused.
            console: where the problems are printed.
        """
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
        print_problems(console, problems)
        console.print(f"run directory: {self.path}", markup=False)

    def write_history(self, history: RunHistory) -> None:
        """Write metrics.json, ledger_heads.json and privacy.json of the rounds so far.

        Args:
            history: the rounds so far.
        """
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
        """Write the model, the figures, summary.json and report.html of a finished run.

        Args:
            model: the trained global model.
            schema: the task it was trained for.
            settings: the server's settings of this run.
            history: every round of the run.
            evaluator: the consortium test set's evaluator; None when there is none
                (no ROC/KS figure then).

        Returns:
            The summary (see `build_summary`).
        """
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
        write_text_atomic(self.path / "report.html", render_run_page(summary, figures))
        return summary

    def print_summary(self, console: Console, history: RunHistory) -> None:
        """Print the finished run's summary.json (see `run_console.print_run_summary`).

        Args:
            console: where to print.
            history: the run's history (unused: the figures printed are summary.json's).
        """
        summary = json.loads((self.path / "summary.json").read_text(encoding="utf-8"))
        print_run_summary(console, summary, self.path)
        for party, info in summary["parties"].items():
            chosen = info.get("training_settings")
            if chosen:
                console.print(
                    f"{party} trained with {chosen['mode']} settings: {chosen['reason']}; "
                    f"learning rate {chosen['learning_rate']:.3g}, "
                    f"clipping {chosen['max_grad_norm']:g}",
                    markup=False,
                )
