"""Maximally selected log-rank statistics against direct definitions and lifelines."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from scipy import integrate, stats

from omicsflow.survival.cutpoint import (
    benjamini_hochberg,
    p_lausen92,
    p_lausen94,
    scan_cutpoints,
)
from omicsflow.survival.logrank import candidate_range, logrank_scores, maxstat_scan

# lifelines stops Newton-Raphson at a step norm of 1e-7 by default, which leaves its Efron
# estimate ~3e-5 from the maximum with heavily tied times (checked by brute force); ask it to
# converge fully so the comparison tests our estimator, not lifelines' stopping rule.
TIGHT = {"precision": 1e-12, "r_precision": 1e-14, "step_size": 0.5}


def direct_scores(time: np.ndarray, event: np.ndarray) -> np.ndarray:
    """a_i = δ_i − Σ_{j: r_j ≤ r_i} δ_j/(N − r_j + 1), r = rank(time, ties='max'), O(N²)."""
    n = time.size
    rank = np.array([np.sum(time <= t) for t in time])  # ties = "max"
    return np.array(
        [
            event[i] - sum(event[j] / (n - rank[j] + 1) for j in range(n) if rank[j] <= rank[i])
            for i in range(n)
        ]
    )


def direct_statistics(x: np.ndarray, scores: np.ndarray, min_prop: float, max_prop: float):
    """|S_m − E_m|/√V_m at every distinct cutpoint in range, straight from the definition."""
    n = x.size
    total, total_sq = scores.sum(), (scores**2).sum()
    out = {}
    for cut in np.unique(x):
        low = x <= cut
        m = int(low.sum())
        if not (np.floor(min_prop * n) <= m <= np.floor(max_prop * n)) or m == n:
            continue
        s = scores[low].sum()
        e = m / n * total
        v = m * (n - m) / (n**2 * (n - 1)) * (n * total_sq - total**2)
        out[cut] = (abs(s - e) / np.sqrt(v), m, s - e)
    return out


@pytest.fixture
def scan_data():
    rng = np.random.default_rng(11)
    n = 60
    time = np.round(rng.exponential(5, n)) + 1  # ties
    event = (rng.uniform(size=n) < 0.6).astype(float)
    x = np.round(rng.normal(size=(n, 5)), 1)  # tied expression values
    x[:, 0] = rng.normal(size=n)  # one gene without ties
    return time, event, x


def test_scores_match_direct_definition(scan_data):
    time, event, _ = scan_data
    np.testing.assert_allclose(logrank_scores(time, event), direct_scores(time, event), atol=1e-12)
    # As exactRankTests::cscores.Surv: the scores sum to zero only without tied times.
    distinct = time + np.arange(time.size) * 1e-3
    assert logrank_scores(distinct, event).sum() == pytest.approx(0.0, abs=1e-10)


def test_scan_matches_direct_maximum(scan_data):
    time, event, x = scan_data
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores, min_prop=0.1, max_prop=0.9, block_size=2)
    for gene in range(x.shape[1]):
        direct = direct_statistics(x[:, gene], scores, 0.1, 0.9)
        best_cut = max(direct, key=lambda cut: direct[cut][0])
        assert scan.statistic[gene] == pytest.approx(direct[best_cut][0], rel=1e-12)
        assert scan.cutpoint[gene] == best_cut
        assert scan.n_low[gene] == direct[best_cut][1]
        assert scan.deviation[gene] == pytest.approx(direct[best_cut][2], rel=1e-12)
        assert scan.n_candidates[gene] == len(direct)


def test_lausen94_sums_and_formula(scan_data):
    time, event, x = scan_data
    n = time.size
    scan = maxstat_scan(x, logrank_scores(time, event))
    for gene in range(x.shape[1]):
        m_values = sorted(
            v[1]
            for v in direct_statistics(x[:, gene], logrank_scores(time, event), 0.1, 0.9).values()
        )
        t = [
            np.sqrt(1 - m1 * (n - m2) / ((n - m1) * m2)) for m1, m2 in itertools.pairwise(m_values)
        ]
        assert scan.t_sum[gene] == pytest.approx(sum(t), rel=1e-12)
        assert scan.t3_sum[gene] == pytest.approx(sum(v**3 for v in t), rel=1e-12)
        m = scan.statistic[gene]
        expected = (
            1
            - (stats.norm.cdf(m) - stats.norm.cdf(-m))
            + sum(1 / np.pi * np.exp(-(m**2) / 2) * (tk - (m**2 / 4 - 1) * tk**3 / 6) for tk in t)
        )
        assert p_lausen94(np.array([m]), np.array([sum(t)]), np.array([sum(v**3 for v in t)]))[
            0
        ] == pytest.approx(min(1.0, max(0.0, expected)), rel=1e-12)


def test_lausen92_formula_numerically():
    m = np.array([0.5, 2.0, 3.0, 4.5])
    eps1, eps2 = 0.1, 0.9
    phi = stats.norm.pdf(m)
    # The log term is ∫ dt / (t(1 − t)) over [ε₁, ε₂]: check it by quadrature.
    integral, _ = integrate.quad(lambda t: 1 / (t * (1 - t)), eps1, eps2)
    expected = np.minimum(1.0, 4 * phi / m + phi * (m - 1 / m) * integral)
    expected[m < 1] = 1.0
    np.testing.assert_allclose(p_lausen92(m, eps1, eps2), expected, rtol=1e-10)


def test_benjamini_hochberg_matches_scipy():
    p = np.random.default_rng(3).uniform(size=200) ** 3
    np.testing.assert_allclose(benjamini_hochberg(p), stats.false_discovery_control(p), atol=1e-14)
    with_nan = np.r_[p[:5], np.nan]
    assert np.isnan(benjamini_hochberg(with_nan)[-1])


def test_candidate_range():
    assert candidate_range(100, 0.1, 0.9) == (10, 90)
    with pytest.raises(ValueError, match="min_prop < max_prop"):
        candidate_range(100, 0.9, 0.1)


def test_scan_cutpoints_table_matches_lifelines(scan_data):
    time, event, x = scan_data
    frame = pd.DataFrame(x, columns=[f"g{i}" for i in range(x.shape[1])])
    table = scan_cutpoints(frame, time, event)
    assert list(table["p_value"]) == sorted(table["p_value"])
    for row in table.itertuples():
        high = frame[row.gene].to_numpy() > row.cutpoint
        ref = lifelines_logrank(time[high], time[~high], event[high], event[~high])
        assert row.logrank_chi2 == pytest.approx(ref.test_statistic, rel=1e-8)
        assert row.logrank_p == pytest.approx(ref.p_value, rel=1e-8)
        cox = CoxPHFitter().fit(
            pd.DataFrame({"high": high.astype(float), "t": time, "e": event}),
            "t",
            "e",
            fit_options=TIGHT,
        )
        assert row.hazard_ratio == pytest.approx(np.exp(cox.params_["high"]), rel=1e-6)
        assert row.n_low == (~high).sum() and row.events_high == event[high].sum()
        assert row.cutpoint_percentile == pytest.approx(row.n_low / time.size)


def test_direction_follows_planted_effect():
    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(size=(n, 2))
    hazard = np.exp(1.5 * (x[:, 0] > 0) - 1.5 * (x[:, 1] > 0))
    time = rng.exponential(1 / hazard)
    event = np.ones(n)
    table = scan_cutpoints(pd.DataFrame(x, columns=["up", "down"]), time, event).set_index("gene")
    assert table.loc["up", "direction"] == "high_risk_above"
    assert table.loc["down", "direction"] == "high_risk_below"
    assert table.loc["up", "hazard_ratio"] > 2 and table.loc["down", "hazard_ratio"] < 0.5
    assert abs(table.loc["up", "cutpoint"]) < 0.3


def test_scan_rejects_missing_values():
    frame = pd.DataFrame({"g": [1.0, np.nan, 2.0, 3.0]})
    with pytest.raises(ValueError, match="impute missing values first"):
        scan_cutpoints(frame, np.array([1.0, 2, 3, 4]), np.array([1, 0, 1, 1]))
