"""Poisson sampling of DP-SGD batches in O(batch) per step, not O(records).

The privacy accountants (RDP, PRV) assume Poisson sampling: at every step each of the
N records is in the batch independently with probability q. Drawing one uniform number
per record and comparing it with q realises that directly, but costs O(N) time and
memory per step, so O(N²/batch) per epoch. `poisson_sample` draws the same distribution
in two stages instead:

1. the batch size K ~ Binomial(N, q);
2. given K = k, a subset of k distinct records, uniformly among all C(N, k) subsets.

Why the distribution is exactly the same: under independent inclusion a given subset
S of size k has probability q^k (1 − q)^(N − k), which depends on S only through k.
So the number of included records is Binomial(N, q), and conditional on it being k
every k-subset is equally likely, (C(N, k) q^k (1 − q)^(N − k)) / C(N, k) for each.
The two-stage draw gives every subset S the same probability:
P(K = |S|) / C(N, |S|) = q^|S| (1 − q)^(N − |S|). In particular each record is
included with probability q, independently of the others.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def poisson_sample(
    population: int, sample_rate: float, generator: np.random.Generator
) -> npt.NDArray[np.int64]:
    """One Poisson-sampled batch: each of N records in it independently with probability q.

    The distribution is exactly that of keeping record i when U_i < q for N independent
    uniforms U_i: the batch size k is drawn as Binomial(N, q), then k distinct indices
    uniformly among the N with numpy's `Generator.choice(N, k, replace=False,
    shuffle=False)`. See the module docstring for why both stages together are the same
    distribution.

    Complexity: O(k log k) time and O(k) memory for a batch of k records, independent
    of N (the final sort dominates; the draw itself is O(k)). numpy draws the k indices
    with Floyd's algorithm and a hash set of under 2.4 k entries whenever k ≤ N / 20
    (always, at DP-SGD's sample rates) or N ≤ 10,000; only for a batch above a
    twentieth of N does it shuffle the tail of an index array of N, which is then
    O(20 k). tests/test_poisson_sampling.py holds numpy to this (N = 10^12 must work).

    Args:
        population: N, the number of records (≥ 0).
        sample_rate: q, each record's probability of being in the batch (0 ≤ q ≤ 1).
        generator: The source of randomness; the batch is a function of its state.

    Returns:
        The batch's record indices, distinct, in increasing order (int64; may be empty).

    Raises:
        ValueError: a negative population or a sample rate outside [0, 1].
    """
    if population < 0:
        raise ValueError(f"population must be ≥ 0, got {population}")
    if not 0.0 <= sample_rate <= 1.0:
        raise ValueError(f"sample_rate must be in [0, 1], got {sample_rate}")
    size = int(generator.binomial(population, sample_rate))
    if size == 0:
        return np.empty(0, dtype=np.int64)
    chosen = generator.choice(population, size=size, replace=False, shuffle=False)
    indices: npt.NDArray[np.int64] = np.sort(np.asarray(chosen, dtype=np.int64))
    return indices
