"""Each party's sub-model: what it sees (its columns, encoded) and what it is (by name).

The split model's logit is the sum of the parties' contributions,
``logit(x) = f_bank(x_bank) + f_fac(x_fac)``; each f is a sub-model built from a name
in `SUBMODELS` ("lr": a linear map to one scalar; "mlp": tanh hidden layers, then one
scalar, the cut layer). Exactly one sub-model, the bank's, has the bias.

A party's input is its own columns encoded with the consortium's task schema
(`party_encoder`): the schema restricted to those columns and to the derived features
computable from them alone, so each party encodes from the agreed schema and nothing
it computed from its data.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.optim import Optimizer

from fedscore.core.encoding import FeatureEncoder
from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.core.models.registry import seeded
from fedscore.core.registry import Registry
from fedscore.core.schema import DerivedFeature, TaskSchema


@dataclass(frozen=True)
class SubModelSpec:
    """What a sub-model factory needs.

    Attributes:
        name: the registered sub-model name ("lr", "mlp").
        n_features: width of the party's encoded feature vector.
        hidden: hidden layer widths (ignored by sub-models without hidden layers).
        bias: whether the sub-model's output has a bias (the label holder's only).
        seed: seed of the initial weights, so every run starts from the same sub-model.
    """

    name: str
    n_features: int
    hidden: tuple[int, ...] = (16,)
    bias: bool = True
    seed: int = 0


SubModelFactory = Callable[[SubModelSpec], nn.Module]

#: Sub-model factories by name; each builds a module mapping rows to one scalar each.
SUBMODELS: Registry[SubModelFactory] = Registry("sub-model")


@SUBMODELS.register("lr")
def linear_submodel(spec: SubModelSpec) -> nn.Module:
    """A linear map to one scalar, starting at zero (the parties' sum is a logistic model).

    Args:
        spec: the sub-model's shape (input width, whether it has the bias).
    """
    linear = nn.Linear(spec.n_features, 1, bias=spec.bias)
    nn.init.zeros_(linear.weight)
    if linear.bias is not None:
        nn.init.zeros_(linear.bias)
    return nn.Sequential(linear)


@SUBMODELS.register("mlp")
def mlp_submodel(spec: SubModelSpec) -> nn.Module:
    """Tanh hidden layers of `spec.hidden` widths, then one scalar: the cut layer.

    No batch norm: Opacus cannot clip per sample through it.

    Args:
        spec: the sub-model's shape (input width, hidden widths, whether it has the bias).
    """
    layers: list[nn.Module] = []
    width = spec.n_features
    for hidden in spec.hidden:
        layers += [nn.Linear(width, hidden), nn.Tanh()]
        width = hidden
    layers.append(nn.Linear(width, 1, bias=spec.bias))
    return nn.Sequential(*layers)


def build_submodel(spec: SubModelSpec) -> nn.Module:
    """A freshly initialised sub-model (deterministic in `spec.seed`).

    Args:
        spec: the registered sub-model's name and what its factory needs.

    Raises:
        ConfigError: no sub-model is registered under `spec.name`.
    """
    factory = SUBMODELS.get(spec.name)
    return seeded(lambda: factory(spec), spec.seed)


def _sources(derived: DerivedFeature) -> tuple[str, ...]:
    """The columns a derived feature is computed from."""
    if derived.kind == "ratio":
        return tuple(name for name in (derived.numerator, derived.denominator) if name)
    return derived.columns


def party_schema(schema: TaskSchema, columns: Sequence[str]) -> TaskSchema:
    """The task schema as one party encodes it: its feature columns, its derived features.

    A derived feature is kept when every column it is computed from is the party's; one
    that would need the other party's columns is left out (neither party can compute it).

    Args:
        schema: the consortium's task schema.
        columns: the party's feature columns (e.g. `BANK_COLUMNS`).

    Raises:
        ConfigError: a column is not a feature column of the schema.
    """
    features = {spec.name for spec in schema.features}
    unknown = [name for name in columns if name not in features]
    if unknown:
        raise ConfigError(f"not feature columns of task '{schema.name}': {unknown}")
    own = set(columns)
    kept = tuple(spec for spec in schema.columns if not spec.is_feature or spec.name in own)
    derived = tuple(d for d in schema.derived if set(_sources(d)) <= own)
    return dataclasses.replace(schema, columns=kept, derived=derived)


def party_encoder(schema: TaskSchema, columns: Sequence[str]) -> FeatureEncoder:
    """The project's encoder for one party's columns (see `party_schema`).

    Args:
        schema: the consortium's task schema.
        columns: the party's feature columns.
    """
    return FeatureEncoder(party_schema(schema, columns))


def encoded_rows(features: npt.ArrayLike, what: str, width: int | None = None) -> torch.Tensor:
    """A party's encoded rows as a float32 tensor, refusing what no encoder produces.

    Args:
        features: rows × encoded features.
        what: how errors name the rows.
        width: the number of features the rows must have (None: any, at least one).

    Raises:
        FedscoreError: not a non-empty 2-D array of finite numbers of that width.
    """
    array = np.asarray(features)
    if array.ndim != 2 or array.dtype.kind not in "biuf" or 0 in array.shape:
        raise FedscoreError(f"{what}: expected a non-empty 2-D numeric array")
    if width is not None and array.shape[1] != width:
        raise FedscoreError(f"{what}: expected {width} features, got {array.shape[1]}")
    rows = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(rows).all():
        raise FedscoreError(f"{what}: NaN or infinite values")
    return torch.from_numpy(rows)


def build_optimizer(
    name: str, parameters: list[nn.Parameter], learning_rate: float, momentum: float
) -> Optimizer:
    """A sub-model's optimizer: "adam", or "sgd" with momentum.

    Args:
        name: "adam" or "sgd".
        parameters: what it trains.
        learning_rate: its (initial) step size.
        momentum: SGD's momentum (Adam ignores it).
    """
    if name == "adam":
        return torch.optim.Adam(parameters, lr=learning_rate)
    return torch.optim.SGD(parameters, lr=learning_rate, momentum=momentum)
