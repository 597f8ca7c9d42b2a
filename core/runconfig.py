"""The model owner's run configuration: what to train, how long, with how much privacy.

`RunConfig` is a strict pydantic dataclass: every setting has its type (a string is
never a boolean, a boolean never a number, numbers are finite), so a run config from
TOML, from Flower's run config or from a signed run request is checked the same way,
and `replace` re-checks the result.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass
from pydantic.json_schema import SkipJsonSchema

from fedscore.core.errors import ConfigError
from fedscore.core.typed_config import describe_errors
from fedscore.core.untrusted_documents import parse_toml

# Settings that may be unset (None): absent from TOML and from Flower's run config.
_OPTIONAL_FLOATS = frozenset({"max_update_norm", "delta"})
_OPTIONAL_BOOLS = frozenset({"auto"})
#: The settings the automatic rule chooses: a value other than the default turns it off.
MANUAL_SETTINGS = ("local_epochs", "batch_size", "learning_rate", "max_grad_norm")
#: The largest δ a run that sets none gets at any party.
DEFAULT_DELTA_CAP = 1e-5
_STRICT = ConfigDict(strict=True, allow_inf_nan=False, extra="forbid")


@dataclass(frozen=True, config=_STRICT)
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
        delta: the DP delta, the same at every party; must be below 1 / N at each party
            of N training rows. None (the default): each party's own δ from its N, see
            `delta_for`, so that no party, however large, has to refuse the default.
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
        auto: choose each party's batch size, local steps, learning rate and clipping
            bound from its N, ε, δ, the rounds and the model (`fedscore.privacy.
            auto_settings`) instead of `batch_size`, `local_epochs`, `learning_rate` and
            `max_grad_norm`. None (the default): on unless one of those four is set to
            another value than its default; `automatic` says which applies.
    """

    rounds: Annotated[int, Field(ge=1)] = 10
    model: str = "lr"
    hidden: tuple[Annotated[int, Field(ge=1)], ...] = (64, 32)
    strategy: str = "fedavg"
    proximal_mu: Annotated[float, Field(ge=0)] = 0.0
    trim_beta: Annotated[float, Field(ge=0, lt=0.5)] = 0.2
    local_epochs: Annotated[int, Field(ge=1)] = 1
    batch_size: Annotated[int, Field(ge=1)] = 512
    learning_rate: Annotated[float, Field(gt=0)] = 0.1
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    private: bool = True
    epsilon: Annotated[float, Field(gt=0)] = 1.0
    delta: Annotated[float, Field(gt=0, lt=1)] | None = None
    max_grad_norm: Annotated[float, Field(gt=0)] = 4.0
    accountant: Literal["rdp", "prv"] = "rdp"
    min_parties: Annotated[int, Field(ge=1)] = 2
    max_update_norm: Annotated[float, Field(gt=0)] | None = None
    secure_aggregation: bool = False
    secagg_clipping_range: Annotated[float, Field(gt=0)] = 8.0
    secagg_max_weight: Annotated[float, Field(gt=0)] = 100_000.0
    seed: int = 0
    auto: bool | None = None
    extra: SkipJsonSchema[dict[str, Any]] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        # Rules across settings (each setting's own bounds are its field's constraints).
        checks = [
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

    @property
    def automatic(self) -> bool:
        """Whether the parties' DP-SGD settings are chosen by the automatic rule."""
        if self.auto is not None:
            return self.auto
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        return all(getattr(self, name) == defaults[name] for name in MANUAL_SETTINGS)

    def delta_for(self, n_records: int) -> float:
        """The δ of this run's guarantee at a party of `n_records` training rows.

        The run's `delta` if it sets one; else the largest power of ten at most
        1 / (10·N), and at most 1e-5: δ·N ≤ 0.1, so the chance that the guarantee fails
        for some record of the party stays small, however many records it holds (δ just
        below 1/N would allow a mechanism that publishes one record outright). Powers of
        ten keep δ fixed while N moves within a decade; as consent withdrawals shrink N,
        δ can only grow, so a round's epsilon never jumps up for it.
        """
        if self.delta is not None:
            return self.delta
        # 10**k is the smallest power of ten >= 10·N: k digits write 10·N − 1.
        k = len(str(10 * max(n_records, 1) - 1))
        return min(DEFAULT_DELTA_CAP, 10.0**-k)

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
        """A run config from settings by name (TOML, JSON), checked strictly.

        `hidden` may be a list of widths or Flower's "64,32"; an optional float may be
        unset as None or "".

        Raises:
            ConfigError: an unknown setting, a value of the wrong type, a non-finite
                number, or settings that contradict each other (every problem named).
        """
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"run config: unknown setting(s) {unknown}")
        typed = dict(values)
        if isinstance(typed.get("hidden"), str | list):
            typed["hidden"] = _widths(typed["hidden"])
        for name in (_OPTIONAL_FLOATS | _OPTIONAL_BOOLS) & typed.keys():
            typed[name] = _optional_float(typed[name])
        return _checked(lambda: cls(**typed, extra=dict(extra or {})))

    @classmethod
    def from_toml(cls, path: str | Path) -> RunConfig:
        """Read the `[run]` table of a TOML file (or the whole file when it has none).

        A setting may be spelt with underscores (`batch_size`) or, as in Flower's
        `pyproject.toml`, with hyphens (`batch-size`); both spellings of one setting in
        one table are an error.
        """
        try:
            doc = parse_toml(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read run config: {exc}") from exc
        table = doc.get("run", doc)
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: 'run' must be a table ([run])")
        names = {key: key.replace("-", "_") for key in table}
        twice = sorted({n for n in names.values() if list(names.values()).count(n) > 1})
        if twice:
            raise ConfigError(f"{path}: [run] spells {twice} both with '-' and with '_'")
        return cls.from_mapping({names[key]: value for key, value in table.items()})

    def replace(self, **changes: Any) -> RunConfig:
        """These settings with `changes`, checked again.

        Raises:
            ConfigError: a changed setting has the wrong type or breaks a rule.
        """
        return _checked(lambda: dataclasses.replace(self, **changes))

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("extra")
        data["hidden"] = list(self.hidden)
        return data


def _checked(build: Callable[[], RunConfig]) -> RunConfig:
    """`build()`, with a type error turned into a ConfigError naming the setting."""
    try:
        return build()
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc, RunConfig, "run config", "")) from exc


def _widths(value: str | list[Any]) -> tuple[int, ...] | list[Any]:
    """Hidden widths from "64,32" (Flower's run config holds no lists) or a list."""
    if isinstance(value, list):
        return tuple(value)
    try:
        return tuple(int(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError("run config: 'hidden' must be widths like \"64,32\"") from exc


def _optional_float(value: Any) -> Any:
    """An optional setting (a float, or `auto`): None, "" or "none" (any case) mean unset.

    Any other value is checked by the dataclass (a boolean or a text is not a number).
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return value
