"""The settings of a vertical training run, identical at the bank and the facilitator.

`VerticalSettings` is strict like `RunConfig`: every setting has its type (a string is
never a number, numbers are finite), unknown settings are errors, and `from_mapping`
reports every problem at once as a `ConfigError`. `plan` turns the settings and the
number of shared rows into what both parties must agree on step by step: the sample
rate, the number of steps and the δ of each party's guarantee.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from fedscore.core.errors import ConfigError
from fedscore.core.runconfig import RunConfig
from fedscore.core.typed_config import StrictSection, parse_section
from fedscore.privacy.accounting import calibrate_noise
from fedscore.vertical.training.submodels import SUBMODELS


@contextmanager
def quiet_accounting() -> Iterator[None]:
    """Silence two harmless warnings of Opacus' accountants in full-batch runs.

    At sample rate 1 the PRV accountant takes log(1 − q) = log 0 in a branch it then
    discards, and the RDP accountant's noise search tries noise so large that its best
    order is the largest one searched (only a looser bound, never a wrong one).
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Optimal order is the largest alpha", UserWarning)
        warnings.filterwarnings("ignore", "divide by zero encountered in log", RuntimeWarning)
        yield


@dataclass(frozen=True)
class TrainingPlan:
    """What both parties derive from the settings and the number of shared rows.

    Attributes:
        rows: the shared (training) rows, N.
        sample_rate: q, each row's probability of being in a step's batch (1: every row).
        expected_batch_size: q·N, the denominator of DP-SGD's noisy mean.
        steps: every step of the run (epochs × ⌈N / batch size⌉), one exchange each.
        delta: the δ of each party's record-level guarantee.
    """

    rows: int
    sample_rate: float
    expected_batch_size: int
    steps: int
    delta: float


class VerticalSettings(StrictSection):
    """One vertical training run of the additive split model.

    Attributes:
        model: sub-model architecture of both parties ("lr" or "mlp", see `submodels`).
        hidden: hidden layer widths of the "mlp" sub-models.
        epochs: passes over the shared rows.
        batch_size: expected Poisson batch size; None (the default): every shared row
            in every step (full-batch DP gradient descent, sample rate 1). Each step is
            one round trip between the parties, so large batches make fast runs.
        optimizer: "adam" or "sgd" (with `momentum`), the same at both parties.
        learning_rate: the optimizer's (initial) step size (the default suits Adam on
            "lr" sub-models; "mlp" ones do better at 0.05).
        schedule: "cosine": the step size decays from `learning_rate` to 0 along a half
            cosine over the run's steps (late DP-SGD steps are mostly noise: smaller
            steps there keep the noise from undoing what earlier steps learned);
            "constant": `learning_rate` throughout.
        momentum: SGD's momentum (ignored by Adam).
        max_grad_norm: per-sample gradient clipping bound C at both parties.
        bank_epsilon: record-level ε the bank's sub-model spends on the whole run.
        facilitator_epsilon: record-level ε the facilitator's sub-model spends.
        label_epsilon: ε of the randomized response the bank releases its labels under.
        delta: δ of both record-level guarantees; None: `RunConfig.delta_for` the
            shared rows (at most 1/(10·N), at most 1e-5).
        accountant: accountant the noise is calibrated with ("rdp" or "prv").
        private: DP on (True), or the non-private comparison mode: no clipping, no
            noise, true labels (every ε is then infinite).
        seed: seed of the sub-models' initial weights (the bank's uses it, the
            facilitator's `seed + 1`).
    """

    model: str = "lr"
    hidden: tuple[Annotated[int, Field(ge=1)], ...] = (16,)
    epochs: Annotated[int, Field(ge=1)] = 30
    batch_size: Annotated[int, Field(ge=1)] | None = None
    optimizer: Literal["adam", "sgd"] = "adam"
    learning_rate: Annotated[float, Field(gt=0)] = 0.15
    schedule: Literal["cosine", "constant"] = "cosine"
    momentum: Annotated[float, Field(ge=0, lt=1)] = 0.9
    max_grad_norm: Annotated[float, Field(gt=0)] = 3.0
    bank_epsilon: Annotated[float, Field(gt=0)] = 1.0
    facilitator_epsilon: Annotated[float, Field(gt=0)] = 1.0
    label_epsilon: Annotated[float, Field(gt=0)] = 2.0
    delta: Annotated[float, Field(gt=0, lt=1)] | None = None
    accountant: Literal["rdp", "prv"] = "rdp"
    private: bool = True
    seed: int = 0

    @field_validator("model")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in SUBMODELS:
            raise ValueError(f"unknown sub-model '{name}'; choose one of {SUBMODELS.names()}")
        return name

    @classmethod
    def from_mapping(
        cls, values: dict[str, Any], source: str | Path = "vertical settings"
    ) -> VerticalSettings:
        """Settings from a mapping by name (TOML, JSON, a message), checked strictly.

        Args:
            values: the settings; `hidden` may be a list of widths.
            source: where they came from, named in errors.

        Raises:
            ConfigError: every unknown setting or value of the wrong type, at once.
        """
        typed = dict(values)
        if isinstance(typed.get("hidden"), list):
            typed["hidden"] = tuple(typed["hidden"])
        return parse_section(cls, typed, source)

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values (`from_mapping` reads them back)."""
        values = self.model_dump()
        values["hidden"] = list(self.hidden)
        return values

    def replace(self, **changes: Any) -> VerticalSettings:
        """These settings with `changes`, checked again (`from_mapping`'s rules).

        Raises:
            ConfigError: a changed setting is unknown or has the wrong type.
        """
        return self.from_mapping({**self.as_dict(), **changes}, "changed vertical settings")

    def plan(self, rows: int) -> TrainingPlan:
        """The run's schedule over `rows` shared rows.

        Args:
            rows: the number of shared rows both parties hold, in the same order.

        Raises:
            ConfigError: no rows.
        """
        if rows < 1:
            raise ConfigError("vertical training needs at least one shared row")
        batch = rows if self.batch_size is None else min(self.batch_size, rows)
        steps = self.epochs * math.ceil(rows / batch)
        delta = RunConfig(delta=self.delta).delta_for(rows)
        return TrainingPlan(rows, batch / rows, batch, steps, delta)

    def calibrated_noise(self, epsilon: float, plan: TrainingPlan) -> float:
        """A party's noise multiplier, calibrated once for every step of the run.

        Args:
            epsilon: the party's record-level ε for the whole of `plan`.
            plan: the run's schedule (sample rate, steps, δ).

        Raises:
            ConfigError: `epsilon` cannot be reached in `plan.steps` steps.
        """
        with quiet_accounting():
            return calibrate_noise(
                epsilon, plan.delta, plan.sample_rate, plan.steps, self.accountant
            )

    def learning_rate_at(self, step: int, steps: int) -> float:
        """The step size of step `step` of `steps` (see `schedule`).

        Args:
            step: the step, from 0.
            steps: every step of the run.
        """
        if self.schedule == "constant":
            return self.learning_rate
        return self.learning_rate * 0.5 * (1 + math.cos(math.pi * step / steps))
