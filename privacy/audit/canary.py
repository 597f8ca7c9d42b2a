"""Empirical privacy audit in one training run (Steinke, Nasr & Jagielski, 2023).

m canary records are made; each is included in the training data independently
with probability 1/2. After training, the auditor scores every canary (how well
the model fits its label), guesses "included" for the k highest scores and
"excluded" for the k lowest, and counts correct guesses. Under (ε, 0)-DP each guess
is right with probability at most e^ε / (1 + e^ε), so observing many correct
guesses proves a lower bound on ε: the largest ε under which that many correct
guesses would still be improbable (p ≤ β).

A DP run's lower bound must stay at or below its claimed ε; a non-private control
must show clear leakage — so "noise silently off" is caught. The δ term of the
paper's (ε, δ) bound is left out: with δ ≤ 1e-5 and a few hundred guesses it moves
the bound by less than the grid step.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy.stats import binom

from fedscore.clients.training import LocalSchedule, train_locally
from fedscore.core.models import ModelSpec, build_model, predict_proba
from fedscore.core.runconfig import RunConfig
from fedscore.privacy.accounting import PartyAccountant
from fedscore.privacy.dp_sgd import DpSgd, LocalPrivacy, NoPrivacy


@dataclass(frozen=True)
class CanaryAudit:
    """Outcome of one audit run.

    Attributes:
        claimed_epsilon: what the accountant says the run spent (inf when non-private).
        lower_bound: the epsilon the guesses prove, at confidence 1 − beta.
        guesses, correct: how many canaries were guessed, how many rightly.
        canaries, included: canaries made, and how many were trained on.
        beta: the audit's significance level.
    """

    claimed_epsilon: float
    lower_bound: float
    guesses: int
    correct: int
    canaries: int
    included: int
    beta: float

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)


def epsilon_lower_bound(guesses: int, correct: int, beta: float = 0.05) -> float:
    """Largest ε with P[Binomial(guesses, e^ε/(1+e^ε)) ≥ correct] ≤ beta (0 if none)."""

    def tail(epsilon: float) -> float:
        p = math.exp(epsilon) / (1 + math.exp(epsilon))
        return float(binom.sf(correct - 1, guesses, p))

    if guesses == 0 or tail(0.0) > beta:
        return 0.0
    low, high = 0.0, 50.0
    if tail(high) <= beta:
        return high
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if tail(middle) <= beta else (low, middle)
    return low


def make_canaries(
    n: int, n_features: int, generator: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Isolated points in feature space with random labels: fit only when trained on."""
    features = generator.random((n, n_features)).astype(np.float32)
    labels = generator.integers(0, 2, n)
    return features, labels


def audit_recipe(epsilon: float = 1.0, delta: float = 1e-4) -> RunConfig:
    """The audited run: an MLP trained long enough that a non-private one memorizes canaries."""
    return RunConfig(
        model="mlp", rounds=200, learning_rate=0.3, batch_size=128, delta=delta, epsilon=epsilon
    )


def run_canary_audit(
    features: np.ndarray,
    labels: np.ndarray,
    run: RunConfig,
    canaries: int = 500,
    guesses: int = 200,
    beta: float = 0.05,
    seed: int = 0,
) -> CanaryAudit:
    """Train once with canaries mixed into `features`/`labels` and audit the result.

    Args:
        features: A party's encoded training rows (the canaries are added to them).
        labels: Their 0/1 labels (the canaries' labels are added to them).
        run: Model, epochs, privacy (run.private) and the target epsilon of the audited run.
        canaries: Canaries made (each included with probability 1/2).
        guesses: Guesses made: half "included" (highest scores), half "excluded" (lowest).
        beta: Significance level of the lower bound.
        seed: Seed of the canaries, of the guesses and of the batch sampling: the same
            seed gives the same verdict.
    """
    # One thread: multi-threaded float reductions change the trained model from run to
    # run, and an audit must give the same verdict for the same seed.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _audit(features, labels, run, canaries, guesses, beta, seed)
    finally:
        torch.set_num_threads(threads)


def _audit(
    features: np.ndarray,
    labels: np.ndarray,
    run: RunConfig,
    canaries: int,
    guesses: int,
    beta: float,
    seed: int,
) -> CanaryAudit:
    generator = np.random.default_rng(seed)
    canary_x, canary_y = make_canaries(canaries, features.shape[1], generator)
    included = generator.random(canaries) < 0.5
    train_x = np.vstack([features, canary_x[included]])
    train_y = np.concatenate([labels, canary_y[included]])
    schedule = LocalSchedule.for_party(run, len(train_y))
    accountant = PartyAccountant()
    privacy: LocalPrivacy
    if run.private:
        privacy_params = schedule.calibrated_mechanism(run)
    model = build_model(ModelSpec(run.model, features.shape[1], run.hidden, run.seed))
    sampling = torch.Generator().manual_seed(seed)
    for _ in range(run.rounds):
        privacy = DpSgd(privacy_params, accountant) if run.private else NoPrivacy(accountant)
        model, _ = train_locally(model, train_x, train_y, run, schedule, privacy, sampling)
    probability = predict_proba(model, canary_x)
    score = np.where(canary_y == 1, probability, 1 - probability)
    order = np.argsort(score)
    half = guesses // 2
    guessed_out, guessed_in = order[:half], order[-half:]
    correct = int(included[guessed_in].sum() + (~included[guessed_out]).sum())
    claimed = accountant.epsilon(schedule.delta, run.accountant)
    return CanaryAudit(
        claimed_epsilon=claimed,
        lower_bound=epsilon_lower_bound(2 * half, correct, beta),
        guesses=2 * half,
        correct=correct,
        canaries=canaries,
        included=int(included.sum()),
        beta=beta,
    )
