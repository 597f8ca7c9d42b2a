"""Record-level DP-SGD with Opacus, and its non-private twin for comparison.

Both present the same interface to the local training loop, so a private and a
non-private run differ only in the mechanism plugged in:

* `DpSgd` wraps the model in Opacus' `GradSampleModule` and the optimizer in
  its `DPOptimizer` (per-sample clipping + Gaussian noise) and records every
  step in the party's accountant;
* `NoPrivacy` passes gradients through untouched and records the steps as
  non-private, which makes the party's epsilon infinite: honest accounting.

Poisson sampling is done by the training loop (each record independently with
probability `sample_rate`), the sampling the accountants assume; it is drawn in
O(batch) per step by `fedscore.privacy.poisson_sampling.poisson_sample`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from opacus import GradSampleModule
from opacus.optimizers import DPOptimizer
from torch import nn

from fedscore.privacy.accounting.accountant import PartyAccountant


@dataclass(frozen=True)
class MechanismParams:
    """The Gaussian mechanism of one party in one run.

    Attributes:
        noise_multiplier: noise std as a multiple of `max_grad_norm`.
        sample_rate: Poisson probability that a record is in a step's batch.
        max_grad_norm: per-sample gradient clipping bound.
        expected_batch_size: sample_rate × records; the denominator of the noisy mean.
    """

    noise_multiplier: float
    sample_rate: float
    max_grad_norm: float
    expected_batch_size: int


class LocalPrivacy(Protocol):
    """How a party's local optimizer is made (or not made) private."""

    def wrap(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> nn.Module:
        """Prepare model and optimizer; returns the module the loop must call."""

    def privatize(self) -> bool:
        """Turn the accumulated gradients into what may be released; False skips the step."""

    def finish_step(self) -> None:
        """Take the optimizer step and account for it."""

    def unwrap(self) -> nn.Module:
        """The plain model, free of hooks, to send or save."""


class DpSgd:
    """Opacus DP-SGD: per-sample clipping and Gaussian noise, every step accounted.

    Args:
        mechanism: Noise, sampling and clipping of this party in this run.
        accountant: The party's accountant on this data version; every step is recorded in it.
        noise_generator: Source of the Gaussian noise (None: torch's default generator).
    """

    def __init__(
        self,
        mechanism: MechanismParams,
        accountant: PartyAccountant,
        noise_generator: torch.Generator | None = None,
    ) -> None:
        self.mechanism = mechanism
        self.accountant = accountant
        self.noise_generator = noise_generator
        self._module: GradSampleModule | None = None
        self._optimizer: DPOptimizer | None = None

    def wrap(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> nn.Module:
        module = GradSampleModule(model, loss_reduction="mean")
        self._module = module
        self._optimizer = DPOptimizer(
            optimizer,
            noise_multiplier=self.mechanism.noise_multiplier,
            max_grad_norm=self.mechanism.max_grad_norm,
            expected_batch_size=self.mechanism.expected_batch_size,
            loss_reduction="mean",
            generator=self.noise_generator,
        )
        wrapped: nn.Module = module
        return wrapped

    def privatize(self) -> bool:
        assert self._optimizer is not None, "wrap() first"
        return bool(self._optimizer.pre_step())

    def finish_step(self) -> None:
        assert self._optimizer is not None, "wrap() first"
        self._optimizer.original_optimizer.step()
        self._optimizer.zero_grad(set_to_none=True)
        self.accountant.step(self.mechanism.noise_multiplier, self.mechanism.sample_rate)

    def unwrap(self) -> nn.Module:
        assert self._module is not None, "wrap() first"
        model: nn.Module = self._module._module
        self._module.remove_hooks()
        for parameter in model.parameters():
            # Opacus attaches per-sample gradients to parameters at run time.
            parameter.grad_sample = None  # type: ignore[attr-defined]
        return model


class NoPrivacy:
    """The non-private comparison mode: same loop, no clipping, no noise, epsilon = inf."""

    def __init__(self, accountant: PartyAccountant) -> None:
        self.accountant = accountant
        self._model: nn.Module | None = None
        self._optimizer: torch.optim.Optimizer | None = None

    def wrap(self, model: nn.Module, optimizer: torch.optim.Optimizer) -> nn.Module:
        self._model, self._optimizer = model, optimizer
        return model

    def privatize(self) -> bool:
        return True

    def finish_step(self) -> None:
        assert self._optimizer is not None, "wrap() first"
        self._optimizer.step()
        self._optimizer.zero_grad(set_to_none=True)
        self.accountant.non_private_steps += 1

    def unwrap(self) -> nn.Module:
        assert self._model is not None, "wrap() first"
        return self._model
