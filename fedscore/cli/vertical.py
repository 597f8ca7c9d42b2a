"""`fedscore vertical ...`: a bank and a loan facilitator model their shared customers.

- `demo`: prepare the vertical demo pair on the bundled data, run it in simulation,
  audit both ledgers;
- `run`: one vertical run of two parties' `vertical.toml` in simulation, signed by a
  model owner;
- `audit`: verify each party's vertical ledger and write the audit page.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli.output import console, or_fail

if TYPE_CHECKING:
    from fedscore.core.run_request import SignedRunRequest

vertical_app = typer.Typer(
    help="Vertical learning: a bank and a loan facilitator model their shared customers.",
    no_args_is_help=True,
)

Epochs = Annotated[int, typer.Option(min=1, help="Passes over the shared customers.")]
Epsilon = Annotated[float, typer.Option(min=0.0, help="Record-level ε of each party's sub-model.")]
LabelEpsilon = Annotated[
    float, typer.Option(min=0.0, help="ε of the label release (randomized response).")
]
Verbose = Annotated[bool, typer.Option(help="Show Flower's own log.")]


@vertical_app.command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("vertical-demo"),
    size: Annotated[
        int | None, typer.Option(help="People of the bundled data to use (default all).")
    ] = None,
    epochs: Epochs = 20,
    epsilon: Epsilon = 1.0,
    label_epsilon: LabelEpsilon = 2.0,
    verbose: Verbose = False,
) -> None:
    """The demo pair (bank, loan facilitator) trains a joint model and is audited."""

    def work() -> Path:
        from datetime import UTC, datetime

        from fedscore.demo.vertical_consortium import prepare_vertical_consortium

        pair = prepare_vertical_consortium(out, size=size)
        console.print(
            f"[bold]fedscore vertical demo[/]: {pair.data.shared} shared customers, "
            f"{pair.data.bank_only} bank-only, {pair.data.facilitator_only} facilitator-only"
        )
        run_id = "vertical-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        training = {"epochs": epochs, "bank_epsilon": epsilon, "facilitator_epsilon": epsilon}
        signed = pair.signed_run(run_id, {**training, "label_epsilon": label_epsilon})
        run_dir = _simulate(signed, pair.node_configs, pair.runs_dir, verbose)
        _audit(pair.node_configs, pair.ledger_keys, out / "audit")
        return run_dir

    or_fail(work)


@vertical_app.command("run")
def run(
    node: Annotated[list[Path], typer.Option(help="A party's vertical.toml (give both).")],
    owner: Annotated[str, typer.Option(help="The model owner's name, as the nodes list it.")],
    owner_key: Annotated[Path, typer.Option(help="The model owner's Ed25519 key (PEM).")],
    run_id: Annotated[str, typer.Option(help="The run's id (its folder name).")],
    runs_dir: Annotated[Path, typer.Option(help="Where the run's folder is written.")] = Path(
        "runs"
    ),
    epochs: Epochs = 20,
    epsilon: Epsilon = 1.0,
    label_epsilon: LabelEpsilon = 2.0,
    reveal: Annotated[
        str, typer.Option(help="Who learns the intersection: both or label_holder.")
    ] = "both",
    verbose: Verbose = False,
) -> None:
    """One vertical run of two parties in simulation, signed by the model owner."""

    def work() -> Path:
        from fedscore.core.errors import ConfigError
        from fedscore.core.run_request import OwnerIdentity
        from fedscore.vertical.node_config import VerticalNodeConfig
        from fedscore.vertical.request import VerticalTerms, sign_terms
        from fedscore.vertical.roles import Role

        if len(node) != 2:
            raise ConfigError(
                "give exactly two --node configs: the label holder's and the feature holder's"
            )
        configs = [VerticalNodeConfig.from_toml(path) for path in node]
        holders = {config.role: config for config in configs}
        if set(holders) != {Role.LABEL_HOLDER, Role.FEATURE_HOLDER}:
            raise ConfigError("one --node must be a label_holder and the other a feature_holder")
        bank, facilitator = holders[Role.LABEL_HOLDER], holders[Role.FEATURE_HOLDER]
        terms = VerticalTerms.model_validate(
            {
                "label_holder": bank.party,
                "feature_holder": facilitator.party,
                "purpose": bank.purpose,
                "columns": {c.party: list(c.feature_columns) for c in configs},
                "reveal": reveal,
                "training": {
                    "epochs": epochs,
                    "bank_epsilon": epsilon,
                    "facilitator_epsilon": epsilon,
                    "label_epsilon": label_epsilon,
                },
            },
            strict=False,
        )
        signed = sign_terms(terms, run_id, OwnerIdentity(owner, owner_key))
        return _simulate(signed, (node[0], node[1]), runs_dir, verbose)

    or_fail(work)


@vertical_app.command("audit")
def audit(
    node: Annotated[list[Path], typer.Option(help="A party's vertical.toml (one per party).")],
    keys: Annotated[Path, typer.Option(help="The consortium's ledger key list (TOML).")],
    out: Annotated[Path, typer.Option(help="Folder of the audit page.")] = Path("vertical-audit"),
) -> None:
    """Verify each party's vertical ledger; exit 1 if one does not verify or they disagree."""
    findings = or_fail(lambda: _audit(tuple(node), keys, out))
    if findings:
        raise typer.Exit(code=1)


def _simulate(
    signed: SignedRunRequest, nodes: tuple[Path, Path], runs_dir: Path, verbose: bool
) -> Path:
    import json

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from fedscore.vertical.relay import SUMMARY_FILE
    from fedscore.vertical.simulation import run_vertical_simulation

    with Progress(
        "vertical training", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("steps", total=None)

        def on_step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        run_dir = run_vertical_simulation(signed, nodes, runs_dir, verbose=verbose, on_step=on_step)
    summary = json.loads((run_dir / SUMMARY_FILE).read_text(encoding="utf-8"))
    _print_summary(summary)
    console.print(f"run directory: {run_dir}", markup=False)
    return run_dir


def _print_summary(summary: dict[str, object]) -> None:
    from rich.table import Table

    table = Table(title=f"vertical run {summary['run_id']}")
    for column in ("party", "own set", "intersection", "train / test rows", "record ε (RDP)", "δ"):
        table.add_column(column, justify="left" if column == "party" else "right")
    psi = dict(summary.get("psi", {}))  # type: ignore[call-overload]
    setup = dict(summary.get("setup", {}))  # type: ignore[call-overload]
    for party, facts in psi.items():
        plan = setup.get(party, {})
        table.add_row(
            party,
            str(facts.get("own_set_size")),
            str(facts.get("intersection_size", "—")),
            f"{plan.get('train_rows', '—')} / {plan.get('test_rows', '—')}",
            f"{plan.get('epsilon_rdp', float('nan')):.4f}",
            f"{plan.get('delta', '—')}",
        )
    console.print(table)
    test = dict(summary.get("test", {}))  # type: ignore[call-overload]
    if test:
        console.print(
            f"joint model on {test['rows']} held-out shared customers: AUC {test['auc']:.4f}  "
            f"KS {test['ks']:.4f}  Brier {test['brier']:.4f}"
        )


def _audit(nodes: tuple[Path, ...], keys: Path, out: Path) -> list[str]:
    from fedscore.vertical.audit import audit_party, cross_check, write_report
    from fedscore.vertical.node_config import VerticalNodeConfig

    audits = [audit_party(VerticalNodeConfig.from_toml(path), keys) for path in nodes]
    page = write_report(audits, out)
    findings = cross_check(audits) + [a.party for a in audits if not a.verified]
    for a in audits:
        state = "verified" if a.verified else f"NOT VERIFIED: {a.problem}"
        console.print(f"{a.party}: vertical ledger {state}, {len(a.runs)} run(s)", markup=False)
    console.print(f"audit page: {page}", markup=False)
    return findings


def register(app: typer.Typer) -> None:
    """Add `fedscore vertical` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.add_typer(vertical_app, name="vertical")
