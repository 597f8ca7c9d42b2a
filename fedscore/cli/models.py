"""`fedscore models ...`: the model registry: register, list, show, promote, roll back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli.output import console, fail, or_fail
from fedscore.cli.registry_options import DEFAULT_REGISTRY, ConfigFile, RegistryDir
from fedscore.core.errors import FedscoreError

if TYPE_CHECKING:
    from fedscore.scoring import ModelRegistry

models_app = typer.Typer(help="The model registry: register, list, show, promote, roll back.")


@models_app.command("init-registry")
def models_init_registry(registry: RegistryDir = DEFAULT_REGISTRY) -> None:
    """Create a registry and its signing key (once: keys are never replaced; back it up)."""
    public = or_fail(_registry(registry).init)
    console.print(
        f"registry {registry}: signing key keys/registry_ed25519.pem (back it up; only "
        "register, promote and rollback use it), public key keys/registry_ed25519.pub "
        f"(all that scoring needs): {public}",
        markup=False,
    )


@models_app.command("register")
def models_register(
    run_dir: Annotated[Path, typer.Argument(help="A finished run directory.")],
    keys: Annotated[
        Path,
        typer.Option(
            "--keys",
            help="The consortium's key list (TOML, [ledger_keys] party = hex): the card's "
            "data versions, ε and δ come from the parties' ledger entries it verifies.",
        ),
    ],
    registry: RegistryDir = DEFAULT_REGISTRY,
    development: Annotated[
        Path | None,
        typer.Option(
            help="Development data (features and label, no identifiers): reason-code "
            "baseline and PSI reference. Default: the run's consortium test set."
        ),
    ] = None,
    config: ConfigFile = None,
    promote: Annotated[bool, typer.Option(help="Also put it into production.")] = False,
) -> None:
    """Register a finished run as the next version of its task (copied and signed)."""
    from fedscore.scoring import load_scoring_config

    try:
        models = _registry(registry)
        card = models.register(run_dir, keys, development, load_scoring_config(config))
        if promote:
            models.promote(card.version)
    except FedscoreError as error:
        fail(error)
    console.print(f"registered {card.version} (run {card.run_id})", markup=False)
    if promote:
        console.print(f"{card.version} is in production", markup=False)


@models_app.command("list")
def models_list(registry: RegistryDir = DEFAULT_REGISTRY) -> None:
    """Every registered version's signed card; * marks production; exit 1 if one does not verify."""
    from rich.console import Console
    from rich.table import Table

    try:
        models = _registry(registry)
        checked = models.checked_cards()
        cards = [entry.card for entry in checked if entry.card is not None]
        production = {card.task: models.production(card.task) for card in cards}
    except FedscoreError as error:
        fail(error)
    table = Table(title=f"models in {registry}")
    for column in (
        "version",
        "task",
        "model",
        "rounds",
        "created",
        "AUC",
        "KS",
        "max ε",
        "parties",
    ):
        table.add_column(
            column, justify="left" if column in ("version", "task", "parties") else "right"
        )
    for card in cards:
        epsilons = [p.epsilon for p in card.parties if isinstance(p.epsilon, int | float)]
        mark = " *" if production[card.task] == card.version else ""
        table.add_row(
            card.version + mark,
            f"{card.task} {card.task_version}",
            card.model,
            str(card.rounds),
            card.created_at,
            _fmt(card.consortium_test.get("auc")),
            _fmt(card.consortium_test.get("ks")),
            _fmt(max(epsilons) if epsilons else "inf"),
            ", ".join(p.name for p in card.parties),
        )
    if cards:
        Console(width=console.width).print(table)
    elif not checked:
        console.print(f"no models registered in {registry}", markup=False)
    unverified = [entry for entry in checked if entry.card is None]
    for entry in unverified:
        console.print(
            f"{entry.version}: NOT VERIFIED, not shown: "
            + entry.problem.removeprefix(f"{entry.version}: "),
            style="bold red",
            markup=False,
        )
    if unverified:
        raise typer.Exit(code=1)


@models_app.command("show")
def models_show(
    version: Annotated[str, typer.Argument(help="A version, or production.")],
    registry: RegistryDir = DEFAULT_REGISTRY,
) -> None:
    """A version's model card, its signature check and its development profile (JSON)."""
    models = _registry(registry)
    model, entry = or_fail(lambda: (models.load(version), models.entry(version)))
    development = model.development.as_dict()
    development.pop("baseline")
    document = {
        "card": model.card.as_dict(),
        "production": models.production(model.card.task) == model.version,
        "signature": {
            "verified": True,
            "algorithm": "Ed25519 over the SHA-256 manifest of every bundle file",
            "manifest_sha256": entry.manifest_sha256,
            "signature": entry.signature,
            "registry_public_key": models.public_hex,
        },
        "development": development,
    }
    print(json.dumps(document, indent=2, ensure_ascii=False))


@models_app.command("promote")
def models_promote(
    version: Annotated[str, typer.Argument(help="The version to put into production.")],
    registry: RegistryDir = DEFAULT_REGISTRY,
) -> None:
    """Put a version into production for its task (its signature is verified first)."""
    promoted = or_fail(lambda: _registry(registry).promote(version))
    console.print(f"{promoted} is in production", markup=False)


@models_app.command("rollback")
def models_rollback(
    registry: RegistryDir = DEFAULT_REGISTRY,
    task: Annotated[
        str | None, typer.Option(help="The task (if the registry holds several).")
    ] = None,
) -> None:
    """Put the previous production version of a task back into production."""
    restored = or_fail(lambda: _registry(registry).rollback(task))
    console.print(f"rolled back: {restored} is in production", markup=False)


def _registry(registry: Path) -> ModelRegistry:
    from fedscore.scoring import ModelRegistry

    return ModelRegistry(registry)


def _fmt(value: float | str | None, digits: int = 4) -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        return "∞" if value == "inf" else value
    return f"{float(value):.{digits}f}"


def register(app: typer.Typer) -> None:
    """Add `fedscore models ...` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.add_typer(models_app, name="models")
