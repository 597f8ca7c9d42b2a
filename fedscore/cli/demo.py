"""`fedscore demo`: three institutions train a default-risk model in simulation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli import run_options as option
from fedscore.cli.audit import audit_report
from fedscore.cli.option_groups import options_of
from fedscore.cli.output import console, or_fail
from fedscore.cli.run_options import TrainingOptions, exit_unless_done

if TYPE_CHECKING:
    from fedscore.core.runconfig import RunConfig


@options_of("training", TrainingOptions)
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("demo-output"),
    *,
    training: TrainingOptions,
    secure_aggregation: option.SecureAggregation = False,
    verbose: option.Verbose = False,
) -> None:
    """Three institutions (two banks, one loan facilitator) train a default-risk model."""
    run_dir = or_fail(
        lambda: _train_demo(out, training.run_config(None, secure_aggregation), verbose)
    )
    exit_unless_done(run_dir)


def _train_demo(out: Path, run: RunConfig, verbose: bool) -> Path:
    """Prepare the demo consortium under `out`, train `run` on it and audit it.

    Returns:
        The run directory.
    """
    from fedscore.demo import prepare_demo
    from fedscore.simulation import run_simulated_training

    federation = prepare_demo(out)
    manifest = federation.manifest
    console.print(
        f"[bold]fedscore demo[/]: {len(manifest.node_configs)} institutions under "
        f"{federation.root}/institutions, consortium test set held by the model owner"
    )
    run_dir = run_simulated_training(federation.run_settings(run), manifest, verbose=verbose)
    console.print("[bold]compliance audit[/] of every institution's ledger and the runs")
    audit_report([federation.root], keys=federation.ledger_keys, out=federation.root / "audit")
    return run_dir


def register(app: typer.Typer) -> None:
    """Add `fedscore demo` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.command("demo")(demo)
