"""Quality metrics against independent references (pandas, scikit-learn, lifelines, loops)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from lifelines import KaplanMeierFitter
from sklearn.decomposition import PCA
from sklearn.linear_model import LinearRegression
from sklearn.metrics import silhouette_score

from omicsflow.quality.geometry import column_medians, sample_geometry
from omicsflow.quality.metrics import (
    PROFILE_QUANTILES,
    check_batch,
    check_dimensionality,
    check_missingness,
    check_outcome,
    check_scale,
    check_variance,
    outlier_statistics,
    scale_profile,
)
from omicsflow.quality.options import resolve_options

OPTS = resolve_options(None)


def matrix(n=40, p=60, missing=0.1, seed=0):
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, p)) + rng.uniform(2, 10, p)
    values[rng.uniform(size=values.shape) < missing] = np.nan
    return values, ~np.isnan(values)


def test_column_medians_match_numpy():
    values, observed = matrix()
    values[:, 3] = np.nan
    observed = ~np.isnan(values)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = np.nan_to_num(np.nanmedian(values, axis=0))
    got = column_medians(np.sort(values, axis=0), observed.sum(axis=0))
    np.testing.assert_allclose(got, expected)


def test_pairwise_complete_correlation_and_distance_match_direct_loops():
    values, observed = matrix()
    geometry = sample_geometry(values, observed, n_pcs=3)
    centred = values - np.nanmedian(values, axis=0)
    # pandas computes Pearson correlation over pairwise-complete observations.
    expected_r = pd.DataFrame(centred.T).corr(min_periods=3).to_numpy()
    np.testing.assert_allclose(geometry.correlation, expected_r, atol=2e-5)
    n = values.shape[0]
    expected_d = np.empty(n)
    for a in range(n):
        distances = []
        for b in range(n):
            if a != b:
                both = observed[a] & observed[b]
                distances.append(np.sqrt(np.mean((values[a, both] - values[b, both]) ** 2)))
        expected_d[a] = np.mean(distances)
    np.testing.assert_allclose(geometry.distance, expected_d, rtol=2e-5)


def test_principal_components_match_sklearn_on_complete_data():
    values, observed = matrix(missing=0.0)
    geometry = sample_geometry(values, observed, n_pcs=4, centre=values.mean(axis=0))
    reference = PCA(n_components=4).fit(values)
    expected = reference.transform(values)
    for j in range(4):
        sign = np.sign(expected[:, j] @ geometry.scores[:, j])
        np.testing.assert_allclose(geometry.scores[:, j], sign * expected[:, j], atol=1e-4)
    np.testing.assert_allclose(geometry.explained, reference.explained_variance_ratio_, rtol=1e-4)
    residual = values - values.mean(axis=0) - expected @ reference.components_
    np.testing.assert_allclose(geometry.orthogonal, np.linalg.norm(residual, axis=1), rtol=1e-3)


def test_large_cohorts_use_lanczos_with_the_same_components():
    values, observed = matrix(n=450, p=80, missing=0.0, seed=3)
    geometry = sample_geometry(values, observed, n_pcs=3, centre=values.mean(axis=0))
    expected = PCA(n_components=3).fit_transform(values)
    for j in range(3):
        sign = np.sign(expected[:, j] @ geometry.scores[:, j])
        np.testing.assert_allclose(geometry.scores[:, j], sign * expected[:, j], atol=1e-3)


def test_missingness_counts_samples_and_genes_over_limits():
    values, _ = matrix(missing=0.0)
    values[[2, 7], :50] = np.nan  # 50 of 60 genes missing in two samples
    values[:30, 5] = np.nan  # gene 5 missing in 30 of 40 samples
    observed = ~np.isnan(values)
    samples = np.array([f"s{i}" for i in range(40)])
    genes = np.array([f"g{j}" for j in range(60)])
    check = check_missingness(observed, samples, genes, OPTS)
    assert check.flagged_samples["heavy_missing"] == ["s2", "s7"]
    assert check.flagged_genes["missing"] == ["g5"]
    missing = float(np.isnan(values).mean())
    assert check.metrics["missing_fraction"] == pytest.approx(missing)
    expected = (1 - missing / 0.5) * (1 - (2 / 40) / 0.2) * (1 - 1 / 60)
    assert check.score == pytest.approx(expected)
    assert not check.hard


def test_profile_quantiles_are_order_statistics():
    values, observed = matrix()
    profile = scale_profile(values, observed, OPTS)
    for i in (0, 5, 39):
        row = values[i, observed[i]]
        expected = np.quantile(row, list(PROFILE_QUANTILES.values()), method="lower")
        np.testing.assert_allclose(profile.quantiles[i], expected)
        assert profile.skewness[i] == pytest.approx(
            pd.Series(row).skew() * (row.size - 2) / np.sqrt(row.size * (row.size - 1))
        )


@pytest.mark.parametrize(
    ("transform", "unlogged"),
    [
        (lambda x: x, False),  # log2 intensities 2..13
        (lambda x: np.exp2(x), True),  # intensities: 99th percentile > 100
        (lambda x: x - 8.0, False),  # centred log ratios, negative allowed
        (lambda x: np.round(np.exp2(x / 2.2)), True),  # small counts: integer and skewed
    ],
)
def test_un_logged_data_are_detected(transform, unlogged):
    rng = np.random.default_rng(1)
    values = transform(rng.normal(8, 1.5, size=(30, 400)).clip(0.5))
    if unlogged:
        values[:, :300] = np.round(np.exp2(rng.exponential(2.0, size=(30, 300))))
    observed = ~np.isnan(values)
    samples = np.array([f"s{i}" for i in range(30)])
    profile = scale_profile(values, observed, OPTS)
    check, needs_log = check_scale(
        values, observed, samples, profile, platform="microarray", opts=OPTS
    )
    assert needs_log is unlogged
    assert check.score == pytest.approx(0.5 if unlogged else 1.0)
    assert ("log-transform" in (check.reason or "")) is unlogged


def test_a_stray_non_expression_column_does_not_make_samples_look_raw():
    # Centred log ratios (median ~0, some samples with a positive lower quartile) plus an age
    # column (28-85) among the genes: the min-max range exceeds 50, the robust range does not.
    rng = np.random.default_rng(3)
    values = rng.normal(0.0, 0.5, size=(30, 500)) + rng.uniform(-0.3, 0.6, size=(30, 1))
    values[:, 0] = rng.integers(28, 86, 30)
    observed = ~np.isnan(values)
    profile = scale_profile(values, observed, OPTS)
    q25 = profile.quantiles[:, list(PROFILE_QUANTILES).index("q25")]
    geo2r_min_max_rule = (values.max(1) - values.min(1) > 50) & (q25 > 0)
    assert geo2r_min_max_rule.sum() >= 3
    assert not profile.unlogged.any()


def test_negative_values_are_flagged_only_on_a_raw_scale():
    rng = np.random.default_rng(2)
    counts = np.round(np.exp2(rng.normal(8, 2, size=(20, 300))))
    counts[[3, 11], 0] = -5.0
    samples = np.array([f"s{i}" for i in range(20)])
    observed = ~np.isnan(counts)
    profile = scale_profile(counts, observed, OPTS)
    check, needs_log = check_scale(counts, observed, samples, profile, platform="rnaseq", opts=OPTS)
    assert needs_log
    assert check.flagged_samples["negative_values"] == ["s3", "s11"]
    assert check.score == pytest.approx(0.5 * (1 - 2 / 20))
    logged = np.log2(np.clip(counts, 0, None) + 1) - 8  # log ratios: negatives legitimate
    profile = scale_profile(logged, observed, OPTS)
    check, needs_log = check_scale(logged, observed, samples, profile, platform="rnaseq", opts=OPTS)
    assert not needs_log and check.flagged_samples["negative_values"] == []


def reference_low_variance(values, unique_share=0.1, ratio=19.0):
    constant, near = [], []
    for j in range(values.shape[1]):
        column = pd.Series(values[:, j]).dropna()
        counts = column.value_counts()
        if len(counts) <= 1:
            constant.append(j)
        elif len(counts) / len(column) <= unique_share and counts.iloc[0] / counts.iloc[1] > ratio:
            near.append(j)
    return constant, near


def test_constant_and_near_constant_genes_match_a_direct_count():
    rng = np.random.default_rng(4)
    values = rng.normal(size=(100, 30))
    values[:, 0] = 3.0
    values[:, 1] = 0.0
    values[:2, 1] = 1.0  # 98 vs 2: ratio 49, 2 distinct values
    values[:, 2] = 0.0
    values[:10, 2] = 1.0  # 90 vs 10: ratio 9, not near-constant
    values[:, 3] = np.nan
    values[50:, 4] = np.nan
    values[:50, 4] = 7.0
    values[rng.uniform(size=values.shape) < 0.05] = np.nan
    observed = ~np.isnan(values)
    genes = np.array([f"g{j}" for j in range(30)])
    check = check_variance(np.sort(values, axis=0), observed.sum(axis=0), genes, OPTS)
    constant, near = reference_low_variance(values)
    assert check.flagged_genes["constant"] == [f"g{j}" for j in constant]
    assert check.flagged_genes["near_constant"] == [f"g{j}" for j in near]
    assert {"g0", "g3", "g4"} <= set(check.flagged_genes["constant"])
    assert check.flagged_genes["near_constant"] == ["g1"]
    assert check.score == pytest.approx(1 - (len(constant) + len(near)) / 30)


def test_batch_share_and_silhouette_match_regression_and_sklearn():
    rng = np.random.default_rng(5)
    values = rng.normal(size=(60, 200))
    batch = np.array(["a"] * 20 + ["b"] * 25 + ["c"] * 15)
    values[batch == "b"] += rng.normal(0, 0.6, 200)
    observed = ~np.isnan(values)
    geometry = sample_geometry(values, observed, n_pcs=5, centre=values.mean(axis=0))
    check = check_batch(geometry, pd.Series(batch), opts=OPTS)
    design = pd.get_dummies(batch).to_numpy(float)
    adjusted = []
    for j in range(5):
        r2 = (
            LinearRegression()
            .fit(design, geometry.scores[:, j])
            .score(design, geometry.scores[:, j])
        )
        adjusted.append(max(0.0, 1 - (1 - r2) * (60 - 1) / (60 - 3)))
    share = np.average(adjusted, weights=geometry.eigenvalues)
    assert check.metrics["batch_variance_share"] == pytest.approx(share)
    assert check.metrics["batch_silhouette"] == pytest.approx(
        silhouette_score(geometry.scores, batch)
    )
    assert share > 0.3
    expected = max(0, 1 - share / 0.5) * (1 - max(0, check.metrics["batch_silhouette"]))
    assert check.score == pytest.approx(expected)
    assert "batch explains" in check.reason


def test_no_batch_column_scores_one():
    values, observed = matrix()
    geometry = sample_geometry(values, observed, n_pcs=3)
    assert check_batch(geometry, None, opts=OPTS).score == 1.0
    single = check_batch(geometry, pd.Series(["x"] * 40), opts=OPTS)
    assert single.score == 1.0 and single.metrics["n_batches"] == 1


def test_reverse_kaplan_meier_follow_up_matches_lifelines(survival_data):
    time, event, _ = survival_data
    check = check_outcome(time, event, time_unit="months", opts=OPTS)
    follow_up = KaplanMeierFitter().fit(time, 1 - event).median_survival_time_
    survival = KaplanMeierFitter().fit(time, event).median_survival_time_
    assert check.metrics["median_follow_up"] == pytest.approx(follow_up)
    assert check.metrics["median_survival"] == pytest.approx(survival)
    assert check.metrics["events"] == int(event.sum())
    assert check.metrics["event_rate"] == pytest.approx(event.mean())


def test_outcome_findings():
    time = np.linspace(1, 100, 50)
    event = np.array([1, 0] * 25)
    assert check_outcome(time, event, time_unit="months", opts=OPTS).score == 1.0
    days = check_outcome(time * 400, event, time_unit="months", opts=OPTS)
    assert days.score == pytest.approx(0.5) and "implausible" in days.reason
    all_events = check_outcome(time, np.ones(50, int), time_unit="months", opts=OPTS)
    assert all_events.score == pytest.approx(0.5) and "no sample is censored" in all_events.reason
    zero = time.copy()
    zero[:3] = 0.0
    check = check_outcome(zero, event, time_unit="months", opts=OPTS)
    assert check.score == pytest.approx(1 - (3 / 50) / 0.1)
    assert check.metrics["n_zero_times"] == 3 and not check.hard
    assert check_outcome(np.zeros(50), event, time_unit=None, opts=OPTS).hard
    coded = check_outcome(time, np.array([1, 2] * 25), time_unit=None, opts=OPTS)
    assert any("not 0/1" in finding for finding, _ in coded.hard)
    none = check_outcome(time, np.zeros(50, int), time_unit=None, opts=OPTS)
    assert none.hard[0] == (
        "no events: every sample is censored",
        "check the event coding (1 = event); survival analysis needs events",
    )
    assert none.score == 0


def test_events_per_variable_and_sample_size():
    check = check_dimensionality(
        200, 1000, n_removed=0, events=30, role="discovery", candidate_variables=6, opts=OPTS
    )
    assert check.metrics["events_per_variable"] == pytest.approx(5.0)
    assert check.score == pytest.approx(0.5)
    assert check.metrics["genes_per_sample"] == pytest.approx(5.0)
    small = check_dimensionality(
        30, 1000, n_removed=12, events=None, role="source", candidate_variables=6, opts=OPTS
    )
    assert small.score == pytest.approx(18 / 40)
    assert small.hard and "after removing 12" in small.hard[0][0]


def test_outlier_rules_on_planted_far_samples():
    rng = np.random.default_rng(6)
    values = rng.normal(size=(150, 300)) + rng.uniform(2, 10, 300)
    values[[10, 90]] += rng.normal(0, 1.5, size=(2, 300))
    observed = ~np.isnan(values)
    geometry = sample_geometry(values, observed, n_pcs=5)
    statistics = outlier_statistics(geometry, opts=OPTS, seed=1)
    assert np.flatnonzero(statistics.outlier).tolist() == [10, 90]
    q1, q3 = np.percentile(geometry.distance, [25, 75])
    assert statistics.distance_fence == pytest.approx(q3 + 1.5 * (q3 - q1))
    # A clean Gaussian cohort: the boxplot rule alone may flag some, both rules none.
    clean = sample_geometry(values[11:90], observed[11:90], n_pcs=5)
    assert not outlier_statistics(clean, opts=OPTS, seed=1).outlier.any()
