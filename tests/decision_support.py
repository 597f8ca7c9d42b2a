"""Scorers for the decision tests: a real LR model of the task with chosen weights."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import tomli_w
import torch

from fedscore.core.artifact import ScoringModel
from fedscore.core.encoding import FeatureEncoder
from fedscore.core.models import ModelSpec, build_model
from fedscore.core.runconfig import RunConfig
from fedscore.core.tabular import write_table
from fedscore.decisions.strategies import default_strategy_path
from fedscore.scoring import Scorer, load_scoring_config
from fedscore.scoring.development import DevelopmentProfile

LABEL = "default.payment.next.month"


def lr_scorer(schema, market, folder: Path, pd: float | None = None) -> Scorer:
    """An LR scorer profiled on 300 real rows: every weight 0 and the bias logit(pd) when
    `pd` is given (every customer has that PD), fixed random weights otherwise."""
    module = build_model(ModelSpec("lr", FeatureEncoder(schema).n_features, ()))
    generator = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
        if pd is not None:
            module[0].weight.zero_()
            module[0].bias.fill_(math.log(pd / (1 - pd)))
    model = ScoringModel.of_module(module, schema, RunConfig(model="lr"))
    development = folder / "development.csv"
    write_table(market.consortium_test.head(300), development)
    config = load_scoring_config()
    return Scorer(model, "test-v1", DevelopmentProfile.build(model, development, config), config)


def customers(market, schema, rows: slice) -> list[dict[str, object]]:
    """Real customers of the consortium test set: their feature fields only."""
    names = [c.name for c in schema.features]
    return market.consortium_test.iloc[rows][names].to_dict("records")


def default_document() -> dict:
    """The bundled strategy file, parsed (to change one thing in a test)."""
    return tomllib.loads(default_strategy_path().read_text(encoding="utf-8"))


def write_strategy(document: dict, folder: Path, name: str = "strategy.toml") -> Path:
    """Write a strategy document (its challenger, if any, copied beside it)."""
    path = folder / name
    path.write_text(tomli_w.dumps(document), encoding="utf-8")
    if "challenger" in document:
        challenger = default_strategy_path().with_name(document["challenger"]["strategy"])
        (folder / challenger.name).write_bytes(challenger.read_bytes())
    return path


def good_customer() -> dict[str, object]:
    """A customer no bundled rule fires on (paid duly, age 35, bill below the limit)."""
    fields: dict[str, object] = {"LIMIT_BAL": 100000, "SEX": 2, "EDUCATION": 2, "MARRIAGE": 1}
    fields["AGE"] = 35
    for month in ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"):
        fields[month] = 0
    for k in range(1, 7):
        fields[f"BILL_AMT{k}"] = 20000
        fields[f"PAY_AMT{k}"] = 2000
    return fields
