"""Aggregation strategies, registered by name."""

from fedscore.server.strategy.registry import (
    available_strategies,
    build_strategy,
    register_strategy,
)

__all__ = ["available_strategies", "build_strategy", "register_strategy"]
