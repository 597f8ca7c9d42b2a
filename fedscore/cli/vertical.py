"""`fedscore vertical ...`: a bank and a loan facilitator model their shared customers.

- `demo`: prepare the vertical demo pair on the bundled data, run it in simulation,
  audit both ledgers;
- `run`: one vertical run signed by a model owner: simulated from the two parties'
  `vertical.toml`, or deployed on a running consortium (submitted to its coordinator);
- `audit`: verify each party's vertical ledger and write the audit page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli.control_api import ControlApiOptions
from fedscore.cli.option_groups import options_of
from fedscore.cli.output import console, or_fail
from fedscore.cli.runs import AppRelease as ReleaseFile
from fedscore.core.owner_request import DEFAULT_VALID_HOURS, DEFAULT_VERTICAL_TIMEOUT

if TYPE_CHECKING:
    from fedscore.core.run_request import SignedRunRequest
    from fedscore.deployment.runs import AppRelease
    from fedscore.vertical.request import VerticalTerms

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


@dataclass(frozen=True)
class VerticalTraining:
    """The training options `fedscore vertical demo` and `run` share (see `options_of`).

    Attributes:
        epochs: passes over the shared customers.
        epsilon: the record-level ε of each party's sub-model.
        label_epsilon: the ε of the bank's label release.
    """

    epochs: Epochs = 20
    epsilon: Epsilon = 1.0
    label_epsilon: LabelEpsilon = 2.0

    def settings(self) -> dict[str, object]:
        """The run's training terms (`VerticalSettings` fields)."""
        return {
            "epochs": self.epochs,
            "bank_epsilon": self.epsilon,
            "facilitator_epsilon": self.epsilon,
            "label_epsilon": self.label_epsilon,
        }


@vertical_app.command("demo")
@options_of("training", VerticalTraining)
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("vertical-demo"),
    size: Annotated[
        int | None, typer.Option(help="People of the bundled data to use (default all).")
    ] = None,
    *,
    training: VerticalTraining,
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
        signed = pair.signed_run(run_id, training.settings())
        run_dir = _simulate(signed, pair.node_configs, pair.runs_dir, verbose)
        _audit(pair.node_configs, pair.ledger_keys, out / "audit")
        return run_dir

    or_fail(work)


@vertical_app.command("run")
@options_of("training", VerticalTraining)
@options_of("control_api", ControlApiOptions)
def run(
    owner: Annotated[str, typer.Option(help="The model owner's name, as the nodes list it.")],
    owner_key: Annotated[Path, typer.Option(help="The model owner's Ed25519 key (PEM).")],
    node: Annotated[
        list[Path], typer.Option(help="A party's vertical.toml (give both; simulation needs them).")
    ] = [],  # noqa: B006
    pair: Annotated[
        Path | None,
        typer.Option(
            help="Instead of --node: the pair's file (its parties, purpose and columns), "
            "for a deployed run."
        ),
    ] = None,
    run_id: Annotated[
        str | None, typer.Option(help="The run's id (its folder name). Default: a new one.")
    ] = None,
    runs_dir: Annotated[
        Path, typer.Option(help="Where the run's folder is written (deployed: the coordinator's).")
    ] = Path("runs"),
    reveal: Annotated[
        str, typer.Option(help="Who learns the intersection: both or label_holder.")
    ] = "both",
    *,
    training: VerticalTraining,
    control_api: ControlApiOptions,
    release: ReleaseFile = None,
    valid_hours: Annotated[
        float, typer.Option(help="Deployed: how long the parties accept the signed request.")
    ] = DEFAULT_VALID_HOURS,
    timeout: Annotated[
        float,
        typer.Option(help="Deployed: seconds the coordinator waits for the parties, each reply."),
    ] = DEFAULT_VERTICAL_TIMEOUT,
    verbose: Verbose = False,
) -> None:
    """One vertical run of a bank and a loan facilitator, signed by the model owner.

    Simulated from the two parties' --node configs; deployed on the running consortium
    when its coordinator is named (--server-config, or --superlink): then, like `fedscore
    run`, it exits with status 1, naming who and why, unless the run finished.
    """
    from fedscore.core.run_request import OwnerIdentity

    identity = OwnerIdentity(owner, owner_key)
    if run_id is None:
        from fedscore.server.settings import new_run_id

        run_id = new_run_id()
    if control_api.server_config is None and not control_api.superlink:

        def simulated() -> Path:
            from fedscore.core.errors import ConfigError
            from fedscore.vertical.request import sign_terms

            if len(node) != 2:
                raise ConfigError("a simulated run needs both parties' --node configs")
            signed = sign_terms(_terms(node, pair, training, reveal), run_id, identity)
            return _simulate(signed, (node[0], node[1]), runs_dir, verbose)

        or_fail(simulated)
        return
    from fedscore.cli.runs import submit
    from fedscore.deployment.vertical_runs import new_vertical_request

    def sign(app: AppRelease) -> SignedRunRequest:
        terms = _terms(node, pair, training, reveal)
        return new_vertical_request(terms, run_id, identity, app, runs_dir, timeout, valid_hours)

    submit(control_api, release, sign, _deployed_problems)


def _terms(
    nodes: list[Path], pair: Path | None, training: VerticalTraining, reveal: str
) -> VerticalTerms:
    """The run's terms: its pair (from --pair, else the --node configs) and its options.

    Raises:
        ConfigError: neither a pair file nor two node configs, or an invalid one.
    """
    from fedscore.core.errors import ConfigError
    from fedscore.vertical.node_config import VerticalNodeConfig
    from fedscore.vertical.request import VerticalPair
    from fedscore.vertical.roles import Reveal

    if pair is not None:
        parties = VerticalPair.from_toml(pair)
    elif len(nodes) == 2:
        parties = VerticalPair.from_configs([VerticalNodeConfig.from_toml(p) for p in nodes])
    else:
        raise ConfigError(
            "give both parties' --node configs (the label holder's and the feature holder's) "
            "or the pair's file (--pair)"
        )
    modes = {mode.value: mode for mode in Reveal}
    if reveal not in modes:
        raise ConfigError(f"--reveal must be one of {', '.join(modes)}")
    return parties.terms(training.settings(), modes[reveal])


def _deployed_problems(signed: SignedRunRequest) -> list[str]:
    """Why the deployed run is not what was asked; its summary if it is (see `submit`)."""
    from fedscore.deployment.runs import run_directory
    from fedscore.deployment.vertical_runs import vertical_run_problems
    from fedscore.vertical.summary import read_summary

    problems = vertical_run_problems(signed)
    if not problems:
        _print_summary(read_summary(run_directory(signed)))
    return problems


def _simulate(
    signed: SignedRunRequest, nodes: tuple[Path, Path], runs_dir: Path, verbose: bool
) -> Path:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from fedscore.vertical.simulation import run_vertical_simulation
    from fedscore.vertical.summary import read_summary

    with Progress(
        "vertical training", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task("steps", total=None)

        def on_step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        run_dir = run_vertical_simulation(signed, nodes, runs_dir, verbose=verbose, on_step=on_step)
    _print_summary(read_summary(run_dir))
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
