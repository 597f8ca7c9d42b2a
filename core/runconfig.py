"""The model owner's run configuration: what to train, how long, with how much privacy."""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fedscore.core.errors import ConfigError

# Settings that may be unset (None): absent from TOML and from Flower's run config.
_OPTIONAL_FLOATS = frozenset({"max_update_norm"})


@dataclass(frozen=True)
class RunConfig:
    """One training run, identical for every party.

    Attributes:
        rounds: federated rounds.
        model: registered model name ("lr" or "mlp").
        hidden: hidden widths of the MLP.
        strategy: registered aggregation strategy ("fedavg", "fedprox", or the robust
            "fedtrimmedavg" and "fedmedian", which are unweighted coordinate-wise
            statistics of the parties' updates). Robust strategies need every update in
            the clear, so they are refused together with `secure_aggregation`.
        proximal_mu: weight of FedProx's proximal term (mu/2·||w − w_global||²).
        trim_beta: fraction of the updates "fedtrimmedavg" cuts off at each tail, per
            coordinate, in [0, 0.5). It trims int(trim_beta × parties) updates per tail:
            with 3 parties the default 0.2 trims nothing (use at least 1/3).
        local_epochs: passes over its data each party makes per round.
        batch_size: expected Poisson batch size (sample rate = batch_size / rows).
        learning_rate: local SGD step size.
        momentum: local SGD momentum.
        private: DP-SGD on (True) or the non-private comparison mode (False).
        epsilon: the privacy each party spends on this whole run (calibrated once).
        delta: the DP delta; must be below 1 / (rows of the smallest party).
        max_grad_norm: per-sample gradient clipping bound. Our encoded rows have norms
            around 5; a bound much below that clips most defaulters' gradients and
            biases the model's calibration (measured: Brier 0.153 at 1.0, 0.139 at 4.0).
        accountant: accountant the noise is calibrated with and budgets are checked
            against ("rdp", conservative, or "prv", tight). Both are always reported.
        min_parties: fewest parties whose updates a round needs to be aggregated.
        max_update_norm: the server drops a party's update whose L2 norm of
            (update − global model), over all arrays, exceeds it; None: no norm check.
            A server-side sanity check against broken or hostile nodes, not the DP
            guarantee (that is per-sample clipping and noise at each node). Updates with
            NaN/Inf or other array names/shapes than the global model are always dropped.
        secure_aggregation: aggregate with Flower's SecAgg+: each node masks its update
            and the server learns only the weighted sum of the updates. Server-side update
            screening then moves to the nodes (each checks its own update before masking).
        secagg_clipping_range: SecAgg+ quantizes each weighted parameter
            (rows / secagg_max_weight × value) into [-range, range]; a node whose update
            would be clipped by that rejects it rather than send a distorted one.
        secagg_max_weight: the training rows that give a node SecAgg+ weight 1; the
            aggregate is the average weighted by rows, as in FedAvg. Set it near the
            largest party's training rows: a much larger value loses quantization
            precision, a smaller one lets large parties' weighted values exceed the
            clipping range.
        seed: seed of the initial model.
    """

    rounds: int = 10
    model: str = "lr"
    hidden: tuple[int, ...] = (64, 32)
    strategy: str = "fedavg"
    proximal_mu: float = 0.0
    trim_beta: float = 0.2
    local_epochs: int = 1
    batch_size: int = 512
    learning_rate: float = 0.1
    momentum: float = 0.9
    private: bool = True
    epsilon: float = 1.0
    delta: float = 1e-5
    max_grad_norm: float = 4.0
    accountant: str = "rdp"
    min_parties: int = 2
    max_update_norm: float | None = None
    secure_aggregation: bool = False
    secagg_clipping_range: float = 8.0
    secagg_max_weight: float = 100_000.0
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        checks = [
            (self.rounds >= 1, "rounds must be >= 1"),
            (self.local_epochs >= 1, "local_epochs must be >= 1"),
            (self.batch_size >= 1, "batch_size must be >= 1"),
            (self.learning_rate > 0, "learning_rate must be > 0"),
            (self.epsilon > 0, "epsilon must be > 0"),
            (0 < self.delta < 1, "delta must be in (0, 1)"),
            (self.max_grad_norm > 0, "max_grad_norm must be > 0"),
            (self.accountant in ("rdp", "prv"), "accountant must be 'rdp' or 'prv'"),
            (self.proximal_mu >= 0, "proximal_mu must be >= 0"),
            (self.min_parties >= 1, "min_parties must be >= 1"),
            (0 <= self.trim_beta < 0.5, "trim_beta must be in [0, 0.5)"),
            (
                self.max_update_norm is None
                or (math.isfinite(self.max_update_norm) and self.max_update_norm > 0),
                "max_update_norm must be > 0 (or unset for no norm check)",
            ),
            (self.secagg_clipping_range > 0, "secagg_clipping_range must be > 0"),
            (self.secagg_max_weight > 0, "secagg_max_weight must be > 0"),
            (
                not (self.secure_aggregation and self.min_parties < 2),
                "secure_aggregation needs min_parties >= 2 (the sum of one update is that update)",
            ),
            (
                not (self.strategy == "fedprox" and self.proximal_mu == 0),
                "strategy 'fedprox' needs proximal_mu > 0",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(f"run config: {message}")

    # Flower's run config is a flat mapping of scalars with dashed keys.
    def to_flower(self) -> dict[str, bool | int | float | str]:
        flat: dict[str, bool | int | float | str] = {}
        for item in dataclasses.fields(self):
            if item.name == "extra":
                continue
            value = getattr(self, item.name)
            if value is None:  # an unset optional setting: Flower's config has no null
                continue
            if isinstance(value, tuple):
                value = ",".join(str(v) for v in value)
            flat[item.name.replace("_", "-")] = value
        return flat

    @classmethod
    def from_flower(cls, flat: dict[str, Any]) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        values: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for key, value in flat.items():
            name = key.replace("-", "_")
            (values if name in known else extra)[name] = value
        return cls.from_mapping(values, extra=extra)

    @classmethod
    def from_mapping(cls, values: dict[str, Any], extra: dict[str, Any] | None = None) -> RunConfig:
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"run config: unknown setting(s) {unknown}")
        typed: dict[str, Any] = {}
        for name, value in values.items():
            default = known[name].default
            try:
                if name in _OPTIONAL_FLOATS:
                    typed[name] = _optional_float(value)
                elif name == "hidden":
                    parts = value.split(",") if isinstance(value, str) else value
                    typed[name] = tuple(int(v) for v in parts)
                elif isinstance(default, bool):
                    typed[name] = value if isinstance(value, bool) else str(value).lower() == "true"
                elif isinstance(default, int):
                    typed[name] = int(value)
                elif isinstance(default, float):
                    typed[name] = float(value)
                else:
                    typed[name] = str(value)
            except (TypeError, ValueError) as exc:
                raise ConfigError(f"run config: '{name}' has the wrong type") from exc
        return cls(**typed, extra=dict(extra or {}))

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        """Read the `[run]` table of a TOML file."""
        try:
            doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read run config: {exc}") from exc
        return cls.from_mapping(doc.get("run", doc))

    def replace(self, **changes: Any) -> RunConfig:
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("extra")
        data["hidden"] = list(self.hidden)
        return data


def _optional_float(value: Any) -> float | None:
    """A float setting that may be unset: None, "" or "none" (any case) mean unset.

    Raises:
        ValueError: the value is neither unset nor a number.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    return float(value)
