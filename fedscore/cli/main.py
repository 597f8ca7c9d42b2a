"""`fedscore` command line: demo and federated training in simulation."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from fedscore.cli import parties, release, runs, schemas, scoring
from fedscore.cli.output import console, fail
from fedscore.clients.federation import FederationManifest
from fedscore.clients.party_setup import write_party_node
from fedscore.core.errors import FedscoreError
from fedscore.core.run_request import OwnerIdentity
from fedscore.core.runconfig import RunConfig
from fedscore.datasets import default_task_path
from fedscore.server.settings import ServerSettings

if TYPE_CHECKING:
    from fedscore.privacy.audit.verification import AuditVerification

app = typer.Typer(
    help="fedscore: privacy-preserving federated credit scoring (Flower + Opacus).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

Rounds = Annotated[int, typer.Option(help="Federated rounds.")]
Epsilon = Annotated[float, typer.Option(help="Epsilon each party spends on this run.")]
Delta = Annotated[float, typer.Option(help="DP delta (must be < 1/N of every party).")]
Model = Annotated[str, typer.Option(help="Model: lr or mlp.")]
Strategy = Annotated[
    str,
    typer.Option(
        help="Aggregation: fedavg, fedprox, or the robust, unweighted fedmedian and "
        "fedtrimmedavg (cuts trim_beta of the updates per tail; the default 0.2 needs 5+ "
        "parties)."
    ),
]
ProximalMu = Annotated[float, typer.Option(help="FedProx proximal weight mu.")]
Private = Annotated[
    bool, typer.Option("--private/--non-private", help="DP-SGD or the non-private comparison mode.")
]
SecureAggregation = Annotated[
    bool,
    typer.Option(
        "--secure-aggregation/--no-secure-aggregation",
        help="Aggregate with SecAgg+ (the server learns only the sum of the updates); "
        "not with fedmedian / fedtrimmedavg.",
    ),
]
Verbose = Annotated[bool, typer.Option(help="Show Flower's and Ray's own logs.")]


def _run_config(
    rounds: int,
    model: str,
    epsilon: float,
    delta: float,
    strategy: str,
    proximal_mu: float,
    private: bool,
    config: Path | None,
    secure_aggregation: bool = False,
) -> RunConfig:
    base = RunConfig.from_toml(config) if config else RunConfig()
    return base.replace(
        rounds=rounds,
        model=model,
        epsilon=epsilon,
        delta=delta,
        strategy=strategy,
        proximal_mu=proximal_mu,
        private=private,
        secure_aggregation=secure_aggregation,
    )


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("demo-output"),
    rounds: Rounds = 10,
    model: Model = "lr",
    epsilon: Epsilon = 1.0,
    delta: Delta = 1e-5,
    strategy: Strategy = "fedavg",
    proximal_mu: ProximalMu = 0.0,
    private: Private = True,
    secure_aggregation: SecureAggregation = False,
    verbose: Verbose = False,
) -> None:
    """Three institutions (two banks, one loan facilitator) train a default-risk model."""
    from fedscore.demo import prepare_demo
    from fedscore.simulation import run_simulated_training

    try:
        run = _run_config(
            rounds, model, epsilon, delta, strategy, proximal_mu, private, None, secure_aggregation
        )
        federation = prepare_demo(out)
        manifest = federation.manifest
        console.print(
            f"[bold]fedscore demo[/]: {len(manifest.node_configs)} institutions under "
            f"{federation.root}/institutions, consortium test set held by the model owner"
        )
        settings = ServerSettings.new_run(
            run,
            default_task_path(),
            federation.runs_dir,
            len(manifest.node_configs),
            federation.consortium_test,
        ).signed_by(federation.owner)
        run_dir = run_simulated_training(settings, manifest, verbose=verbose)
        console.print("[bold]compliance audit[/] of every institution's ledger and the runs")
        audit_report([federation.root], keys=federation.ledger_keys, out=federation.root / "audit")
    except FedscoreError as error:
        fail(error)
    _exit_unless_done(run_dir)


@app.command()
def train(
    party: Annotated[
        list[str],
        typer.Option(
            help="NAME=FILE: an institution and its table (CSV/Parquet). Repeat per party; "
            "its keys and node config are created under --workdir."
        ),
    ] = [],  # noqa: B006
    consent: Annotated[
        list[str],
        typer.Option(
            help="NAME=FILE: the consent records of a --party institution (customer key, "
            "purpose, granted_at, expires_at, withdrawn_at); needed unless the task "
            "schema declares a consent column."
        ),
    ] = [],  # noqa: B006
    node: Annotated[
        list[Path],
        typer.Option(
            help="An institution's node config TOML (instead of --party). Repeat per party."
        ),
    ] = [],  # noqa: B006
    task: Annotated[Path | None, typer.Option(help="Task schema TOML.")] = None,
    test: Annotated[
        Path | None, typer.Option(help="Consortium test table the server evaluates on.")
    ] = None,
    rounds: Rounds = 10,
    model: Model = "lr",
    epsilon: Epsilon = 1.0,
    delta: Delta = 1e-5,
    strategy: Strategy = "fedavg",
    proximal_mu: ProximalMu = 0.0,
    private: Private = True,
    max_epsilon: Annotated[
        float, typer.Option(help="Budget per data version of parties given with --party.")
    ] = 3.0,
    workdir: Annotated[
        Path,
        typer.Option(
            help="Where --party nodes keep their config and privacy state, and runs are written."
        ),
    ] = Path("fedscore-work"),
    config: Annotated[
        Path | None, typer.Option(help="Run config TOML ([run] table); options override it.")
    ] = None,
    secure_aggregation: SecureAggregation = False,
    owner: Annotated[
        str | None,
        typer.Option(help="Sign the run as this model owner (nodes listing owners need it)."),
    ] = None,
    owner_key: Annotated[
        Path | None, typer.Option(help="The model owner's signing key (with --owner).")
    ] = None,
    verbose: Verbose = False,
) -> None:
    """Train a federated model in Flower's simulation engine, one node per party.

    Exits with status 1 unless the run did what was asked (see its summary's verdict).
    """
    from fedscore.simulation import run_simulated_training

    try:
        task_path = (task or default_task_path()).resolve()
        run = _run_config(
            rounds,
            model,
            epsilon,
            delta,
            strategy,
            proximal_mu,
            private,
            config,
            secure_aggregation,
        )
        node_configs = [p.resolve() for p in node]
        consents = _named_files(consent, "--consent")
        for name, file in _named_files(party, "--party").items():
            node_configs.append(
                write_party_node(
                    workdir.resolve() / "institutions" / name,
                    name,
                    file,
                    task_path,
                    max_epsilon,
                    allow_non_private=not private,
                    consent=consents.pop(name, None),
                )
            )
        if consents:
            raise FedscoreError(f"--consent names no --party institution: {sorted(consents)}")
        if len(node_configs) < 1:
            raise typer.BadParameter("name at least one party (--party NAME=FILE or --node)")
        manifest_path = (workdir / "federation.toml").resolve()
        manifest_path.parent.mkdir(parents=True, exist_ok=True)
        FederationManifest(tuple(node_configs)).save(manifest_path)
        manifest = FederationManifest.load(manifest_path)
        settings = ServerSettings.new_run(
            run.replace(min_parties=min(run.min_parties, len(node_configs))),
            task_path,
            workdir / "runs",
            len(node_configs),
            test.resolve() if test else None,
        )
        if owner or owner_key:
            if not (owner and owner_key):
                raise FedscoreError("sign with both --owner NAME and --owner-key KEY")
            settings = settings.signed_by(OwnerIdentity(owner, owner_key))
        run_dir = run_simulated_training(settings, manifest, verbose=verbose)
    except FedscoreError as error:
        fail(error)
    _exit_unless_done(run_dir)


def _named_files(entries: list[str], option: str) -> dict[str, Path]:
    """NAME=FILE options as name → resolved path."""
    named: dict[str, Path] = {}
    for entry in entries:
        name, sep, file = entry.partition("=")
        if not sep or not name or not file:
            raise FedscoreError(f"{option} expects NAME=FILE, got '{entry}'")
        if name in named:
            raise FedscoreError(f"{option} names '{name}' twice")
        named[name] = Path(file).resolve()
    return named


def _exit_unless_done(run_dir: Path) -> None:
    """Exit 1 when the run did not do what was asked (its problems were printed)."""
    import json

    summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
    if summary["verdict"]["problems"]:
        raise typer.Exit(code=1)


keys_app = typer.Typer(
    help="An institution's pseudonymization keys (versioned, owner-only, never printed).",
    no_args_is_help=True,
)
app.add_typer(keys_app, name="keys")
KeyDir = Annotated[
    Path, typer.Option(help="The institution's key directory (apart from its data).")
]
Purpose = Annotated[str, typer.Option(help="Processing purpose the keys serve.")]


@keys_app.command("init")
def keys_init(
    key_dir: KeyDir,
    institution: Annotated[str, typer.Option(help="The institution the keys belong to.")],
    purpose: Purpose = "credit_risk_scoring",
    algorithm: Annotated[str, typer.Option(help="hmac-sha256 or hmac-sm3.")] = "hmac-sha256",
) -> None:
    """Create the key ring of an institution for one purpose (version 1)."""
    from fedscore.privacy.keys import KeyRing

    try:
        version = KeyRing(key_dir, purpose).init(institution, algorithm)
    except FedscoreError as error:
        fail(error)
    console.print(f"created key version {version.version} ({version.algorithm}) for {purpose}")


@keys_app.command("rotate")
def keys_rotate(key_dir: KeyDir, purpose: Purpose = "credit_risk_scoring") -> None:
    """Make a new key version current; pseudonyms made from now on carry its number."""
    from fedscore.privacy.keys import KeyRing

    try:
        version = KeyRing(key_dir, purpose).rotate()
    except FedscoreError as error:
        fail(error)
    console.print(f"key version {version.version} is now current for {purpose}")


@keys_app.command("list")
def keys_list(key_dir: KeyDir, purpose: Purpose = "credit_risk_scoring") -> None:
    """Key versions and their creation times (never the key material)."""
    from rich.table import Table

    from fedscore.privacy.keys import KeyRing

    try:
        versions = KeyRing(key_dir, purpose).versions()
    except FedscoreError as error:
        fail(error)
    table = Table(title=f"keys for {purpose}")
    for column in ("version", "algorithm", "created", "current"):
        table.add_column(column)
    for info in versions:
        table.add_row(
            str(info["version"]),
            str(info["algorithm"]),
            str(info["created_at"]),
            "yes" if info["current"] else "",
        )
    Console().print(table)


ConsortiumKeyList = Annotated[
    Path | None,
    typer.Option("--keys", help="The consortium's key list (TOML, [ledger_keys] party = hex)."),
]


audit_app = typer.Typer(help="Compliance audit of privacy budgets.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")


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
    _print_verification(verified)
    if not verified.ok:
        raise typer.Exit(code=1)


def _print_verification(verified: AuditVerification) -> None:
    """Each ledger's and run's verdict, every other finding, then the overall verdict."""
    from fedscore.privacy.audit.findings import LEDGER

    for institution in verified.institutions:
        ledger = institution.verification
        if ledger.ok:
            entries = (
                "1 entry verifies" if ledger.entries == 1 else f"{ledger.entries} entries verify"
            )
            line = f"{institution.party}: {entries} ({ledger.signature_checks} signature check(s))"
        else:
            line = f"{institution.party}: FAILED at entry #{ledger.first_broken}: {ledger.problem}"
        console.print(
            f"{line} — {institution.ledger_file}",
            style=None if ledger.ok else "bold red",
            markup=False,
            soft_wrap=True,
        )
    for run in verified.runs:
        for name, verified_heads in sorted(run.verified_heads.items()):
            console.print(
                f"run {run.run_id}: {verified_heads} of {len(run.heads[name])} signed ledger "
                f"head(s) of {name} verify",
                markup=False,
            )
    for finding in verified.findings:
        if finding.check != LEDGER:
            _print_finding(finding.severity, finding.subject, finding.message)
    if verified.ok:
        console.print("OK: everything verifies", style="bold green")
    else:
        console.print(
            f"FAILED: {len(verified.failures)} problem(s), listed above", style="bold red"
        )


def _print_finding(severity: str, subject: str, message: str) -> None:
    console.print(
        f"{severity}: [{subject}] {message}",
        style="bold red" if severity == "failure" else "yellow",
        markup=False,
        soft_wrap=True,
    )


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

    from fedscore.clients.local_data import load_party_data
    from fedscore.clients.node import NodeConfig
    from fedscore.core.schema import load_schema
    from fedscore.privacy.audit.canary import run_canary_audit

    recipe = RunConfig(
        model="mlp", rounds=200, learning_rate=0.3, batch_size=128, delta=delta, epsilon=epsilon
    )
    try:
        node = NodeConfig.from_toml(node_config)
        data = load_party_data(node, load_schema(node.task_path))
        x, y = data.train_x[:rows], data.train_y[:rows]
        results = {"dp": run_canary_audit(x, y, recipe, canaries=canaries).as_dict()}
        if control:
            results["non_private_control"] = run_canary_audit(
                x, y, recipe.replace(private=False), canaries=canaries
            ).as_dict()
    except FedscoreError as error:
        fail(error)
    for name, result in results.items():
        console.print(
            f"{name}: claimed ε {result['claimed_epsilon']:.3f}, empirical lower bound "
            f"{result['lower_bound']:.3f} ({result['correct']}/{result['guesses']} guesses "
            f"right, {result['canaries']} canaries, β = {result['beta']})",
            markup=False,
        )
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
    _print_audit(report.document)
    console.print(f"report: {outputs.html}\n        {outputs.json}", markup=False)
    if not report.ok:
        raise typer.Exit(code=1)


def _print_audit(document: dict[str, object]) -> None:
    from rich.table import Table

    table = Table(title="privacy budget per party and data version")
    for column in ("party", "data version", "ε RDP", "ε PRV", "used", "max ε", "refused", "ledger"):
        table.add_column(column, justify="left" if column in ("party", "data version") else "right")
    parties: dict[str, dict] = document["parties"]  # type: ignore[assignment]
    for party, view in parties.items():
        for version in view["data_versions"]:
            table.add_row(
                party,
                str(version["data_version"])[:12],
                _fmt_epsilon(version["epsilon_rdp"]),
                _fmt_epsilon(version["epsilon_prv"]),
                _fmt_epsilon(version["budget_used"]),
                _fmt_epsilon(version["max_epsilon"]),
                str(version["refused_rounds"]),
                "verified" if view["ledger_ok"] else "FAILED",
            )
    console.print(table)
    shared: dict = document["shared_customers"]  # type: ignore[assignment]
    if shared["worst_case"]:
        worst = shared["worst_case"]
        console.print(
            f"worst case for a customer at {' + '.join(worst['parties'])}: "
            f"ε {_fmt_epsilon(worst['epsilon'])}, δ {worst['delta']:g}",
            markup=False,
        )
    for finding in document["findings"]:  # type: ignore[attr-defined]
        _print_finding(finding["severity"], finding["subject"], finding["message"])
    verdict = document["verification"]["ok"]  # type: ignore[index]
    console.print(
        "VERIFIED" if verdict else "FAILED: the evidence does not verify",
        style="bold green" if verdict else "bold red",
    )


def _fmt_epsilon(value: object) -> str:
    if value is None:
        return "—"
    if value == "inf" or (isinstance(value, float) and value == float("inf")):
        return "∞"
    return f"{float(value):.4f}"  # type: ignore[arg-type]


parties.register(app)
runs.register(app)
scoring.register(app)
release.register(app)
schemas.register(app)


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":
    main()
