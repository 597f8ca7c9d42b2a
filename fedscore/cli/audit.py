"""`fedscore audit verify|canary|report`: compliance audit of privacy budgets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fedscore.cli.audit_output import print_audit, print_canary_results, print_verification
from fedscore.cli.output import console, fail
from fedscore.cli.run_options import Epsilon
from fedscore.core.errors import FedscoreError

audit_app = typer.Typer(help="Compliance audit of privacy budgets.", no_args_is_help=True)
ConsortiumKeyList = Annotated[
    Path | None,
    typer.Option("--keys", help="The consortium's key list (TOML, [ledger_keys] party = hex)."),
]


@audit_app.command("verify")
def audit_verify(
    path: Annotated[
        Path,
        typer.Argument(
            help="A node's privacy-state file (privacy.sqlite), an institution folder "
            "holding node.toml, or a run directory (the nodes' signed ledger heads)."
        ),
    ],
    keys: ConsortiumKeyList = None,
    party: Annotated[
        str | None, typer.Option(help="Whose ledger it is (default: from node.toml).")
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(
            help="A run directory: also check that the ledger still holds every signed "
            "entry the server received (detects a truncated ledger)."
        ),
    ] = None,
) -> None:
    """Verify a node's ledger and all it must agree with; exit 0 only if everything verifies.

    For a node: every entry's stored text, hash link and the signature, the accountant
    state of every data version, the de-identification reports the entries name, and with
    --against the run's signed entries of this node. For a run directory: every signed
    ledger head in it. The same verification as `fedscore audit report`.
    """
    from fedscore.privacy.audit.discovery import EvidenceSources, discover_sources
    from fedscore.privacy.audit.trusted_keys import ConsortiumKeys
    from fedscore.privacy.audit.verification import verify_evidence

    try:
        found = discover_sources([path])
        if not found.institutions and keys is None:
            raise FedscoreError("name the consortium's key list with --keys")
        sources = EvidenceSources(
            found.institutions, (*found.runs, *([against] if against else []))
        )
        verified = verify_evidence(
            sources,
            ConsortiumKeys.from_key_list(keys),
            party,
            audited_parties_only=bool(found.institutions),
        )
    except FedscoreError as error:
        fail(error)
    print_verification(verified)
    if not verified.ok:
        raise typer.Exit(code=1)


@audit_app.command("canary")
def audit_canary(
    node_config: Annotated[Path, typer.Argument(help="The institution's node config (node.toml).")],
    epsilon: Epsilon = 1.0,
    delta: Annotated[float, typer.Option(help="DP delta of the audited run.")] = 1e-4,
    rows: Annotated[int, typer.Option(help="Training rows used (the first N).")] = 2000,
    canaries: Annotated[int, typer.Option(help="Canaries made.")] = 500,
    control: Annotated[bool, typer.Option(help="Also run the non-private control.")] = True,
    out: Annotated[Path | None, typer.Option(help="Write the results as JSON here.")] = None,
) -> None:
    """Empirical one-run privacy audit on this node's de-identified rows (nothing is sent)."""
    import json

    from fedscore.clients.data_cache import load_cached_party_data
    from fedscore.clients.node import NodeConfig
    from fedscore.core.schema import load_schema
    from fedscore.privacy.audit.canary import audit_recipe, run_canary_audit

    recipe = audit_recipe(epsilon, delta)
    try:
        node = NodeConfig.from_toml(node_config)
        data = load_cached_party_data(node, load_schema(node.task_path))
        x, y = data.train_x[:rows], data.train_y[:rows]
        results = {"dp": run_canary_audit(x, y, recipe, canaries=canaries).as_dict()}
        if control:
            results["non_private_control"] = run_canary_audit(
                x, y, recipe.replace(private=False), canaries=canaries
            ).as_dict()
    except FedscoreError as error:
        fail(error)
    print_canary_results(results)
    if out is not None:
        out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    if results["dp"]["lower_bound"] > results["dp"]["claimed_epsilon"]:
        console.print("the DP run leaks more than its claim", style="bold red")
        raise typer.Exit(code=1)


@audit_app.command("report")
def audit_report(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Institution folders (node.toml), privacy-state files, run directories, or "
            "a consortium folder holding institutions/ and runs/ (as the demo writes)."
        ),
    ],
    keys: ConsortiumKeyList = None,
    out: Annotated[
        Path, typer.Option(help="Folder for audit_report.html, audit_report.json, figures/.")
    ] = Path("audit"),
) -> None:
    """Write the compliance report: every party's spend, verified; exit 1 if anything fails."""
    from fedscore.privacy.audit.report import audit, write_audit_report
    from fedscore.privacy.audit.trusted_keys import ConsortiumKeys

    try:
        report = audit(paths, ConsortiumKeys.from_key_list(keys))
        outputs = write_audit_report(report, out)
    except FedscoreError as error:
        fail(error)
    print_audit(report.document)
    console.print(f"report: {outputs.html}\n        {outputs.json}", markup=False)
    if not report.ok:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    """Add `fedscore audit ...` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.add_typer(audit_app, name="audit")
