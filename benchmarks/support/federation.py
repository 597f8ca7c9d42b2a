"""Fresh demo federations and one simulated federated run on them.

Every federated configuration runs in its own freshly prepared demo directory,
so its parties start from an empty privacy state: budgets never compose across
configurations, and the node budgets are rewritten to let the configuration run.
A fresh directory also gets fresh pseudonymization keys unless the keys of another
demo directory are copied in first (`keys_from`): the federated-validation hold-out
is drawn from the keyed pseudonyms, so only the same keys give the same training rows.
"""

from __future__ import annotations

import json
import shutil
import statistics
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomli_w

from fedscore.core.runconfig import RunConfig
from fedscore.demo import DemoFederation, prepare_demo
from fedscore.server.settings import ServerSettings
from fedscore.simulation import run_simulated_training


def copy_keys(source: Path, root: Path) -> None:
    """Copy every institution's key directory of the demo at `source` into `root`.

    `prepare_demo` keeps existing keys, so a demo then prepared at `root` pseudonymizes
    (and splits off its validation hold-out) exactly as the one at `source` does.
    Modes are kept (keys must stay owner-only).
    """
    for keys in sorted((source / "institutions").glob("*/keys")):
        target = root / "institutions" / keys.parent.name / "keys"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(keys, target)


def fresh_federation(root: Path, run: RunConfig, keys_from: Path | None = None) -> DemoFederation:
    """A newly prepared demo consortium whose nodes accept `run`.

    The demo's node configs cap epsilon at 4/4/3 and refuse non-private runs; here
    each node's budget becomes max(demo budget, 2 × the run's epsilon) and
    non-private runs are allowed when `run` is one. Everything else prepare_demo
    writes (the [deidentification] section: key directory, consent table) is kept.
    With `keys_from` (another prepared demo directory) its institutions' keys are
    used instead of new ones, so the parties train on the same rows as there.
    """
    if keys_from is not None:
        copy_keys(keys_from, root)
    federation = prepare_demo(root)
    for config in federation.manifest.node_configs:
        doc = tomllib.loads(config.read_text(encoding="utf-8"))
        privacy = doc.setdefault("privacy", {})
        privacy["max_epsilon"] = max(float(privacy["max_epsilon"]), 2.0 * run.epsilon)
        privacy["allow_non_private"] = not run.private
        config.write_text(tomli_w.dumps(doc), encoding="utf-8")
    return federation


@dataclass(frozen=True)
class FederatedRun:
    """One finished federated run.

    Attributes:
        run_dir: the run directory.
        summary: its summary.json.
        round_seconds: wall time of each round (metrics.json).
        wall_seconds: wall time of the whole `run_simulated_training` call (Ray start
            and shutdown included).
    """

    run_dir: Path
    summary: dict[str, Any]
    round_seconds: list[float]
    wall_seconds: float

    @classmethod
    def read(cls, run_dir: Path, wall_seconds: float) -> FederatedRun:
        """A finished run from its run directory (summary.json, metrics.json).

        Args:
            run_dir: the run directory.
            wall_seconds: how long the run took, as the caller measured it.

        Returns:
            The run.
        """
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
        seconds = [float(r["seconds"]) for r in metrics["rounds"]]
        return cls(run_dir, summary, seconds, wall_seconds)

    @property
    def consortium_test(self) -> dict[str, float]:
        """The model's metrics on the consortium test set (AUC, KS, ...)."""
        return self.summary["consortium_test"]

    def problems(self, runs_on_same_data: int = 1) -> list[str]:
        """Why the run does not measure what it claims to (refusals, overspent budget).

        Args:
            runs_on_same_data: runs of the same target epsilon the parties' data versions
                have carried, this one included; a party's epsilon is cumulative over
                them and may reach that many times the target (basic composition).
        """
        found: list[str] = []
        run = self.summary
        for party, info in run["parties"].items():
            if info["refused_rounds"]:
                found.append(f"{party} refused rounds {info['refused_rounds']}")
            if info["rounds_trained"] != run["rounds"]:
                found.append(f"{party} trained {info['rounds_trained']}/{run['rounds']} rounds")
            epsilon = info["epsilon_rdp"]
            if run["private"] and (
                not isinstance(epsilon, float)
                or epsilon > runs_on_same_data * run["target_epsilon"] + 1e-6
            ):
                found.append(
                    f"{party} spent epsilon {epsilon} > {runs_on_same_data} × target "
                    f"{run['target_epsilon']}"
                )
        return found


def run_federated(
    root: Path,
    run: RunConfig,
    keys_from: Path | None = None,
    prepare: Callable[[DemoFederation], Path] | None = None,
) -> FederatedRun:
    """Prepare a fresh demo consortium under `root` and train `run` on it in simulation.

    Args:
        root: the folder of the new demo consortium.
        run: the run configuration.
        keys_from: see `fresh_federation`.
        prepare: changes the prepared demo (another task, smaller tables) and returns
            the task schema its nodes now hold; None: the demo as it is.

    Returns:
        The finished run.
    """
    federation = fresh_federation(root, run, keys_from)
    settings = federation.run_settings(run, show_progress=False)
    if prepare is not None:
        task_path = prepare(federation)
        parties = len(federation.manifest.node_configs)
        settings = ServerSettings.new_run(
            run, task_path, federation.runs_dir, parties, federation.consortium_test, False
        ).signed_by(federation.owner)
    started = time.perf_counter()
    run_dir = run_simulated_training(settings, federation.manifest)
    return FederatedRun.read(run_dir, time.perf_counter() - started)


def round_statistics(seconds: list[float]) -> dict[str, float]:
    """Round 1 apart (it includes starting processes), the median of the later rounds.

    Args:
        seconds: wall time of each round.

    Returns:
        first_round_seconds, steady_round_median_seconds, round_mean_seconds and
        rounds_total_seconds.
    """
    steady = seconds[1:] or seconds
    return {
        "first_round_seconds": seconds[0],
        "steady_round_median_seconds": statistics.median(steady),
        "round_mean_seconds": statistics.fmean(seconds),
        "rounds_total_seconds": sum(seconds),
    }
