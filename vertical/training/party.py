"""One party's side of the split model: its sub-model, DP-SGD, accountant and saved state.

Both parties train their sub-model f the same way: given a weight g_i per row of the
step's batch, one DP-SGD step on the surrogate loss mean_i(g_i · f(x_i)), whose
per-sample gradients g_i ∇f(x_i) Opacus clips to C and noises (`DpSgd`, the horizontal
project's mechanism, every step recorded in the party's `PartyAccountant`). With g_i the
loss gradient σ(z_i) − y_i at the joint logit z_i, that is exactly the gradient of the
joint model's binary cross-entropy with respect to f's parameters.

`PartyTrainer` also keeps the run's bookkeeping every message needs checked: the step
counter (a message names its step; the rows are the shared schedule's), the digest of
the data the state belongs to, and the digest of the last message taken (a repeated
message is answered, not trained on twice). Its whole state is one owner-only file
(`save`, `load`), written atomically, so that each message can be handled by a fresh
process: weights, optimizer moments, the accountant's history, the noise generator's
state, the step counter and the sampling seed.

The noise generator's state is as secret as the weights: whoever holds it can subtract
the noise. It is seeded from the operating system unless a test fixes it.
"""

from __future__ import annotations

import io
import json
import secrets
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import torch
from torch import nn

from fedscore.core.errors import FedscoreError
from fedscore.core.files import write_private
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.privacy.accounting import EpsilonReport, PartyAccountant
from fedscore.privacy.dp_sgd import DpSgd, LocalPrivacy, MechanismParams, NoPrivacy
from fedscore.vertical.training.batches import BatchSchedule, Vector, digest
from fedscore.vertical.training.settings import TrainingPlan, VerticalSettings, quiet_accounting
from fedscore.vertical.training.submodels import (
    SubModelSpec,
    build_optimizer,
    build_submodel,
    encoded_rows,
)

STATE_FORMAT = "fedscore-vertical-party/1"


class PartyTrainer:
    """A sub-model trained by DP-SGD on g-weighted surrogate losses, step by step.

    Args:
        role: "bank" (its sub-model has the bias) or "facilitator".
        settings: the run's settings, the same at both parties.
        features: this party's encoded shared rows, in the shared order.
        seed: the run's sampling seed (`batches.sampling_seed`).
        noise_seed: seed of the DP noise; None (outside tests): 63 bits from the OS.
        noise_multiplier: the calibrated noise (a restored state's); None: calibrate it
            for the party's ε (`bank_epsilon` or `facilitator_epsilon`).
    """

    def __init__(
        self,
        role: str,
        settings: VerticalSettings,
        features: npt.ArrayLike,
        seed: int,
        noise_seed: int | None = None,
        noise_multiplier: float | None = None,
    ) -> None:
        self.role = role
        self.settings = settings
        self.inputs = encoded_rows(features, f"{role} features")
        self.data_sha256 = digest(self.inputs.numpy())
        self.plan: TrainingPlan = settings.plan(len(self.inputs))
        self.schedule = BatchSchedule(seed, self.plan.rows, self.plan.sample_rate, self.plan.steps)
        bank = role == "bank"
        spec = SubModelSpec(
            settings.model,
            self.inputs.shape[1],
            settings.hidden,
            bias=bank,
            seed=settings.seed + (0 if bank else 1),
        )
        self.model: nn.Module = build_submodel(spec)
        self.accountant = PartyAccountant()
        self.step = 0
        self.last_message: str | None = None
        self.noise = torch.Generator()
        self.noise.manual_seed(secrets.randbits(63) if noise_seed is None else noise_seed)
        self.mechanism: MechanismParams | None = None
        if settings.private:
            epsilon = settings.bank_epsilon if bank else settings.facilitator_epsilon
            noise = noise_multiplier
            if noise is None:
                noise = settings.calibrated_noise(epsilon, self.plan)
            self.mechanism = MechanismParams(
                noise, self.plan.sample_rate, settings.max_grad_norm, self.plan.expected_batch_size
            )
        self.optimizer = build_optimizer(
            settings.optimizer,
            list(self.model.parameters()),
            settings.learning_rate,
            settings.momentum,
        )
        self._privacy: LocalPrivacy | None = None
        self._module: nn.Module | None = None

    @property
    def finished(self) -> bool:
        """Whether every step of the run has been taken."""
        return self.step >= self.plan.steps

    def batch(self, step: int) -> npt.NDArray[np.int64]:
        """The rows of `step`, which must be this party's next step.

        Raises:
            MalformedMessage: the message is for another step than this party's next one.
        """
        if step != self.step:
            problem = f"is {step}, but this party's next step is {self.step}"
            raise MalformedMessage(f"{self.role} step", "step", problem)
        return self.schedule.batch(step)

    def outputs(self, inputs: torch.Tensor) -> Vector:
        """The sub-model's scalar per row (no gradient, no state change)."""
        with torch.no_grad():
            values: Vector = self.model(inputs).squeeze(-1).numpy().astype(np.float32)
        return values

    def update(self, rows: npt.NDArray[np.int64], weights: Vector, message: str) -> None:
        """One DP-SGD step on mean_i(weights_i · f(x_i)) over `rows`, and account for it.

        Args:
            rows: the step's batch.
            weights: g_i per row of the batch (checked by the caller).
            message: digest of the message that asked for the step (for repeats).
        """
        if self._module is None:
            self._privacy = self._new_privacy()
            self._module = self._privacy.wrap(self.model, self.optimizer)
        assert self._privacy is not None
        for group in self.optimizer.param_groups:
            group["lr"] = self.settings.learning_rate_at(self.step, self.plan.steps)
        self._module.train()
        inputs = self.inputs[torch.from_numpy(rows)]
        with warnings.catch_warnings():
            # Opacus' hooks fire on the first layer, whose inputs need no gradient: harmless.
            warnings.filterwarnings("ignore", message="Full backward hook is firing")
            outputs = self._module(inputs).squeeze(-1)
            # An empty Poisson batch still releases noise (and is accounted): zero loss.
            loss = (outputs * torch.from_numpy(weights)).mean() if len(rows) else outputs.sum() * 0
            loss.backward()
        if self._privacy.privatize():
            self._privacy.finish_step()
        self.step += 1
        self.last_message = message

    def _new_privacy(self) -> LocalPrivacy:
        if self.mechanism is None:
            return NoPrivacy(self.accountant)
        return DpSgd(self.mechanism, self.accountant, noise_generator=self.noise)

    def epsilon(self) -> EpsilonReport:
        """ε spent so far towards an observer of the model (RDP and PRV, at the run's δ).

        With sample rate q < 1 this counts on the accountants' subsampling amplification,
        valid towards anyone who does not know the batches. The other party knows them;
        towards it see `epsilon_known_batches`.
        """
        with quiet_accounting():
            return self.accountant.report(self.plan.delta)

    def epsilon_known_batches(self) -> EpsilonReport:
        """ε spent so far towards an observer who knows every batch (the other party).

        Without the secret of the batches there is no subsampling amplification: every
        step is counted as if it had used every row (worst case: a row in every batch).
        Equal to `epsilon` in full-batch runs (q = 1, the default).
        """
        history = [(noise, 1.0, steps) for noise, _, steps in self.accountant.history]
        known = PartyAccountant(history, self.accountant.non_private_steps)
        with quiet_accounting():
            return known.report(self.plan.delta)

    def save(self, path: Path, extra: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        """Write the whole state to `path` (owner-only, atomically), with the side's own.

        Args:
            path: the state file.
            extra: the side's JSON-ready values.
            arrays: the side's arrays (names without dots).
        """
        meta = {
            "format": STATE_FORMAT,
            "role": self.role,
            "settings": self.settings.as_dict(),
            "sampling_seed": str(self.schedule.seed),
            "step": self.step,
            "data_sha256": self.data_sha256,
            "noise_multiplier": None if self.mechanism is None else self.mechanism.noise_multiplier,
            "accountant": self.accountant.state_dict(),
            "last_message": self.last_message,
            "extra": dict(extra),
        }
        stored = {f"side.{name}": array for name, array in arrays.items()}
        stored["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        stored["noise"] = self.noise.get_state().numpy()
        for name, tensor in self.model.state_dict().items():
            stored[f"model.{name}"] = tensor.detach().numpy()
        for index, moments in self.optimizer.state_dict()["state"].items():
            for key, value in moments.items():
                if isinstance(value, torch.Tensor):
                    stored[f"optimizer.{index}.{key}"] = value.detach().numpy()
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **stored)
        write_private(Path(path), buffer.getvalue())

    @classmethod
    def load(
        cls, path: Path, role: str, features: npt.ArrayLike
    ) -> tuple[PartyTrainer, dict[str, Any], dict[str, np.ndarray]]:
        """The trainer saved at `path`, with the side's own values and arrays.

        Args:
            path: the state file.
            role: the role the file must be of.
            features: this party's encoded shared rows: the very rows the state is of.

        Raises:
            FedscoreError: the file is unreadable, of another role, or of other rows.
        """
        try:
            with np.load(Path(path), allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            meta = json.loads(arrays.pop("meta").tobytes())
            if meta.get("format") != STATE_FORMAT:
                raise ValueError("not a vertical training state")
            settings = VerticalSettings.from_mapping(meta["settings"], path)
            seed, noise, stored = int(meta["sampling_seed"]), meta["noise_multiplier"], meta["role"]
        except (OSError, ValueError, KeyError, TypeError, FedscoreError) as exc:
            raise FedscoreError(f"{path}: unreadable vertical training state ({exc})") from exc
        if stored != role:
            raise FedscoreError(f"{path}: the state of the {stored}, not the {role}")
        trainer = cls(role, settings, features, seed, noise_seed=0, noise_multiplier=noise)
        if trainer.data_sha256 != meta.get("data_sha256"):
            raise FedscoreError(f"{path}: the state belongs to other shared rows than these")
        try:
            trainer._restore(meta, arrays)
        except (ValueError, KeyError, TypeError, RuntimeError) as exc:
            raise FedscoreError(f"{path}: unreadable vertical training state ({exc})") from exc
        side = {k[5:]: v for k, v in arrays.items() if k.startswith("side.")}
        return trainer, dict(meta["extra"]), side

    def _restore(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        """Put a saved state's weights, moments, noise, accountant and counters back."""
        self.model.load_state_dict(
            {k[6:]: torch.from_numpy(v) for k, v in arrays.items() if k.startswith("model.")}
        )
        state = self.optimizer.state_dict()
        for name, value in arrays.items():
            if name.startswith("optimizer."):
                _, index, key = name.split(".", 2)
                state["state"].setdefault(int(index), {})[key] = torch.from_numpy(value)
        self.optimizer.load_state_dict(state)
        self.noise.set_state(torch.from_numpy(arrays["noise"]))
        restored = PartyAccountant.from_state_dict(meta["accountant"])
        self.accountant.history = restored.history
        self.accountant.non_private_steps = restored.non_private_steps
        self.step, self.last_message = int(meta["step"]), meta["last_message"]
