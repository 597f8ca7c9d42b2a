"""Poisson sampling in O(batch): the distribution the accountants assume, and its cost.

Every statistical check runs on a fixed seed, so it is deterministic; its bound is wide
enough (≥ 5 standard errors, or a 1e-6 chi-square quantile) that a correct sampler
passes for virtually any seed, and narrow enough to catch a biased one.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
import torch
from scipy import stats

from fedscore.clients.training import sampling_rng
from fedscore.privacy.poisson_sampling import poisson_sample


def _draws(population: int, q: float, n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [poisson_sample(population, q, rng) for _ in range(n)]


@pytest.mark.parametrize(("population", "q"), [(50, 0.3), (100_000, 0.005), (10**9, 1e-6)])
def test_indices_are_distinct_sorted_and_in_range(population, q):
    for batch in _draws(population, q, 200):
        assert batch.dtype == np.int64
        assert np.all(np.diff(batch) > 0)  # strictly increasing: distinct
        assert batch.size == 0 or (batch[0] >= 0 and batch[-1] < population)


@pytest.mark.parametrize(("population", "q"), [(100_000, 0.005), (2_000, 0.4), (50, 0.1)])
def test_batch_size_is_binomial(population, q):
    draws = 10_000
    sizes = np.array([b.size for b in _draws(population, q, draws, seed=1)])
    mean, var = population * q, population * q * (1 - q)
    assert abs(sizes.mean() - mean) < 5 * np.sqrt(var / draws)
    # The sample variance's standard error, ≈ σ²·sqrt(2 / n) for a near-normal law.
    assert abs(sizes.var(ddof=1) - var) < 5 * var * np.sqrt(2 / draws)


def test_batch_size_pmf_fits_the_binomial():
    population, q, draws = 50, 0.1, 20_000
    sizes = np.array([b.size for b in _draws(population, q, draws, seed=2)])
    observed = np.bincount(sizes, minlength=population + 1)
    expected = stats.binom.pmf(np.arange(population + 1), population, q) * draws
    # Pool the sparse tail so every cell expects at least 5 draws.
    keep = expected >= 5
    cells_obs = [*observed[keep], observed[~keep].sum()]
    cells_exp = [*expected[keep], expected[~keep].sum()]
    chi2 = sum((o - e) ** 2 / e for o, e in zip(cells_obs, cells_exp, strict=True))
    assert chi2 < stats.chi2.ppf(1 - 1e-6, len(cells_obs) - 1)


@pytest.mark.parametrize(("population", "q", "draws"), [(50, 0.1, 20_000), (20_000, 0.002, 20_000)])
def test_each_record_is_included_with_probability_q(population, q, draws):
    counts = np.zeros(population)
    for batch in _draws(population, q, draws, seed=3):
        counts[batch] += 1
    # Under Poisson sampling the counts are independent Binomial(draws, q).
    expected, var = draws * q, draws * q * (1 - q)
    chi2 = ((counts - expected) ** 2 / var).sum()
    assert chi2 < stats.chi2.ppf(1 - 1e-6, population)
    assert chi2 > stats.chi2.ppf(1e-6, population)  # not suspiciously even either
    if population <= 1_000:
        assert np.all(np.abs(counts - expected) < 5.5 * np.sqrt(var))


def test_records_are_included_independently():
    population, q, draws = 20, 0.3, 20_000
    together = np.zeros((population, population))
    for batch in _draws(population, q, draws, seed=4):
        mask = np.zeros(population)
        mask[batch] = 1
        together += np.outer(mask, mask)
    pairs = together[~np.eye(population, dtype=bool)] / draws
    # Each pair is in a batch with probability q² (0.09), no pair more or less than the
    # others; a fixed batch of N·q (6) would give 6·5 / (20·19) ≈ 0.079 to every pair.
    assert abs(pairs.mean() - q**2) < 0.005
    assert np.all(np.abs(pairs - q**2) < 6 * np.sqrt(q**2 * (1 - q**2) / draws))


def test_deterministic_for_a_seed():
    a = _draws(100_000, 0.005, 20, seed=7)
    b = _draws(100_000, 0.005, 20, seed=7)
    c = _draws(100_000, 0.005, 20, seed=8)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_training_sampler_follows_the_torch_seed():
    def batches(seed: int) -> list[np.ndarray]:
        torch_generator = torch.Generator().manual_seed(seed)
        rounds = [sampling_rng(torch_generator) for _ in range(2)]
        return [poisson_sample(10_000, 0.05, rng) for rng in rounds]

    first, again, other = batches(11), batches(11), batches(12)
    assert all(np.array_equal(x, y) for x, y in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])
    assert not np.array_equal(first[0], first[1])  # each round draws fresh batches


def test_empty_batches():
    rng = np.random.default_rng(0)
    for population, q in [(1_000, 0.0), (0, 0.5), (0, 1.0), (100, 1e-12)]:
        batch = poisson_sample(population, q, rng)
        assert batch.shape == (0,) and batch.dtype == np.int64


def test_full_batch_at_rate_one():
    rng = np.random.default_rng(0)
    for population in (1, 50, 100_000):
        np.testing.assert_array_equal(
            poisson_sample(population, 1.0, rng), np.arange(population, dtype=np.int64)
        )


@pytest.mark.parametrize(("population", "q"), [(-1, 0.1), (10, -0.1), (10, 1.5), (10, np.nan)])
def test_rejects_invalid_arguments(population, q):
    with pytest.raises(ValueError):
        poisson_sample(population, q, np.random.default_rng(0))


def test_cost_does_not_grow_with_the_population():
    # An O(N) sampler would need terabytes here; an O(batch) one returns at once.
    rng = np.random.default_rng(5)
    population = 10**12
    sizes = []
    for _ in range(20):
        batch = poisson_sample(population, 1e-9, rng)
        assert np.all(np.diff(batch) > 0) and batch[0] >= 0 and batch[-1] < population
        sizes.append(batch.size)
    assert abs(np.mean(sizes) - 1_000) < 5 * np.sqrt(1_000 / 20)


def test_memory_is_proportional_to_the_batch():
    population, q = 10_000_000, 5e-5  # batches of ~500 among 10M records
    rng = np.random.default_rng(6)
    poisson_sample(population, q, rng)
    tracemalloc.start()
    try:
        for _ in range(10):
            poisson_sample(population, q, rng)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # numpy reports its buffers to tracemalloc; one int64 array of N would be 80 MB.
    assert peak < 200_000
