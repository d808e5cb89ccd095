"""Maximally selected log-rank statistics against direct definitions and lifelines."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter
from lifelines.statistics import logrank_test as lifelines_logrank
from scipy import integrate, special, stats

from omicsflow.survival.cutpoint import (
    CUTPOINT_COLUMNS,
    benjamini_hochberg,
    p_lausen92,
    p_lausen94,
    reference_cutpoints,
    scan_cutpoints,
)
from omicsflow.survival.logrank import (
    candidate_range,
    genes_by_row,
    logrank_scores,
    maxstat_profile,
    maxstat_scan,
)
from omicsflow.toy import ToyDesign, make_toy_cohorts

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


# ---------------------------------------------------------------- Lausen–Schumacher, independently
def r_plausen94(b: float, n: int, minprop: float = 0.1, maxprop: float = 0.9, m=None) -> float:
    """Transcription of R maxstat's ``pLausen94`` (maxstat/R/maxstat.R), line by line.

    ``if(is.null(m)) m <- floor(N*minprop):floor(N*maxprop)``; ``length(m) <= 1`` gives D = 0.
    R does not cap the result at 1; the issue asks us to.
    """
    if m is None:
        m = list(range(math.floor(n * minprop), math.floor(n * maxprop) + 1))
    m = [float(v) for v in m]
    d = 0.0
    if len(m) > 1:
        # m1 <- m[1:(length(m)-1)]; m2 <- m[2:length(m)]
        for m1, m2 in itertools.pairwise(m):
            t = math.sqrt(1 - m1 * (n - m2) / ((n - m1) * m2))
            d += 1 / math.pi * math.exp(-(b**2) / 2) * (t - (b**2 / 4 - 1) * (t**3) / 6)
    pnorm = stats.norm.cdf
    return 1 - (pnorm(b) - pnorm(-b)) + d


def r_plausen92(b: float, minprop: float = 0.1, maxprop: float = 0.9) -> float:
    """Transcription of R maxstat's ``pLausen92`` (with Schell's ``b < 1`` correction).

    ``db <- dnorm(b)``, written here with :mod:`math` rather than scipy; R does not cap at 1.
    """
    if b < 1:
        return 1.0
    db = math.exp(-b * b / 2) / math.sqrt(2 * math.pi)
    p = 4 * db / b + db * (b - 1 / b) * math.log(
        (maxprop * (1 - minprop)) / ((1 - maxprop) * minprop)
    )
    return max(p, 0.0)


def test_lausen_pvalues_match_r_maxstat_transcriptions():
    rng = np.random.default_rng(17)
    n = 80
    x = np.round(rng.normal(size=(n, 6)), 1)  # tied expression values
    x[:, 0] = rng.normal(size=n)  # one gene without ties
    hazard = np.exp(1.2 * (x[:, 0] > 0.3) - 0.9 * (x[:, 1] > -0.2) + 0.7 * (x[:, 2] > 0.5))
    time = np.round(rng.exponential(3 / hazard), 1) + 0.1  # tied times
    event = (rng.uniform(size=n) < 0.75).astype(float)
    frame = pd.DataFrame(x, columns=[f"g{i}" for i in range(x.shape[1])])
    table = scan_cutpoints(frame, time, event).set_index("gene")
    scores = logrank_scores(time, event)
    for gene in range(x.shape[1]):
        row = table.loc[f"g{gene}"]
        # maxstat passes the group sizes of the candidate cutpoints as m (ties leave gaps).
        sizes = sorted(v[1] for v in direct_statistics(x[:, gene], scores, 0.1, 0.9).values())
        expected = r_plausen94(row.statistic, n, 0.1, 0.9, m=sizes)
        assert row.p_value == pytest.approx(min(1.0, expected), rel=1e-12)
        assert row.p_lau92 == pytest.approx(min(1.0, r_plausen92(row.statistic)), rel=1e-12)
    # Not only capped values: the planted genes have p-values well inside (0, 1).
    assert ((table["p_value"] < 0.5) & (table["p_lau92"] < 0.5)).sum() >= 3
    # The tie-free gene uses R's default grid floor(N·minprop):floor(N·maxprop).
    untied = table.loc["g0"]
    assert untied.p_value < 0.01
    assert untied.p_value == pytest.approx(r_plausen94(untied.statistic, n), rel=1e-12)
    for b in (0.5, 0.999, 1.0, 1.5, 2.5, 3.3, 5.0, 9.0):
        assert p_lausen92(np.array([b]), 0.1, 0.9)[0] == pytest.approx(
            min(1.0, r_plausen92(b)), rel=1e-12
        )
        assert p_lausen92(np.array([b]), 0.2, 0.7)[0] == pytest.approx(
            min(1.0, r_plausen92(b, 0.2, 0.7)), rel=1e-12
        )


def _untied_scan(n: int, seed: int):
    """A scan of one tie-free gene (its t sums are those of every consecutive m in range)."""
    rng = np.random.default_rng(seed)
    time, event = rng.exponential(size=n), (rng.uniform(size=n) < 0.7).astype(float)
    return maxstat_scan(rng.normal(size=(n, 1)), logrank_scores(time, event))


def _standardised_bridge_grid(n: int) -> np.ndarray:
    return np.arange(math.floor(0.1 * n), math.floor(0.9 * n) + 1, dtype=np.float64)


def test_lausen94_is_the_improved_bonferroni_bound_evaluated_exactly():
    """Lau94 = P(|Z_1| > b) + Σ_k P(|Z_k| ≤ b < |Z_{k+1}|), each term expanded to O(t_k³).

    Z_k is the standardised statistic at group size m_k: standard normal with
    corr(Z_k, Z_{k+1}) = ρ_k = √(m_k(N − m_{k+1}) / (m_{k+1}(N − m_k))). The bivariate terms are
    evaluated here exactly with Owen's T: P(X > b, Y > b) = Φ̄(b) − 2T(b, √((1 − ρ)/(1 + ρ))).
    """
    n = 200
    scan = _untied_scan(n, seed=21)
    m = _standardised_bridge_grid(n)
    rho = np.sqrt(m[:-1] * (n - m[1:]) / (m[1:] * (n - m[:-1])))
    for b in (2.5, 3.0, 3.5, 4.0):
        tail = stats.norm.sf(b)
        same = tail - 2 * special.owens_t(b, np.sqrt((1 - rho) / (1 + rho)))
        opposite = tail - 2 * special.owens_t(b, np.sqrt((1 + rho) / (1 - rho)))
        both = 2 * (same + opposite)  # P(|Z_k| > b, |Z_{k+1}| > b)
        bound = 2 * tail + np.sum(2 * tail - both)
        p = p_lausen94(np.array([b]), scan.t_sum, scan.t3_sum)[0]
        assert p == pytest.approx(bound, rel=1e-4), b
        # The t³ term matters at this precision: the first-order sum alone is off by > 0.2%.
        first_order = 2 * tail + np.exp(-(b**2) / 2) / np.pi * scan.t_sum[0]
        assert abs(first_order - bound) > 2e-3 * bound


def test_lausen94_bounds_the_gaussian_process_tail():
    """Monte Carlo: P(max_k |Z_k| > b) for Z ~ N(0, Σ), Σ_ij = √(m_i(N − m_j)/(m_j(N − m_i))).

    Lau94 is an upper bound (conservative: about twice the tail at N = 200, because the
    improved Bonferroni sum counts clustered upcrossings of a rough process); it must never
    fall below the simulated tail.
    """
    n = 200
    scan = _untied_scan(n, seed=22)
    m = _standardised_bridge_grid(n)
    low, high = np.minimum.outer(m, m), np.maximum.outer(m, m)
    chol = np.linalg.cholesky(np.sqrt(low * (n - high) / (high * (n - low))))
    rng = np.random.default_rng(23)
    draws = 60_000
    maximum = np.concatenate(
        [np.abs(rng.standard_normal((20_000, m.size)) @ chol.T).max(axis=1) for _ in range(3)]
    )
    for b in (2.5, 3.0, 3.5):
        tail = np.mean(maximum > b)
        se = np.sqrt(tail * (1 - tail) / draws)
        p = p_lausen94(np.array([b]), scan.t_sum, scan.t3_sum)[0]
        assert tail - 3 * se <= p <= 3 * tail, (b, tail, p)


def test_lausen92_approximates_the_continuous_process_tail():
    """Monte Carlo: P(sup |U(t)|/√(t(1 − t)) > b, ε₁ ≤ t ≤ ε₂) for a Brownian bridge U.

    With s = ½ log(t/(1 − t)) the standardised bridge is the Ornstein–Uhlenbeck process with
    covariance e^{−|Δs|} on an interval of length ½ log(ε₂(1 − ε₁)/((1 − ε₂)ε₁)), simulated
    exactly on a grid; the grid maximum misses crossings between points, corrected by
    Siegmund's shift b − 0.5826 √(2 Δs).
    """
    eps1, eps2 = 0.1, 0.9
    length = 0.5 * math.log(eps2 * (1 - eps1) / ((1 - eps2) * eps1))
    steps, draws = 1000, 40_000
    ds = length / steps
    rho = math.exp(-ds)
    rng = np.random.default_rng(24)
    z = rng.standard_normal(draws)
    maximum = np.abs(z)
    for _ in range(steps):
        z = rho * z + math.sqrt(1 - rho**2) * rng.standard_normal(draws)
        np.maximum(maximum, np.abs(z), out=maximum)
    shift = 0.5826 * math.sqrt(2 * ds)
    for b in (2.5, 3.0):
        tail = np.mean(maximum > b - shift)
        assert p_lausen92(np.array([b]), eps1, eps2)[0] == pytest.approx(tail, rel=0.08), b


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


def test_table_columns_are_the_contract(scan_data):
    time, event, x = scan_data
    table = scan_cutpoints(pd.DataFrame(x), time, event, permutations=100)
    assert tuple(table.columns) == CUTPOINT_COLUMNS
    assert CUTPOINT_COLUMNS[-3:] == ("cut_ci_low", "cut_ci_high", "selection_frequency")
    assert table["p_perm"].between(1 / 101, 1).all()
    assert table[["cut_ci_low", "cut_ci_high", "selection_frequency"]].isna().all().all()


def test_candidate_masks_match_direct_definition(scan_data):
    time, event, x = scan_data
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores)
    for gene in range(x.shape[1]):
        direct = direct_statistics(x[:, gene], scores, 0.1, 0.9)
        sizes = np.arange(scan.m_low, scan.m_high + 1)[scan.candidate_mask(gene)]
        assert sorted(sizes) == sorted(v[1] for v in direct.values())
    assert scan.tie_free.tolist() == [True, False, False, False, False]


def test_float32_exact_input_sorts_in_float32_with_identical_results():
    rng = np.random.default_rng(12)
    n = 70
    time = rng.exponential(size=n)
    event = (rng.uniform(size=n) < 0.6).astype(int)
    x = rng.normal(size=(n, 9)).astype(np.float32).astype(np.float64)
    x[:, 3] = np.round(x[:, 3], 1).astype(np.float32)  # ties, still float32-exact
    assert genes_by_row(x).dtype == np.float32
    assert genes_by_row(x + 1e-12).dtype == np.float64
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores, block_size=2, threads=2)
    for gene in range(x.shape[1]):
        direct = direct_statistics(x[:, gene], scores, 0.1, 0.9)
        best = max(direct, key=lambda cut: direct[cut][0])
        assert scan.cutpoint[gene] == best
        assert scan.statistic[gene] == pytest.approx(direct[best][0], rel=1e-12)
    serial = maxstat_scan(x, scores, threads=1)
    np.testing.assert_array_equal(serial.statistic, scan.statistic)


def test_profile_maximum_is_the_scan_statistic(scan_data):
    time, event, x = scan_data
    scores = logrank_scores(time, event)
    scan = maxstat_scan(x, scores)
    for gene in range(x.shape[1]):
        profile = maxstat_profile(x[:, gene], scores)
        direct = direct_statistics(x[:, gene], scores, 0.1, 0.9)
        assert len(profile.cutpoint) == len(direct)
        for cut, value in zip(profile.cutpoint, profile.statistic, strict=True):
            assert value == pytest.approx(direct[cut][0], rel=1e-12)
        assert profile.statistic.max() == pytest.approx(scan.statistic[gene], rel=1e-12)


def test_permutation_pvalues_reproducible_and_near_lausen(scan_data):
    time, event, x = scan_data
    frame = pd.DataFrame(x, columns=[f"g{i}" for i in range(x.shape[1])])
    first = scan_cutpoints(frame, time, event, permutations=3000, seed=4)
    again = scan_cutpoints(frame, time, event, permutations=3000, seed=4)
    pd.testing.assert_frame_equal(first, again)
    # Lausen–Schumacher 1994 is an upper bound; the exact permutation p sits below it.
    assert (first["p_perm"] <= first["p_value"] + 0.03).all()


def test_reference_cutpoints_and_fixed_scan():
    rng = np.random.default_rng(6)
    n_patients, n_normal = 150, 30
    normal = rng.normal(0.0, 1.0, size=(n_normal, 3))
    tumour = rng.normal(1.0, 1.5, size=(n_patients, 3))
    frame = pd.DataFrame(np.vstack([tumour, normal]), columns=["a", "b", "c"])
    mask = np.r_[np.zeros(n_patients, bool), np.ones(n_normal, bool)]
    cuts = reference_cutpoints(frame, mask, n_sd=2.0)
    np.testing.assert_allclose(cuts, normal.mean(axis=0) + 2 * normal.std(axis=0, ddof=1))
    activated = tumour[:, 0] > cuts["a"]
    time = rng.exponential(1 / np.exp(1.2 * activated))
    event = np.ones(n_patients, dtype=int)
    table = scan_cutpoints(
        frame.iloc[:n_patients], time, event, cutpoints=cuts, permutations=2000, seed=1
    ).set_index("gene")
    scores = logrank_scores(time, event)
    for gene in "abc":
        values = frame[gene].to_numpy()[:n_patients]
        low = values <= cuts[gene]
        m = low.sum()
        total, total_sq = scores.sum(), (scores**2).sum()
        v = m * (n_patients - m) / (n_patients**2 * (n_patients - 1))
        v *= n_patients * total_sq - total**2
        z = abs(scores[low].sum() - m / n_patients * total) / np.sqrt(v)
        assert table.loc[gene, "statistic"] == pytest.approx(z, rel=1e-10)
        assert table.loc[gene, "p_value"] == pytest.approx(2 * stats.norm.sf(z), rel=1e-10)
        assert table.loc[gene, "n_low"] == m and np.isnan(table.loc[gene, "p_lau92"])
    assert table.index[0] == "a" and table.loc["a", "direction"] == "high_risk_above"
    assert table.loc["a", "p_perm"] == pytest.approx(table.loc["a", "p_value"], abs=0.01)
    with pytest.raises(ValueError, match="at least 2 reference samples"):
        reference_cutpoints(frame, np.r_[True, np.zeros(len(frame) - 1, bool)])
    with pytest.raises(ValueError, match="fixed cutpoints are missing"):
        scan_cutpoints(frame.iloc[:n_patients], time, event, cutpoints=cuts.drop("c"))


def test_planted_toy_genes_lead_the_scan():
    cohorts, planted = make_toy_cohorts(ToyDesign(n_genes=300, n_source=10), seed=3)
    expression, clinical, _, _ = cohorts["discovery"]
    frame = expression.T
    frame = frame.fillna(frame.median())
    table = scan_cutpoints(
        frame, clinical["os_months"].to_numpy(), clinical["os_event"].to_numpy(), permutations=0
    )
    top = table.head(len(planted)).set_index("gene")
    found = planted.set_index("gene").index.intersection(top.index)
    assert len(found) >= 4, list(top.index)
    for gene in found:
        assert top.loc[gene, "direction"] == planted.set_index("gene").loc[gene, "direction"]


def test_constant_gene_has_no_cutpoint(scan_data, caplog):
    time, event, x = scan_data
    frame = pd.DataFrame({"flat": np.ones(time.size), "g": x[:, 0]})
    table = scan_cutpoints(frame, time, event, permutations=50).set_index("gene")
    assert np.isnan(table.loc["flat", "p_value"]) and np.isnan(table.loc["flat", "p_perm"])
    assert table.loc["flat", "direction"] == "" and table.loc["flat", "n_low"] == 0
    assert np.isnan(table.loc["flat", "hazard_ratio"]) and table.index[-1] == "flat"
    assert "1 genes have no candidate cutpoint" in caplog.text
