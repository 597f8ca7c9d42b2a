"""The bank's side: the label holder's sub-model, and the loss gradients it sends.

Per step t (its rows from the shared schedule, see `batches`), given the facilitator's
contributions u_i (`feature_side`):

1. z_i = f_bank(x_i) + u_i, the joint logit;
2. g_i = ∂ℓ_i/∂z_i = σ(z_i) − ỹ_i, with ỹ the debiased labels of the bank's label-DP
   release (`fedscore.privacy.label_dp`; randomized response at `label_epsilon`);
3. one DP-SGD step of f_bank on mean_i(g_i · f_bank(x_i)) (record-level DP at
   `bank_epsilon`: Opacus clips each row's g_i ∇f_bank(x_i) and adds noise);
4. g goes to the facilitator.

The bank never holds its true labels here when private: it is built from the release,
and trains on it too, so everything it sends and its sub-model are post-processing of
the release (ε-label-DP towards everyone). What g discloses **without DP**: its sign is
the released label ỹ_i (already public to the facilitator under label DP), and with u_i
it gives σ(z_i), hence the bank's own score f_bank(x_i) of that row. As with the
facilitator's u, DP-SGD protects what the sub-model reveals, not a row's own score.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch

from fedscore.core.errors import ConfigError, FedscoreError
from fedscore.privacy.label_dp import LabelRelease, binary_labels
from fedscore.vertical.training.batches import Vector, message_digest, peer_vector
from fedscore.vertical.training.party import PartyTrainer
from fedscore.vertical.training.settings import VerticalSettings
from fedscore.vertical.training.side import TrainedSide

ROLE = "bank"


def training_labels(
    settings: VerticalSettings, labels: LabelRelease | npt.ArrayLike, rows: int
) -> Vector:
    """The labels the bank trains on: the debiased release, or (non-private) the truth.

    Args:
        settings: the run's settings (private or not, label ε).
        labels: private runs: the release of the shared rows' labels at `label_epsilon`
            (`LabelReleaseStore.release_for`); non-private runs: the true 0/1 labels.
        rows: the number of shared rows.

    Raises:
        ConfigError: raw labels in a private run, a release in a non-private one, a
            release at another ε, or another number of labels than rows.
        TableValidationError: a label is not 0 or 1.
    """
    if settings.private:
        if not isinstance(labels, LabelRelease):
            raise ConfigError("private vertical training takes the label-DP release, not labels")
        if labels.epsilon != settings.label_epsilon:
            raise ConfigError(
                f"the label release is at ε {labels.epsilon}, the run's label ε is "
                f"{settings.label_epsilon}"
            )
        targets: Vector = labels.debiased().astype(np.float32)
    elif isinstance(labels, LabelRelease):
        raise ConfigError("non-private vertical training takes the true labels, not a release")
    else:
        targets = binary_labels(labels).astype(np.float32)
    if len(targets) != rows:
        raise ConfigError(f"{len(targets)} labels for {rows} shared rows")
    return targets


class LabelSide(TrainedSide):
    """The bank's sub-model over its columns, with the bias; it answers u with g.

    Build one with `create` (the first message of a run) or `load` (every later one).

    Attributes:
        trainer: the sub-model, its DP-SGD, accountant and step counter.
    """

    def __init__(self, trainer: PartyTrainer, targets: Vector, last_reply: Vector) -> None:
        self.trainer = trainer
        self._targets = torch.from_numpy(targets)
        self._last_reply = last_reply

    @classmethod
    def create(
        cls,
        settings: VerticalSettings,
        features: npt.ArrayLike,
        labels: LabelRelease | npt.ArrayLike,
        seed: int,
        noise_seed: int | None = None,
    ) -> LabelSide:
        """A run's bank side, its noise calibrated for its ε over every step.

        Args:
            settings: the run's settings, the same as the facilitator's.
            features: the bank's encoded shared rows, in the shared order.
            labels: the release of their labels (private runs) or the labels (see
                `training_labels`). Charge the label budget when the release is new.
            seed: the run's sampling seed, derived from the parties' shared secret.
            noise_seed: seed of the DP noise; None (outside tests): from the OS.

        Raises:
            ConfigError: the bank's ε cannot be reached, or the labels do not fit.
            FedscoreError: the features are not finite rows.
        """
        trainer = PartyTrainer(ROLE, settings, features, seed, noise_seed=noise_seed)
        targets = training_labels(settings, labels, trainer.plan.rows)
        return cls(trainer, targets, np.empty(0, dtype=np.float32))

    @classmethod
    def load(cls, path: Path, features: npt.ArrayLike) -> LabelSide:
        """The bank side saved at `path` (`save`), on the rows it was trained on.

        Raises:
            FedscoreError: the file is unreadable, the facilitator's, or of other rows.
        """
        trainer, _, arrays = PartyTrainer.load(path, ROLE, features)
        if "targets" not in arrays or "last_reply" not in arrays:
            raise FedscoreError(f"{path}: unreadable vertical training state (no labels)")
        return cls(trainer, arrays["targets"], arrays["last_reply"])

    def save(self, path: Path) -> None:
        """Write the whole state (owner-only, atomically) for the next message.

        Of the labels it holds what the bank trains on: in private runs the debiased
        release, never a true label.
        """
        arrays = {"targets": self._targets.numpy(), "last_reply": self._last_reply}
        self.trainer.save(path, {}, arrays)

    @property
    def label_epsilon(self) -> float:
        """ε of each label in everything the bank sends (infinite when non-private)."""
        settings = self.trainer.settings
        return settings.label_epsilon if settings.private else math.inf

    def step(self, step: int, contributions: npt.ArrayLike) -> Vector:
        """Train step `step` on the facilitator's u; returns g for the facilitator.

        A repeat of the last message (same step, same u) gets the same g again, with
        no second update and no second privacy cost.

        Args:
            step: the step the contributions are of: the next step.
            contributions: u_i = f_fac(x_i) per row of the step's batch, in batch order.

        Returns:
            g_i = σ(f_bank(x_i) + u_i) − ỹ_i per row of the batch (float32).

        Raises:
            MalformedMessage: another step, or u of the wrong length or not finite;
                nothing changed.
            ConfigError: the run has no step `step`.
        """
        message = message_digest(step, contributions)
        if step == self.trainer.step - 1 and message == self.trainer.last_message:
            return self._last_reply.copy()
        rows = self.trainer.batch(step)
        received = peer_vector(contributions, len(rows), "facilitator contributions", "u", None)
        own = torch.from_numpy(self.trainer.outputs(self.trainer.inputs[rows]))
        logits = own + torch.from_numpy(received)
        gradients: Vector = (torch.sigmoid(logits) - self._targets[rows]).numpy()
        self.trainer.update(rows, gradients, message)
        self._last_reply = gradients
        return gradients.copy()
