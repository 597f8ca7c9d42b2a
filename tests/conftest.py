"""Shared fixtures: the bundled task schema and small, real party tables from the demo split."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import tomli_w

from fedscore.core.schema import TaskSchema, load_schema
from fedscore.core.tabular import write_table
from fedscore.datasets.market import default_task_path, split_market


@pytest.fixture(scope="session")
def schema() -> TaskSchema:
    return load_schema(default_task_path())


@pytest.fixture(scope="session")
def market():
    return split_market()


@pytest.fixture()
def party_table(market) -> pd.DataFrame:
    """1,500 real rows of the large bank, as the institution holds them."""
    return market.parties["large_bank"].head(1500).copy()


@pytest.fixture()
def make_node():
    """Factory writing an institution folder with its table and node config."""
    return write_node


def write_node(
    home: Path,
    name: str,
    table: pd.DataFrame,
    max_epsilon: float = 5.0,
    allow_non_private: bool = False,
) -> Path:
    """An institution folder with its table and node config; returns the config path."""
    (home / "data").mkdir(parents=True, exist_ok=True)
    write_table(table, home / "data" / "customers.csv")
    config = home / "node.toml"
    config.write_text(
        tomli_w.dumps(
            {
                "node": {"party": name, "data": "data/customers.csv", "state_dir": "state"},
                "privacy": {"max_epsilon": max_epsilon, "allow_non_private": allow_non_private},
            }
        ),
        encoding="utf-8",
    )
    return config
