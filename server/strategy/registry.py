"""Aggregation strategies by name: Flower's own strategies, configured for a run.

"fedavg" and "fedprox" average the updates weighted by each party's training rows.
The robust "fedtrimmedavg" (coordinate-wise trimmed mean) and "fedmedian"
(coordinate-wise median) are unweighted and limit what one faulty or hostile party
can do to the global model; they need every party's update in the clear, so they
are refused together with secure aggregation (which shows the server only the sum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypedDict

from flwr.serverapp.strategy import FedAvg, FedMedian, FedProx, FedTrimmedAvg, Strategy

from fedscore.core import protocol
from fedscore.core.errors import ConfigError
from fedscore.core.registry import Registry, origin_of
from fedscore.core.runconfig import RunConfig

StrategyFactory = Callable[[RunConfig, int], Strategy]


@dataclass(frozen=True)
class RegisteredStrategy:
    """A registered strategy factory and what it requires of a run.

    Attributes:
        factory: (run config, expected parties) → configured Flower strategy.
        needs_individual_updates: the strategy is not a weighted sum of the updates
            (e.g. a median), so it cannot run under secure aggregation.
    """

    factory: StrategyFactory
    needs_individual_updates: bool = False


#: The strategies by name; the built-in ones register when this module is imported.
STRATEGIES: Registry[RegisteredStrategy] = Registry("strategy")


def register_strategy(
    name: str, *, needs_individual_updates: bool = False
) -> Callable[[StrategyFactory], StrategyFactory]:
    """Decorator registering a factory (run config, expected parties) → Flower strategy.

    Args:
        name: the name runs choose the strategy by (`RunConfig.strategy`).
        needs_individual_updates: the strategy is not a weighted sum of the updates
            (e.g. a median), so it cannot run under secure aggregation.

    Raises:
        ValueError: the name is malformed or already registered.
    """

    def decorate(factory: StrategyFactory) -> StrategyFactory:
        entry = RegisteredStrategy(factory, needs_individual_updates)
        STRATEGIES.add(name, entry, origin=origin_of(factory))
        return factory

    return decorate


def available_strategies() -> list[str]:
    """The registered strategy names, sorted."""
    return STRATEGIES.names()


def build_strategy(run: RunConfig, expected_parties: int) -> Strategy:
    """The Flower strategy `run.strategy` names, configured for the run.

    Args:
        run: the run configuration (strategy name and its settings).
        expected_parties: how many parties take part; every round samples them all.

    Raises:
        ConfigError: the strategy is unknown, its settings don't fit the run, or it needs
            the individual updates while the run uses secure aggregation.
    """
    entry = STRATEGIES.get(run.strategy)
    if run.secure_aggregation and entry.needs_individual_updates:
        sums = [name for name, other in STRATEGIES.items() if not other.needs_individual_updates]
        raise ConfigError(
            f"strategy '{run.strategy}' needs every party's update in the clear, but secure "
            f"aggregation shows the server only their sum: turn secure aggregation off "
            f"(secure-aggregation=false) or choose one of {sorted(sums)}"
        )
    return entry.factory(run, expected_parties)


class _CommonSettings(TypedDict):
    """The settings every strategy of Flower's message API takes, as fedscore sets them."""

    fraction_train: float
    fraction_evaluate: float
    min_train_nodes: int
    min_evaluate_nodes: int
    min_available_nodes: int
    weighted_by_key: str
    arrayrecord_key: str
    configrecord_key: str


def _common(run: RunConfig, expected_parties: int) -> _CommonSettings:
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
    return FedAvg(**_common(run, expected_parties))


@register_strategy("fedprox")
def fedprox(run: RunConfig, expected_parties: int) -> Strategy:
    """FedProx: FedAvg plus a proximal term mu/2·||w − w_global||² in every local loss."""
    return FedProx(proximal_mu=run.proximal_mu, **_common(run, expected_parties))


@register_strategy("fedtrimmedavg", needs_individual_updates=True)
def fedtrimmedavg(run: RunConfig, expected_parties: int) -> Strategy:
    """Coordinate-wise trimmed mean: cuts int(trim_beta × replies) updates at each tail.

    Unweighted (every party counts the same, whatever its rows).

    Raises:
        ConfigError: with all expected parties replying, trim_beta would trim nothing.
    """
    if expected_parties >= 1 and int(run.trim_beta * expected_parties) == 0:
        fix = (
            f"set trim_beta to at least {1 / expected_parties:.3g} (below 0.5) or use 'fedmedian'"
            if expected_parties >= 3
            else "trimming needs at least 3 parties; use 'fedmedian' or 'fedavg'"
        )
        raise ConfigError(
            f"strategy 'fedtrimmedavg' with trim_beta {run.trim_beta} trims nothing with "
            f"{expected_parties} parties (it cuts int(trim_beta × parties) updates per tail): "
            f"{fix}"
        )
    return FedTrimmedAvg(beta=run.trim_beta, **_common(run, expected_parties))


@register_strategy("fedmedian", needs_individual_updates=True)
def fedmedian(run: RunConfig, expected_parties: int) -> Strategy:
    """Coordinate-wise median of the updates (unweighted)."""
    return FedMedian(**_common(run, expected_parties))
