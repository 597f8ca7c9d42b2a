"""Model quality on the demo consortium: federated (DP and not) against centralized baselines.

Every model is scored on the consortium test set (AUC, KS). The centralized
baselines train on exactly the rows the parties train on, pooled: each node's
de-identified training rows (consented, pseudonymized, one row per person,
k-anonymized with AGE in 10-year bands, outside the party's federated-validation
hold-out) as `load_party_data` returns them:

* centralized LR: scikit-learn's LogisticRegression on the task schema's encoding
  (`PartyData.train_x`);
* centralized GBDT, default: HistGradientBoostingClassifier(random_state=0) on the
  raw feature columns as the nodes hold them after de-identification
  (`PartyData.train_rows`: LIMIT_BAL … PAY_AMT6 as numbers, AGE banded);
* centralized GBDT, tuned: the same model (early stopping off) with a 3-fold
  cross-validated grid search over learning rate, iterations, leaves and leaf size,
  on the pooled training rows only;

the federated runs train LR and MLP non-privately and under DP-SGD at several
epsilons, each configuration in a freshly prepared demo directory (fresh privacy
state) holding the baselines' pseudonymization keys, so the parties split off the
same hold-out and train on the same rows (checked: rows trained on per party). Gaps "to central
GBDT" and the target use the stronger of the two GBDTs (higher test AUC).

Writes <out-dir>/quality.json (every row, machine info) and <out-dir>/quality.md
(`--auto-settings`: quality_auto_settings.json and .md).
Besides the demo's default-risk task, two setups with their own baselines (issue 14):
three parties of about 200 rows sampled from the demo's tables, and the second bundled
task (early delinquency); federated LR (and, on the second task, the MLP) at DP ε = 1
with automatic settings on each.

Run with `make bench-quality`; `--quick` (federated LR non-private and at ε = 1 only,
results in a temporary folder) is a smoke check; `--auto-settings` runs only DP ε = 1
on the three setups (each setup's models). Modules: `quality_configs` (what runs),
`quality_setups` (which data), `quality_baselines` (the centralized models),
`quality_report` (gaps, targets, report).
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quality_baselines import centralized_baselines
from quality_configs import (
    TARGET_EPSILON,
    Configuration,
    federated_configurations,
    result_row,
)
from quality_report import add_gaps, auto_settings_verdict, render_markdown, target_verdict
from quality_setups import Setup, setup_target
from support.cli import benchmark_parser, parse_benchmark_args
from support.federation import FederatedRun, run_federated
from support.output import Session, configuration_progress

from fedscore.core.runconfig import RunConfig


def _row_mismatches(run: FederatedRun, expected: dict[str, int]) -> list[str]:
    """Parties whose federated run trained on another number of rows than the baselines."""
    return [
        f"{party} trained on {info['num_examples']} rows, the baselines on {expected.get(party)}"
        for party, info in run.summary["parties"].items()
        if info["num_examples"] != expected.get(party)
    ]


def _federated_repeat(run: FederatedRun) -> dict[str, Any]:
    test = run.consortium_test
    return {
        "auc": test["auc"],
        "ks": test["ks"],
        "brier": test["brier"],
        "log_loss": test["log_loss"],
        "run_seconds": run.summary["seconds"],
        "wall_seconds": run.wall_seconds,
        "parties": {
            party: {
                "epsilon_rdp": info["epsilon_rdp"],
                "epsilon_prv": info["epsilon_prv"],
                "noise_multiplier": info["noise_multiplier"],
                "num_examples": info["num_examples"],
                "rounds_trained": info["rounds_trained"],
                "refused_rounds": info["refused_rounds"],
            }
            for party, info in run.summary["parties"].items()
        },
        "problems": run.problems(),
    }


def _run_setup(
    work: Path,
    setup: Setup,
    configurations: list[Configuration],
    repeats: int,
    advance: Callable[[str], None],
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """The centralized baselines and federated configurations of one setup.

    Returns:
        Its rows (gaps added), its data sizes and the problems found.
    """
    central = work / "centralized"
    rows, data = centralized_baselines(central, setup)
    advance("centralized baselines")
    problems: list[str] = []
    for index, configuration in enumerate(configurations):
        config_started = time.perf_counter()
        runs = []
        for repeat in range(repeats):
            run = run_federated(
                work / f"config{index}-run{repeat}",
                configuration.run_config(),
                keys_from=central,
                prepare=setup.prepare,
            )
            runs.append(_federated_repeat(run))
            found = run.problems() + _row_mismatches(run, data["train_rows_per_party"])
            problems += [f"{configuration.name}, run {repeat + 1}: {p}" for p in found]
            advance(f"{configuration.name} (run {repeat + 1}/{repeats})")
        rows.append(result_row(configuration, runs, config_started))
    add_gaps(rows)
    return rows, data, problems


def main(argv: list[str] | None = None) -> int:
    """The script (`argv`: its arguments): score every model, write the results."""
    parser = benchmark_parser(
        __doc__, "only federated LR (non-private and ε=1) plus the centralized baselines"
    )
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per federated configuration (default 1)"
    )
    parser.add_argument(
        "--auto-settings",
        action="store_true",
        help="only DP ε=1 with automatic settings: LR on the demo's task and on 3 parties of "
        "~200 rows, LR and MLP on the early-delinquency task (each with its baselines)",
    )
    args = parse_benchmark_args(parser, argv, "quality")
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")

    # The automatic-settings subset has results of its own: it must not replace the full table.
    session = Session("quality_auto_settings" if args.auto_settings else "quality", args.out_dir)
    configurations = federated_configurations(args.quick, args.auto_settings)
    by_setup: dict[Setup, list[Configuration]] = {Setup(): []}
    for configuration in configurations:
        by_setup.setdefault(configuration.setup, []).append(configuration)
    results: dict[Setup, tuple[list[dict[str, Any]], dict[str, Any], list[str]]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="fedscore-bench-quality-") as tmp,
        configuration_progress() as progress,
    ):
        task = progress.add_task(
            "centralized baselines", total=len(by_setup) + len(configurations) * args.repeats
        )

        def advance(done: str) -> None:
            progress.update(task, description=f"done: {done}")
            progress.advance(task)

        for index, (setup, group) in enumerate(by_setup.items()):
            results[setup] = _run_setup(
                Path(tmp) / f"setup{index}", setup, group, args.repeats, advance
            )
        progress.update(task, description="done")
    rows, data, problems = results.pop(Setup())
    setups = [
        {
            "setup": setup.label,
            "task": setup.task,
            "party_rows": setup.party_rows,
            "data": setup_data,
            "rows": setup_rows,
            "target": setup_target(setup, setup_rows, TARGET_EPSILON),
        }
        for setup, (setup_rows, setup_data, _) in results.items()
    ]
    result: dict[str, Any] = {
        "benchmark": "quality",
        "quick": args.quick,
        "repeats": args.repeats,
        "rounds": RunConfig().rounds,
        "data": data,
        "rows": rows,
        "target": target_verdict(rows),
        "auto_settings_target": auto_settings_verdict(rows),
        "setups": setups,
        "problems": problems + [p for _, _, found in results.values() for p in found],
    }
    return session.finish(result, render_markdown)


if __name__ == "__main__":
    sys.exit(main())
