"""Permutation p-values of M against exact enumeration and a direct per-gene null."""

from __future__ import annotations

import itertools
import logging

import numpy as np
import pytest

from omicsflow.survival.logrank import logrank_scores, maxstat_scan, standardisation
from omicsflow.survival.permutation import permutation_null, permutation_pvalues


def exact_p(x: np.ndarray, scores: np.ndarray, m_low: int, m_high: int, observed: float):
    """P(M ≥ observed) over all N! assignments of the scores to the samples, by brute force."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    n = x.size
    m = np.arange(m_low, m_high + 1)
    candidate = sorted_x[m - 1] < sorted_x[m]
    _, expectation, sd = standardisation(scores, m_low, m_high)
    exceed = total = 0
    for permuted in itertools.permutations(scores):
        partial = np.cumsum(permuted)[m - 1]
        statistic = np.max((np.abs(partial - expectation) / sd)[candidate])
        exceed += statistic >= observed - 1e-9
        total += 1
    assert total == np.prod(np.arange(1, n + 1))
    return exceed / total


@pytest.fixture
def tiny():
    time = np.array([2.0, 3.0, 3.0, 5.0, 7.0, 8.0, 11.0, 12.0])
    event = np.array([1, 1, 0, 1, 0, 1, 1, 0])
    x = np.array(
        [
            [0.3, 1.0],
            [0.1, 1.0],
            [0.9, 2.0],
            [0.5, 3.0],
            [0.7, 3.0],
            [0.2, 3.0],
            [0.8, 4.0],
            [0.6, 5.0],
        ]
    )  # gene 0 untied, gene 1 tied
    return time, event, x


def test_monte_carlo_matches_exact_enumeration(tiny):
    time, event, x = tiny
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores, min_prop=0.1, max_prop=0.9)
    assert scan.tie_free.tolist() == [True, False]
    null = permutation_null(
        scores, m_low=scan.m_low, m_high=scan.m_high, n_permutations=40_000, seed=3
    )
    p = permutation_pvalues(null, scan)
    for gene in range(2):
        exact = exact_p(x[:, gene], scores, scan.m_low, scan.m_high, scan.statistic[gene])
        assert 0.02 < exact < 0.98
        assert p[gene] == pytest.approx(exact, abs=4 * np.sqrt(exact * (1 - exact) / 40_000))


def test_tied_genes_equal_a_direct_maximum_over_their_candidates():
    rng = np.random.default_rng(8)
    n = 90
    time = rng.exponential(size=n)
    event = (rng.uniform(size=n) < 0.7).astype(int)
    x = np.round(rng.normal(size=(n, 30)), 1)  # many tie patterns
    x[:, :5] = rng.normal(size=(n, 5))  # untied
    x[:, 5] = x[:, 6]  # two genes sharing one pattern
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores)
    null = permutation_null(scores, m_low=scan.m_low, m_high=scan.m_high, n_permutations=2000)
    p = permutation_pvalues(null, scan)
    for gene in range(x.shape[1]):
        mask = scan.candidate_mask(gene)
        direct = null.z[:, mask].max(axis=1)
        count = np.sum(direct >= scan.statistic[gene] * (1 - 1e-9))
        assert p[gene] == (1 + count) / 2001, gene
    assert p[5] == p[6]


def test_replicates_of_the_statistic_share_the_null(tiny):
    time, event, x = tiny
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores)
    null = permutation_null(scores, m_low=scan.m_low, m_high=scan.m_high, n_permutations=500)
    stacked = np.vstack([scan.statistic, scan.statistic + 0.3, np.full(2, np.nan)])
    p = permutation_pvalues(null, scan, stacked)
    np.testing.assert_array_equal(p[0], permutation_pvalues(null, scan))
    assert (p[1] <= p[0]).all() and np.isnan(p[2]).all()


def test_seeded_and_reproducible(tiny):
    time, event, x = tiny
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores)
    first = permutation_null(scores, m_low=scan.m_low, m_high=scan.m_high, seed=[1, 2])
    again = permutation_null(scores, m_low=scan.m_low, m_high=scan.m_high, seed=[1, 2])
    other = permutation_null(scores, m_low=scan.m_low, m_high=scan.m_high, seed=[1, 3])
    np.testing.assert_array_equal(first.z, again.z)
    assert not np.array_equal(first.z, other.z)


def test_cap_on_tie_patterns(caplog):
    rng = np.random.default_rng(2)
    n = 60
    time = rng.exponential(size=n)
    event = np.ones(n, dtype=int)
    x = np.round(rng.normal(size=(n, 6)), 1)
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores)
    null = permutation_null(scores, m_low=scan.m_low, m_high=scan.m_high, n_permutations=200)
    caplog.set_level(logging.WARNING)
    p = permutation_pvalues(null, scan, max_tie_patterns=2)
    assert np.isnan(p).sum() == 4 and "beyond the cap of 2" in caplog.text
    # The two most significant genes are the ones kept.
    kept = np.flatnonzero(~np.isnan(p))
    assert set(kept) == set(np.argsort(-scan.statistic)[:2])


def test_errors(tiny):
    time, event, x = tiny
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores)
    with pytest.raises(ValueError, match="at least 1"):
        permutation_null(scores, m_low=1, m_high=7, n_permutations=0)
    null = permutation_null(scores, m_low=2, m_high=6, n_permutations=10)
    with pytest.raises(ValueError, match="different candidate ranges"):
        permutation_pvalues(null, scan)
