"""Aggregation strategies by name: Flower's own strategies, configured for a run."""

from __future__ import annotations

from collections.abc import Callable

from flwr.serverapp.strategy import FedAvg, FedProx, Strategy

from fedscore.core import protocol
from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import RunConfig

StrategyFactory = Callable[[RunConfig, int], Strategy]
_FACTORIES: dict[str, StrategyFactory] = {}


def register_strategy(name: str) -> Callable[[StrategyFactory], StrategyFactory]:
    """Decorator registering a factory (run config, expected parties) → Flower strategy."""

    def decorate(factory: StrategyFactory) -> StrategyFactory:
        _FACTORIES[name] = factory
        return factory

    return decorate


def available_strategies() -> list[str]:
    return sorted(_FACTORIES)


def build_strategy(run: RunConfig, expected_parties: int) -> Strategy:
    factory = _FACTORIES.get(run.strategy)
    if factory is None:
        raise ConfigError(
            f"unknown strategy '{run.strategy}'; choose one of {available_strategies()}"
        )
    return factory(run, expected_parties)


def _common(run: RunConfig, expected_parties: int) -> dict[str, object]:
    # Every party takes part in every round: a consortium is a handful of institutions.
    return {
        "fraction_train": 1.0,
        "fraction_evaluate": 1.0,
        "min_train_nodes": expected_parties,
        "min_evaluate_nodes": expected_parties,
        "min_available_nodes": expected_parties,
        "weighted_by_key": protocol.NUM_EXAMPLES,
        "arrayrecord_key": protocol.ARRAYS,
        "configrecord_key": protocol.CONFIG,
    }


@register_strategy("fedavg")
def fedavg(run: RunConfig, expected_parties: int) -> Strategy:
    """FedAvg weighted by each party's number of training rows."""
    return FedAvg(**_common(run, expected_parties))  # type: ignore[arg-type]


@register_strategy("fedprox")
def fedprox(run: RunConfig, expected_parties: int) -> Strategy:
    """FedProx: FedAvg plus a proximal term mu/2·||w − w_global||² in every local loss."""
    return FedProx(proximal_mu=run.proximal_mu, **_common(run, expected_parties))  # type: ignore[arg-type]
