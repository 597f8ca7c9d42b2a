"""The facilitator's side: the feature holder's sub-model, trained without any label.

Per step t (its rows from the shared schedule, see `batches`):

1. `contributions(t)` → u_i = f_fac(x_i) for the batch's rows, sent to the bank. These
   values cross **without DP**: each is the facilitator's score of that customer by
   its current sub-model. DP-SGD bounds what the sub-model (and so the scores of all
   *other* rows) reveals about a row, not a row's own score.
2. the bank answers g_i = σ(z_i) − ỹ_i (see `label_side`);
3. `apply(t, g)`: one DP-SGD step on mean_i(g_i · f_fac(x_i)); Opacus clips each row's
   g_i ∇f_fac(x_i) to C and adds Gaussian noise calibrated to the facilitator's ε.

`apply_and_forward(t, g)` does 3. and then 1. for step t + 1, so one exchange per step.

The facilitator's API takes no labels, and nothing it receives is a label: g depends
on the labels only through the bank's label-DP release (ỹ, debiased randomized
response), so as far as labels go, everything here is post-processing of that release
(ε-label-DP). A g the bank could not have computed (NaN, infinite, beyond the range
σ − ỹ can take, of the wrong length) is refused before anything changes.
"""

from __future__ import annotations

from pathlib import Path

import numpy.typing as npt

from fedscore.privacy.label_dp import RandomizedResponse
from fedscore.vertical.training.batches import Vector, message_digest, peer_vector
from fedscore.vertical.training.party import PartyTrainer
from fedscore.vertical.training.settings import VerticalSettings
from fedscore.vertical.training.side import TrainedSide

ROLE = "facilitator"


def gradient_bound(settings: VerticalSettings) -> float:
    """The largest |g_i| an honest bank sends: max |σ(z) − ỹ| over z and the released ỹ.

    ỹ ∈ {−p/(1−2p), (1−p)/(1−2p)} under randomized response with flip probability p
    (ỹ ∈ {0, 1} without label DP), so |g| ≤ (1−p)/(1−2p).

    Args:
        settings: the run's settings (label ε, private or not).
    """
    if not settings.private:
        return 1.0
    p = RandomizedResponse(settings.label_epsilon).flip_probability
    # float32 rounding of σ and of ỹ on the bank's side.
    return (1 - p) / (1 - 2 * p) * (1 + 1e-5)


class FeatureSide(TrainedSide):
    """The facilitator's sub-model over its columns; it never sees a label.

    Build one with `create` (the first message of a run) or `load` (every later one).

    Attributes:
        trainer: the sub-model, its DP-SGD, accountant and step counter.
    """

    def __init__(self, trainer: PartyTrainer) -> None:
        self.trainer = trainer
        self._bound = gradient_bound(trainer.settings)

    @classmethod
    def create(
        cls,
        settings: VerticalSettings,
        features: npt.ArrayLike,
        seed: int,
        noise_seed: int | None = None,
    ) -> FeatureSide:
        """A run's facilitator side, its noise calibrated for its ε over every step.

        Args:
            settings: the run's settings, the same as the bank's.
            features: the facilitator's encoded shared rows, in the shared order.
            seed: the run's sampling seed, derived from the parties' shared secret.
            noise_seed: seed of the DP noise; None (outside tests): from the OS.

        Raises:
            ConfigError: the facilitator's ε cannot be reached in the planned steps.
            FedscoreError: the features are not finite rows.
        """
        return cls(PartyTrainer(ROLE, settings, features, seed, noise_seed=noise_seed))

    @classmethod
    def load(cls, path: Path, features: npt.ArrayLike) -> FeatureSide:
        """The facilitator side saved at `path` (`save`), on the rows it was trained on.

        Raises:
            FedscoreError: the file is unreadable, the bank's, or of other rows.
        """
        trainer, _, _ = PartyTrainer.load(path, ROLE, features)
        return cls(trainer)

    def save(self, path: Path) -> None:
        """Write the whole state (owner-only, atomically) for the next message."""
        self.trainer.save(path, {}, {})

    def contributions(self, step: int) -> Vector:
        """u_i = f_fac(x_i) for the rows of `step` (disclosed to the bank without DP).

        Args:
            step: the next step (`next_step`); asking again gives the same values.

        Raises:
            MalformedMessage: `step` is not the next step.
            ConfigError: the run has no step `step` (it is finished).
        """
        rows = self.trainer.batch(step)
        return self.trainer.outputs(self.trainer.inputs[rows])

    def apply(self, step: int, gradients: npt.ArrayLike) -> None:
        """One DP-SGD step with the bank's g_i = ∂ℓ_i/∂z_i for the rows of `step`.

        A repeat of the last message applied (same step, same g) changes nothing.

        Args:
            step: the step the gradients are of: the next step.
            gradients: g_i per row of the step's batch, in batch order.

        Raises:
            MalformedMessage: another step, or g of the wrong length, not finite, or
                beyond `gradient_bound`; nothing changed.
            ConfigError: the run has no step `step`.
        """
        message = message_digest(step, gradients)
        if step == self.trainer.step - 1 and message == self.trainer.last_message:
            return
        rows = self.trainer.batch(step)
        weights = peer_vector(gradients, len(rows), "bank gradients", "g", self._bound)
        self.trainer.update(rows, weights, message)

    def apply_and_forward(self, step: int, gradients: npt.ArrayLike) -> Vector | None:
        """`apply(step, gradients)`, then the contributions of step + 1 (None: run over).

        Args:
            step: the step the gradients are of.
            gradients: g_i per row of the step's batch.

        Raises:
            MalformedMessage: as `apply`; nothing changed.
        """
        self.apply(step, gradients)
        return None if self.finished else self.contributions(self.trainer.step)
