"""The automatic rule: DP-SGD settings for a party from public quantities only.

Inputs: the party's training rows N (each node reports it to the coordinator as its
update's weight, so the choice discloses nothing new, and it is made at the node), the
run's ε, δ (`RunConfig.delta_for(N)`), rounds and model. No record is looked at, so the
choice costs no privacy.

Why it works: with Poisson sampling at rate q in the regime where sampling amplifies
privacy, the noise multiplier σ a run of T steps needs grows like q·√(2·T·ln(1/δ))/ε,
so the noise on one step's averaged gradient, relative to the clipping bound,

    ρ = σ / (q·N) ≈ √(2·T·ln(1/δ)) / (ε·N),

does not depend on the batch size, only on N and the number of steps T. Hence:

1. sampling rate q = min(0.2, 2048 / N): a batch large enough to stay in the
   amplification regime (σ/q is flat above q ≈ 0.1) yet at least five batches per
   pass; at most 2,048 rows per step, so a large party does not spend compute for
   nothing;
2. local steps per round s: the most, from 10 down to 4, that keep ρ at most
   `noise_target`; a small party gets fewer steps, each less noisy, a large one 10;
3. learning rate = step_length / C, shortened by noise_target / ρ when ρ is above the
   target (a noisy step should move the weights less); C from the model's profile.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from fedscore.core.runconfig import RunConfig
from fedscore.privacy.auto_settings.profiles import profile_for


@dataclass(frozen=True)
class AutoRule:
    """The rule's constants (see the module for why).

    Attributes:
        max_sample_rate: the largest Poisson sampling rate q.
        max_batch: the largest expected batch (rows per step).
        max_steps: local steps per round when the noise allows.
        min_steps: local steps per round however noisy each step is.
        noise_target: the per-step noise ρ = σ/(q·N) aimed at (relative to C).
    """

    max_sample_rate: float = 0.2
    max_batch: int = 2048
    max_steps: int = 10
    min_steps: int = 4
    noise_target: float = 0.038

    def step_noise(self, run: RunConfig, n_records: int, steps_per_round: int) -> float:
        """ρ, the noise on one averaged gradient relative to C (0 without privacy)."""
        if not run.private:
            return 0.0
        total = run.rounds * steps_per_round
        log_delta = math.log(1.0 / run.delta_for(n_records))
        return math.sqrt(2.0 * total * log_delta) / (run.epsilon * max(n_records, 1))

    def choose(self, run: RunConfig, n_records: int) -> DpSettings:
        """The settings of a party of `n_records` training rows in `run`."""
        n = max(n_records, 1)
        batch = max(1, min(round(self.max_sample_rate * n), self.max_batch))
        steps = next(
            (
                s
                for s in range(self.max_steps, self.min_steps - 1, -1)
                if self.step_noise(run, n, s) <= self.noise_target
            ),
            self.min_steps,
        )
        noise = self.step_noise(run, n, steps)
        shortening = min(1.0, self.noise_target / noise) if noise > 0 else 1.0
        profile = profile_for(run.model)
        learning_rate = profile.step_length * shortening / profile.max_grad_norm
        reason = (
            f"N={n}: batch {batch} (sample rate {batch / n:.3g}), {steps} steps per round, "
            f"per-step noise {noise:.3g} of C (target {self.noise_target:g})"
            + (f", learning rate shortened ×{shortening:.2f}" if shortening < 1 else "")
        )
        return DpSettings(batch, batch / n, steps, learning_rate, profile.max_grad_norm, reason)


@dataclass(frozen=True)
class DpSettings:
    """What the rule chose for one party.

    Attributes:
        batch_size: expected Poisson batch (rows per step).
        sample_rate: batch_size / N.
        steps_per_round: DP-SGD steps per round.
        learning_rate: local SGD step size.
        max_grad_norm: per-sample clipping bound.
        reason: one line saying why.
    """

    batch_size: int
    sample_rate: float
    steps_per_round: int
    learning_rate: float
    max_grad_norm: float
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """The settings as JSON-ready values."""
        return asdict(self)


def choose_settings(run: RunConfig, n_records: int, rule: AutoRule | None = None) -> DpSettings:
    """The automatic settings of a party of `n_records` training rows (the default rule)."""
    return (rule or AutoRule()).choose(run, n_records)
