"""Calibrating DP-SGD noise once for a whole run."""

from __future__ import annotations

from opacus.accountants.utils import get_noise_multiplier

from fedscore.core.errors import ConfigError
from fedscore.privacy.accounting.accountant import accountant_options


def calibrate_noise(
    target_epsilon: float, delta: float, sample_rate: float, total_steps: int, accountant: str
) -> float:
    """Noise multiplier making `total_steps` Poisson-sampled steps (target_epsilon, delta)-DP.

    Args:
        target_epsilon: Epsilon the whole run may spend (rounds × local epochs × steps per epoch).
        delta: The DP delta.
        sample_rate: Poisson sampling probability of each record per step.
        total_steps: Every step the run will take at this party.
        accountant: "rdp" or "prv": the accountant the target is met under.
    """
    try:
        return float(
            get_noise_multiplier(
                target_epsilon=target_epsilon,
                target_delta=delta,
                sample_rate=sample_rate,
                steps=total_steps,
                accountant=accountant,
                epsilon_tolerance=0.005,
                **accountant_options(accountant),
            )
        )
    except ValueError as exc:
        raise ConfigError(
            f"cannot reach epsilon {target_epsilon} at delta {delta} with {total_steps} steps "
            f"at sample rate {sample_rate:.4g}: {exc}; raise epsilon or lower rounds/epochs"
        ) from exc
