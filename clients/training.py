"""A party's local training round: Poisson-sampled SGD under a pluggable privacy mechanism."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fedscore.core.runconfig import RunConfig
from fedscore.privacy.accounting import calibrate_noise
from fedscore.privacy.auto_settings import DpSettings, choose_settings
from fedscore.privacy.dp_sgd import LocalPrivacy, MechanismParams
from fedscore.privacy.poisson_sampling import poisson_sample


@dataclass(frozen=True)
class LocalSchedule:
    """How much a party trains per round, and with which step size and clipping.

    Attributes:
        sample_rate: Poisson probability of each record per step.
        steps_per_round: local_epochs × (records / expected batch size), or the automatic
            rule's steps.
        expected_batch_size: the batch size the sample rate is derived from.
        delta: the δ of the party's guarantee (`RunConfig.delta_for` its records).
        learning_rate: local SGD step size; None: the run's `learning_rate`.
        max_grad_norm: per-sample clipping bound; None: the run's `max_grad_norm`.
        auto: what the automatic rule chose, and why (None: the run's own settings).
    """

    sample_rate: float
    steps_per_round: int
    expected_batch_size: int
    delta: float
    learning_rate: float | None = None
    max_grad_norm: float | None = None
    auto: DpSettings | None = None

    def step_size(self, run: RunConfig) -> float:
        """The learning rate this party trains with in `run`."""
        return run.learning_rate if self.learning_rate is None else self.learning_rate

    def clipping(self, run: RunConfig) -> float:
        """The per-sample clipping bound this party trains with in `run`."""
        return run.max_grad_norm if self.max_grad_norm is None else self.max_grad_norm

    def calibrated_mechanism(self, run: RunConfig) -> MechanismParams:
        """The run's Gaussian mechanism, its noise calibrated to the run's epsilon.

        The noise is calibrated once, for every step of the run (rounds × local epochs × steps).
        """
        noise = calibrate_noise(
            run.epsilon,
            self.delta,
            self.sample_rate,
            run.rounds * self.steps_per_round,
            run.accountant,
        )
        return MechanismParams(
            noise, self.sample_rate, self.clipping(run), self.expected_batch_size
        )

    @classmethod
    def for_party(cls, run: RunConfig, n_records: int) -> LocalSchedule:
        """The schedule of a party of `n_records` training rows.

        The automatic rule's choice when `run.automatic`, else the run's batch size and
        local epochs.
        """
        delta = run.delta_for(n_records)
        if run.automatic:
            chosen = choose_settings(run, n_records)
            return cls(
                chosen.sample_rate,
                chosen.steps_per_round,
                chosen.batch_size,
                delta,
                chosen.learning_rate,
                chosen.max_grad_norm,
                chosen,
            )
        batch = min(run.batch_size, n_records)
        steps_per_epoch = max(1, math.ceil(n_records / batch))
        return cls(batch / n_records, run.local_epochs * steps_per_epoch, batch, delta)

    def settings(self, run: RunConfig) -> dict[str, Any]:
        """The settings this party trains with, for run records and reports."""
        return {
            "mode": "auto" if self.auto else "manual",
            "batch_size": self.expected_batch_size,
            "sample_rate": self.sample_rate,
            "steps_per_round": self.steps_per_round,
            "learning_rate": self.step_size(run),
            "max_grad_norm": self.clipping(run),
            "reason": self.auto.reason if self.auto else "the run's own settings",
        }


@dataclass(frozen=True)
class LocalTrainingResult:
    """What a round of local training did (aggregates only; nothing per record)."""

    steps: int
    mean_batch_size: float
    mean_loss: float


def train_locally(
    model: nn.Module,
    features: np.ndarray,
    labels: np.ndarray,
    run: RunConfig,
    schedule: LocalSchedule,
    privacy: LocalPrivacy,
    sampling_generator: torch.Generator,
) -> tuple[nn.Module, LocalTrainingResult]:
    """Train `model` on this party's rows for one round.

    Args:
        model: The global model just received; trained in place and returned unwrapped.
        features: This party's encoded training rows.
        labels: Their 0/1 labels.
        run: Momentum and FedProx weight of the run.
        schedule: Sample rate, number of steps and learning rate of this round.
        privacy: DP-SGD or the non-private comparison mode.
        sampling_generator: Source of the Poisson batch sampling: the round's batches are
            drawn from a numpy generator seeded by it (`sampling_rng`), so they are a
            function of its state, which this call advances.
    """
    # No copy when the rows are already float32 and C-contiguous (the encoder's output).
    inputs = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32))
    targets = torch.from_numpy(np.asarray(labels, dtype=np.float32))
    global_weights = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.SGD(
        model.parameters(), lr=schedule.step_size(run), momentum=run.momentum
    )
    module = privacy.wrap(model, optimizer)
    module.train()
    with warnings.catch_warnings():
        # Opacus' hooks fire on the first layer, whose inputs need no gradient: harmless.
        warnings.filterwarnings("ignore", message="Full backward hook is firing")
        losses, batch_sizes = _run_steps(
            module,
            model,
            inputs,
            targets,
            schedule,
            privacy,
            sampling_rng(sampling_generator),
            global_weights,
            run.proximal_mu,
        )
    trained = privacy.unwrap()
    trained.eval()
    return trained, LocalTrainingResult(
        steps=schedule.steps_per_round,
        mean_batch_size=float(np.mean(batch_sizes)) if batch_sizes else 0.0,
        mean_loss=float(np.mean(losses)) if losses else math.nan,
    )


def _run_steps(
    module: nn.Module,
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    schedule: LocalSchedule,
    privacy: LocalPrivacy,
    sampling: np.random.Generator,
    global_weights: list[torch.Tensor],
    proximal_mu: float,
) -> tuple[list[float], list[int]]:
    loss_fn = nn.BCEWithLogitsLoss()
    losses: list[float] = []
    batch_sizes: list[int] = []
    for _ in range(schedule.steps_per_round):
        # Poisson sampling in O(batch), not O(records): same distribution (see the module).
        chosen = torch.from_numpy(poisson_sample(len(inputs), schedule.sample_rate, sampling))
        batch_x, batch_y = inputs[chosen], targets[chosen]
        logits = module(batch_x).squeeze(-1)
        # An empty Poisson batch still releases noise (and is accounted): zero loss.
        loss = loss_fn(logits, batch_y) if len(batch_y) else logits.sum() * 0.0
        loss.backward()
        if privacy.privatize():
            _add_proximal_gradient(model, global_weights, proximal_mu)
            privacy.finish_step()
        losses.append(float(loss.detach()))
        batch_sizes.append(len(batch_y))
    return losses, batch_sizes


def sampling_rng(sampling_generator: torch.Generator) -> np.random.Generator:
    """The numpy generator a round's Poisson batches are drawn from, seeded by a torch one.

    Draws 128 bits from `sampling_generator` (advancing it, so successive rounds on one
    generator get different batches) as the entropy of a `numpy.random.SeedSequence`:
    the batches are a function of the torch generator's seed, as before.

    Args:
        sampling_generator: The caller's source of the Poisson batch sampling.

    Returns:
        A fresh PCG64 generator for this round's batches.
    """
    words = torch.randint(0, 2**32, (4,), dtype=torch.int64, generator=sampling_generator)
    return np.random.default_rng(np.random.SeedSequence(words.tolist()))


def _add_proximal_gradient(model: nn.Module, global_weights: list[torch.Tensor], mu: float) -> None:
    """FedProx: add the gradient of mu/2·||w − w_global||² to the released gradient.

    It is added after privatization because Opacus' per-sample gradients only see
    terms computed through the model's layers; the proximal term depends on no
    record, so adding it afterwards costs no privacy.
    """
    if mu <= 0:
        return
    with torch.no_grad():
        for parameter, anchor in zip(model.parameters(), global_weights, strict=True):
            if parameter.grad is not None:
                parameter.grad.add_(parameter.detach() - anchor, alpha=mu)
