"""`fedscore strategy check|register|list` and `fedscore decide`: decision strategies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fedscore.cli.output import fail, or_fail, say
from fedscore.cli.registry_options import DEFAULT_REGISTRY, ConfigFile, ModelVersion, RegistryDir

if TYPE_CHECKING:
    from fedscore.decisions.store import StrategyStore
    from fedscore.scoring.scorer import Scorer

strategy_app = typer.Typer(
    help="Decision strategies (rules, cut-offs, limits, prices): check, register, list."
)
StrategyFile = Annotated[Path, typer.Argument(help="The strategy TOML (docs/decisions.md).")]
StrategyName = Annotated[
    str, typer.Option("--strategy", help="A registered strategy: <name>-<version>.")
]


def _store_and_scorer(
    registry: Path, model: str, config: Path | None
) -> tuple[StrategyStore, Scorer]:
    """The registry's strategies and the scorer of a verified model version."""
    from fedscore.decisions.store import StrategyStore
    from fedscore.scoring import ModelRegistry, load_scoring_config

    models = ModelRegistry(registry)
    scorer = models.load(model).scorer(load_scoring_config(config))
    return StrategyStore(models), scorer


@strategy_app.command("check")
def check(
    path: StrategyFile,
    model: ModelVersion = "production",
    registry: RegistryDir = DEFAULT_REGISTRY,
    config: ConfigFile = None,
) -> None:
    """Check a strategy file (and its challenger's) against a registered model."""
    from fedscore.decisions import Decider

    _, scorer = or_fail(lambda: _store_and_scorer(registry, model, config))
    loaded = or_fail(lambda: Decider.load(scorer, path)).strategy
    for strategy in (loaded.champion, loaded.challenger):
        if strategy is not None:
            rules = len(strategy.rules.rules)
            tiers = len(strategy.pricing.tiers)
            say(
                f"{strategy.info.name} {strategy.info.version}: {rules} rules, {tiers} price "
                f"tiers: valid for {scorer.version}"
            )
    if loaded.split is not None:
        say(f"challenger share {loaded.split.share:g} (salt {loaded.split.salt})")


@strategy_app.command("register")
def register_strategy(
    path: StrategyFile,
    model: ModelVersion = "production",
    registry: RegistryDir = DEFAULT_REGISTRY,
    config: ConfigFile = None,
) -> None:
    """Check a strategy against a model version and sign it into the registry beside it."""
    store, scorer = or_fail(lambda: _store_and_scorer(registry, model, config))
    binding = or_fail(lambda: store.register(scorer.version, path, scorer))
    say(f"registered {binding.name} for {binding.model_version}")


@strategy_app.command("list")
def list_strategies(
    model: ModelVersion = "production", registry: RegistryDir = DEFAULT_REGISTRY
) -> None:
    """List the strategies registered for a model version."""
    from fedscore.decisions.store import StrategyStore
    from fedscore.scoring import ModelRegistry

    names = or_fail(lambda: StrategyStore(ModelRegistry(registry)).names(model))
    for name in names:
        say(name)


def decide(
    application: Annotated[
        Path, typer.Option("--application", help="A JSON object: feature name → value.")
    ],
    strategy: StrategyName,
    application_id: Annotated[
        str, typer.Option(help="The application's id (never a personal identifier).")
    ] = "",
    model: ModelVersion = "production",
    registry: RegistryDir = DEFAULT_REGISTRY,
    config: ConfigFile = None,
) -> None:
    """Decide one application with a registered strategy; print the decision as JSON."""
    from fedscore.core.errors import ConfigError
    from fedscore.core.untrusted_documents import parse_json

    store, scorer = or_fail(lambda: _store_and_scorer(registry, model, config))
    decider = or_fail(lambda: store.decider(scorer, strategy))
    try:
        fields = parse_json(application.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        fail(ConfigError(f"{application}: not a readable JSON file ({exc})"))
    if not isinstance(fields, dict):
        fail(ConfigError(f"{application}: must hold one JSON object (feature name → value)"))
    decision = or_fail(lambda: decider.decide(fields, application_id))
    print(json.dumps(decision.as_dict(), indent=2, ensure_ascii=False))


def register(app: typer.Typer) -> None:
    """Add `fedscore strategy` and `fedscore decide` to the `fedscore` command line.

    Args:
        app: the `fedscore` command line.
    """
    app.add_typer(strategy_app, name="strategy")
    app.command("decide")(decide)
