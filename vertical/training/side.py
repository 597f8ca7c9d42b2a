"""What the bank's and the facilitator's sides share over their `PartyTrainer`."""

from __future__ import annotations

import numpy.typing as npt

from fedscore.privacy.accounting import EpsilonReport
from fedscore.vertical.training.batches import Vector
from fedscore.vertical.training.party import PartyTrainer
from fedscore.vertical.training.submodels import encoded_rows


class TrainedSide:
    """One party's side of a run: its trainer, the step it is at, its ε, its scores.

    Attributes:
        trainer: the sub-model, its DP-SGD, accountant and step counter.
    """

    trainer: PartyTrainer

    @property
    def next_step(self) -> int:
        """The next step: the number of steps taken so far."""
        return self.trainer.step

    @property
    def finished(self) -> bool:
        """Whether every step of the run has been taken."""
        return self.trainer.finished

    def contributions_for(self, features: npt.ArrayLike) -> Vector:
        """This party's sub-model on any rows of its encoding (e.g. to score them).

        Raises:
            FedscoreError: not finite rows of the sub-model's width.
        """
        width = self.trainer.inputs.shape[1]
        return self.trainer.outputs(encoded_rows(features, f"{self.trainer.role} features", width))

    def epsilon(self) -> EpsilonReport:
        """Record-level ε spent so far (see `PartyTrainer.epsilon`)."""
        return self.trainer.epsilon()
