"""The steps of a vertical run: the same rows at both parties, no index list sent.

Both parties hold the shared rows in the same order (the private set intersection
aligned them) and derive a sampling seed from a secret they share. Step t's batch is a
Poisson sample of the rows (each independently with probability q, the sampling the
privacy accountants assume), drawn by `poisson_sample` from a generator seeded with
(seed, t) alone: each party computes any step's batch by itself, in any process, in
O(batch), and the two always agree. A message between them names the step, never rows.

The seed must stay secret to everyone but the two parties: the accountants' subsampling
amplification assumes that an observer of a party's model does not know which rows a
step used. (Each party does know: see `PartyTrainer.epsilon_known_batches`.)

A step's messages carry one value per row of its batch (the facilitator's u, the
bank's g): `peer_vector` checks one before anything uses it, and `message_digest`
recognises a repeated message, which is answered but never trained on twice.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from fedscore.core.errors import ConfigError
from fedscore.core.protocol.errors import MalformedMessage
from fedscore.privacy.poisson_sampling import poisson_sample

#: Bits of a sampling seed.
SEED_BITS = 256
#: One float per row of a batch: what the parties exchange.
Vector = npt.NDArray[np.float32]


def sampling_seed(shared_secret: bytes, context: bytes) -> int:
    """A run's sampling seed, derived from a secret both parties hold.

    HMAC-SHA256 keyed with the secret over the run's context: both parties get the same
    256-bit seed, nobody without the secret can predict it, and another context (another
    run) gets an unrelated seed from the same secret.

    Args:
        shared_secret: at least 16 bytes both parties hold and nobody else does (e.g.
            from the key agreement of their channel).
        context: what identifies the run (e.g. its id and the intersection's digest).

    Raises:
        ConfigError: the secret is shorter than 16 bytes.
    """
    if len(shared_secret) < 16:
        raise ConfigError("the shared secret of a sampling seed needs at least 16 bytes")
    digest = hmac.new(shared_secret, b"fedscore-vertical-batches/1\n" + context, hashlib.sha256)
    return int.from_bytes(digest.digest(), "big")


@dataclass(frozen=True)
class BatchSchedule:
    """Every step's batch of a run, from the shared seed.

    Attributes:
        seed: the run's sampling seed (`sampling_seed`), 0 ≤ seed < 2^256.
        rows: the number of shared rows, N.
        sample_rate: q, each row's probability of being in a step's batch.
        steps: the steps of the run; step t exists for 0 ≤ t < steps.
    """

    seed: int
    rows: int
    sample_rate: float
    steps: int

    def __post_init__(self) -> None:
        if not 0 <= self.seed < 2**SEED_BITS:
            raise ConfigError(f"a sampling seed is an integer in [0, 2^{SEED_BITS})")
        if self.rows < 1 or self.steps < 1 or not 0 < self.sample_rate <= 1:
            raise ConfigError("a batch schedule needs rows ≥ 1, steps ≥ 1, 0 < rate ≤ 1")

    def batch(self, step: int) -> npt.NDArray[np.int64]:
        """The rows of step `step`: distinct, increasing (possibly none).

        Args:
            step: the step, 0 ≤ step < `steps`.

        Raises:
            ConfigError: the run has no such step.
        """
        if not 0 <= step < self.steps:
            raise ConfigError(f"step {step} is not a step of this run (0..{self.steps - 1})")
        words = [(self.seed >> (32 * i)) & 0xFFFFFFFF for i in range(SEED_BITS // 32)]
        generator = np.random.default_rng(np.random.SeedSequence(words, spawn_key=(step,)))
        return poisson_sample(self.rows, self.sample_rate, generator)


def peer_vector(values: object, rows: int, kind: str, key: str, bound: float | None) -> Vector:
    """A per-row vector received from the other party, checked before anything uses it.

    Args:
        values: the message's array.
        rows: the length it must have (the step's batch).
        kind: the message kind, for errors ("contributions").
        key: the array's name in the message, for errors.
        bound: the largest magnitude an honest peer sends (None: any finite value).

    Raises:
        MalformedMessage: not a 1-D float array of `rows` finite values within `bound`.
    """
    array = np.asarray(values)
    if array.ndim != 1 or array.dtype.kind != "f":
        raise MalformedMessage(kind, key, "must be a one-dimensional float array")
    if len(array) != rows:
        raise MalformedMessage(kind, key, f"has {len(array)} values for a batch of {rows} rows")
    vector = np.ascontiguousarray(array, dtype=np.float32)
    if not np.isfinite(vector).all():
        raise MalformedMessage(kind, key, "holds NaN or infinite values")
    if bound is not None and len(vector) and float(np.abs(vector).max()) > bound:
        raise MalformedMessage(kind, key, f"holds values beyond ±{bound:.6g}")
    return vector


def digest(array: npt.NDArray[Any]) -> str:
    """sha256 of an array's shape, dtype and bytes."""
    header = f"{array.dtype.str}{array.shape}".encode()
    return hashlib.sha256(header + np.ascontiguousarray(array).tobytes()).hexdigest()


def message_digest(step: int, values: npt.ArrayLike) -> str:
    """Identifies a message (its step and array), to recognise a repeat of it."""
    return f"{step}:{digest(np.asarray(values))}"
