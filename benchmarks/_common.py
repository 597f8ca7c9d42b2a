"""What both benchmarks share: fresh demo federations, one federated run, machine info, output.

Every federated configuration runs in its own freshly prepared demo directory,
so its parties start from an empty privacy state: budgets never compose across
configurations, and the node budgets are rewritten to let the configuration run.
A fresh directory also gets fresh pseudonymization keys unless the keys of another
demo directory are copied in first (`keys_from`): the federated-validation hold-out
is drawn from the keyed pseudonyms, so only the same keys give the same training rows.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import time
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import tomli_w
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from fedscore.core.documents import write_json
from fedscore.core.runconfig import RunConfig
from fedscore.datasets.market import default_task_path
from fedscore.demo import DemoFederation, prepare_demo
from fedscore.server.settings import ServerSettings
from fedscore.simulation import run_simulated_training

RESULTS_DIR = Path(__file__).resolve().parent / "results"
PACKAGES = ("torch", "flwr", "opacus", "ray", "scikit-learn", "numpy", "pandas")

console = Console(stderr=True)


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

    @property
    def consortium_test(self) -> dict[str, float]:
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


def run_federated(root: Path, run: RunConfig, keys_from: Path | None = None) -> FederatedRun:
    """Prepare a fresh demo consortium under `root` and train `run` on it in simulation.

    `keys_from`: see `fresh_federation`.
    """
    federation = fresh_federation(root, run, keys_from)
    manifest = federation.manifest
    settings = ServerSettings.new_run(
        run,
        default_task_path(),
        federation.runs_dir,
        len(manifest.node_configs),
        federation.consortium_test,
        show_progress=False,
    ).signed_by(federation.owner)
    started = time.perf_counter()
    run_dir = run_simulated_training(settings, manifest)
    wall = time.perf_counter() - started
    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    metrics = json.loads((run_dir / "metrics.json").read_text(encoding="utf-8"))
    return FederatedRun(run_dir, summary, [float(r["seconds"]) for r in metrics["rounds"]], wall)


def configuration_progress() -> Progress:
    """A progress bar over configurations; the description names the one running."""
    return Progress(
        TextColumn("[bold]{task.description}[/]"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "describe", "--always", "--dirty"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip() or None


def machine_info() -> dict[str, Any]:
    """Where and with what the benchmark ran."""
    versions: dict[str, str | None] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_gib": _memory_gib(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "fedscore_commit": _git_commit(),
        "load_average_1_5_15min": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def machine_line(machine: dict[str, Any]) -> str:
    """One Markdown line describing the machine."""
    packages = ", ".join(f"{k} {v}" for k, v in machine["packages"].items() if v)
    return (
        f"Machine: {machine['cpu_model']}, {machine['usable_cores']} usable cores, "
        f"{machine['memory_gib']} GiB; Python {machine['python']}; {packages}; "
        f"fedscore {machine['fedscore_commit']}; {machine['date']}."
    )


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A GitHub-flavoured Markdown table; columns after the first are right-aligned."""
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join([":---", *["---:"] * (len(header) - 1)]) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def write_results(out_dir: Path, name: str, data: dict[str, Any], markdown: str) -> list[Path]:
    """Write `<name>.json` and `<name>.md` under `out_dir`; returns both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    write_json(json_path, data)
    md_path.write_text(markdown.rstrip() + "\n", encoding="utf-8")
    return [json_path, md_path]


def fmt(value: float | None, digits: int = 4, signed: bool = False) -> str:
    """A number for a table; '—' when missing."""
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on at `host` right now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])
