"""References for vertical training: the same model trained in one place, and the bank alone.

`train_centralized` trains the very additive model the parties train, f_bank(x_bank) +
f_fac(x_fac) with the same sub-models, initial weights, optimizer, batches and steps,
but on the joined columns in one place with the true labels and plain binary
cross-entropy: what vertical training would reach if the two institutions could pool
their data. Non-private vertical training must match it (for "lr" it is logistic
regression on the joined columns). `train_bank_alone` is what the bank reaches without
the facilitator: its sub-model alone on its own columns, same optimizer and steps.

Both are non-private references (no clipping, no noise, true labels), for tests and
benchmarks; neither is part of the protocol.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from fedscore.core.errors import ConfigError
from fedscore.vertical.training.batches import BatchSchedule, Vector
from fedscore.vertical.training.settings import VerticalSettings
from fedscore.vertical.training.submodels import (
    SubModelSpec,
    build_optimizer,
    build_submodel,
    encoded_rows,
)


class ReferenceModel(nn.Module):
    """The sum of the bank's sub-model and (unless trained alone) the facilitator's.

    Args:
        bank: the bank's sub-model (with the bias).
        facilitator: the facilitator's sub-model, or None for the bank alone.
    """

    def __init__(self, bank: nn.Module, facilitator: nn.Module | None) -> None:
        super().__init__()
        self.bank = bank
        self.facilitator = facilitator

    def forward(
        self, bank_rows: torch.Tensor, facilitator_rows: torch.Tensor | None
    ) -> torch.Tensor:
        """The joint logit per row."""
        logits: torch.Tensor = self.bank(bank_rows).squeeze(-1)
        if self.facilitator is not None and facilitator_rows is not None:
            logits = logits + self.facilitator(facilitator_rows).squeeze(-1)
        return logits

    def logits(
        self, bank_features: npt.ArrayLike, facilitator_features: npt.ArrayLike | None = None
    ) -> Vector:
        """The joint logit of encoded rows (the facilitator's columns unless bank alone).

        Args:
            bank_features: the rows' bank encoding.
            facilitator_features: the same rows' facilitator encoding (None: bank alone).
        """
        bank_rows = encoded_rows(bank_features, "bank features")
        other = (
            None
            if facilitator_features is None
            else encoded_rows(facilitator_features, "facilitator features")
        )
        with torch.no_grad():
            values: Vector = self(bank_rows, other).numpy()
        return values


def _submodel(settings: VerticalSettings, width: int, bank: bool) -> nn.Module:
    """A party's sub-model exactly as `PartyTrainer` builds it."""
    seed = settings.seed + (0 if bank else 1)
    return build_submodel(SubModelSpec(settings.model, width, settings.hidden, bank, seed))


def _train(
    model: ReferenceModel,
    settings: VerticalSettings,
    bank_rows: torch.Tensor,
    facilitator_rows: torch.Tensor | None,
    labels: npt.ArrayLike,
    seed: int,
) -> ReferenceModel:
    targets = torch.from_numpy(np.asarray(labels, dtype=np.float32))
    if targets.ndim != 1 or len(targets) != len(bank_rows):
        raise ConfigError(f"{len(targets)} labels for {len(bank_rows)} rows")
    plan = settings.plan(len(bank_rows))
    schedule = BatchSchedule(seed, plan.rows, plan.sample_rate, plan.steps)
    optimizer = build_optimizer(
        settings.optimizer, list(model.parameters()), settings.learning_rate, settings.momentum
    )
    loss_fn = nn.BCEWithLogitsLoss()
    model.train()
    for step in range(plan.steps):
        rows = torch.from_numpy(schedule.batch(step))
        for group in optimizer.param_groups:
            group["lr"] = settings.learning_rate_at(step, plan.steps)
        other = None if facilitator_rows is None else facilitator_rows[rows]
        logits = model(bank_rows[rows], other)
        # An empty batch is a step with zero gradient, as in the vertical run.
        loss = loss_fn(logits, targets[rows]) if len(rows) else logits.sum() * 0
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    model.eval()
    return model


def train_centralized(
    settings: VerticalSettings,
    bank_features: npt.ArrayLike,
    facilitator_features: npt.ArrayLike,
    labels: npt.ArrayLike,
    seed: int,
) -> ReferenceModel:
    """The additive model trained on the joined columns in one place (non-private).

    Args:
        settings: the vertical run's settings (model, optimizer, epochs, batch size).
        bank_features: the bank's encoded shared rows.
        facilitator_features: the facilitator's encoded rows, the same rows in order.
        labels: their true 0/1 labels.
        seed: the sampling seed, so the batches are the vertical run's.

    Raises:
        ConfigError: labels and rows differ in number.
        FedscoreError: features that are not finite rows, or row counts that differ.
    """
    bank_rows = encoded_rows(bank_features, "bank features")
    facilitator_rows = encoded_rows(facilitator_features, "facilitator features")
    if len(facilitator_rows) != len(bank_rows):
        raise ConfigError("the bank's and the facilitator's rows differ in number")
    model = ReferenceModel(
        _submodel(settings, bank_rows.shape[1], bank=True),
        _submodel(settings, facilitator_rows.shape[1], bank=False),
    )
    return _train(model, settings, bank_rows, facilitator_rows, labels, seed)


def train_bank_alone(
    settings: VerticalSettings, bank_features: npt.ArrayLike, labels: npt.ArrayLike, seed: int
) -> ReferenceModel:
    """The bank's sub-model trained on its own columns alone (non-private).

    Args:
        settings: the vertical run's settings (model, optimizer, epochs, batch size).
        bank_features: the bank's encoded rows.
        labels: their true 0/1 labels.
        seed: the sampling seed.

    Raises:
        ConfigError: labels and rows differ in number.
    """
    bank_rows = encoded_rows(bank_features, "bank features")
    model = ReferenceModel(_submodel(settings, bank_rows.shape[1], bank=True), None)
    return _train(model, settings, bank_rows, None, labels, seed)
