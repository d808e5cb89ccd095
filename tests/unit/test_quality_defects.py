"""Planted defects in clean toy cohorts: each is detected, exactly the planted ids are flagged,
clean cohorts pass, and the score falls monotonically as a defect grows."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from omicsflow import toy_defects as td
from omicsflow.cohort import load_cohort, read_cohort_sheet
from omicsflow.errors import InputError
from omicsflow.quality import score_cohort

SEED = 20261125


@pytest.fixture(scope="module")
def cohorts(toy_dir):
    sheet = read_cohort_sheet(toy_dir / "cohorts.tsv")
    return {name: load_cohort(sheet[name]) for name in ("discovery", "validation_b")}


@pytest.fixture(scope="module")
def discovery(cohorts):
    return cohorts["discovery"]


def score(adata, **options):
    return score_cohort(adata, options=options, seed=SEED, candidate_variables=6)


NO_FLAGS = (
    "heavy_missing",
    "mixed_scale",
    "negative_values",
    "outliers",
    "duplicates",
)


@pytest.mark.parametrize("name", ["discovery", "validation_b"])
def test_clean_toy_cohorts_pass_with_nothing_flagged(cohorts, name):
    report = score(cohorts[name])
    assert report.verdict == "pass" and report.score > 0.95
    assert not report.hard_failures and not report.needs_log_transform
    assert all(report.flagged_samples[kind] == [] for kind in NO_FLAGS)
    assert report.removed_samples == [] and report.duplicate_pairs == []
    assert report.components["outcome"] == 1.0 and report.components["dimensionality"] == 1.0
    # The only concern is the 5% missing values planted by the toy generator.
    assert report.components["missingness"] == pytest.approx(1 - 0.05 / 0.5, abs=0.002)


def test_heavy_missingness_flags_exactly_the_planted_samples(discovery):
    planted = td.plant_missingness(discovery, 6, rate=0.6, seed=1)
    report = score(planted.adata)
    assert report.flagged_samples["heavy_missing"] == list(planted.samples)
    assert report.removed_samples == list(planted.samples)
    assert all(report.removal_reasons[s] == ["heavy_missing"] for s in planted.samples)
    assert "6 samples miss more than 20.0%" in report.reasons["missingness"]


def test_outlier_samples_are_flagged_exactly(discovery):
    planted = td.plant_outliers(discovery, 5, severity=1.0, seed=2)
    report = score(planted.adata)
    assert report.flagged_samples["outliers"] == list(planted.samples)
    assert set(planted.samples) <= set(report.flagged_samples["outliers_pca"])
    assert set(planted.samples) <= set(report.flagged_samples["outliers_distance"])
    assert report.removed_samples == list(planted.samples)
    table = report.sample_table.set_index("sample")
    assert table.loc[list(planted.samples), "flag_outliers"].all()
    assert table["flag_outliers"].sum() == 5


def test_duplicates_are_listed_in_pairs_and_copies_removed(discovery):
    planted = td.plant_duplicates(discovery, 3, noise=0.05, seed=3)
    report = score(planted.adata)
    assert [(a, b) for a, b, _ in report.duplicate_pairs] == list(planted.pairs)
    assert all(r > 0.99 for _, _, r in report.duplicate_pairs)
    assert report.removed_samples == list(planted.samples)  # the copies, originals kept
    assert sorted(report.flagged_samples["duplicates"]) == sorted(
        {s for pair in planted.pairs for s in pair}
    )


def test_batch_shift_is_detected(discovery):
    clean = score(discovery)
    planted = td.plant_batch_shift(discovery, shift=0.5, seed=4)
    report = score(planted.adata)
    assert report.metrics["batch"]["batch_variance_share"] > 0.2
    assert report.metrics["batch"]["batch_silhouette"] > 0.2
    assert clean.metrics["batch"]["batch_variance_share"] < 0.02
    assert "batch explains" in report.reasons["batch"] and "batch" not in clean.reasons
    assert report.removed_samples == []  # a batch is corrected, not removed


def test_un_logged_counts_need_a_log_transform(discovery):
    planted = td.plant_unlogged(discovery, seed=5)
    report = score(planted.adata)
    assert report.needs_log_transform and report.to_dict()["needs_log_transform"] is True
    assert report.components["scale"] == pytest.approx(0.5)
    assert "log2(x + 1)" in report.reasons["scale"]
    assert report.flagged_samples["mixed_scale"] == [] and report.removed_samples == []
    assert report.verdict == "pass"  # fixable: the preprocess stage takes the log
    float64 = planted.adata.copy()
    float64.X = float64.X.astype(np.float64)
    before = float64.X.copy()
    score(float64)
    np.testing.assert_array_equal(float64.X, before)  # scoring never changes the data


def test_un_logged_minority_is_flagged_as_another_scale(discovery):
    planted = td.plant_unlogged(discovery, 4, seed=6)
    report = score(planted.adata)
    assert not report.needs_log_transform
    assert report.flagged_samples["mixed_scale"] == list(planted.samples)
    assert report.removed_samples == list(planted.samples)
    # Brought to the log scale before the geometry, they are neither outliers nor duplicates.
    assert report.flagged_samples["outliers"] == [] and report.duplicate_pairs == []


def test_no_events_fails_a_discovery_cohort(discovery):
    planted = td.plant_no_events(discovery, keep=0, seed=7)
    report = score(planted.adata)
    assert report.events == 0 and report.verdict == "fail"
    assert "outcome" in report.hard_failures
    assert "every sample is censored" in report.hard_failure_reasons["outcome"][0]
    source_like = planted.adata.copy()
    source_like.uns["cohort"] = {**source_like.uns["cohort"], "role": "source"}
    assert "outcome" not in score(source_like).components


def test_removal_is_recorded_but_not_done_when_disabled(discovery):
    planted = td.plant_outliers(discovery, 2, seed=8)
    report = score(planted.adata, remove_outliers=False)
    assert report.flagged_samples["outliers"] == list(planted.samples)
    assert report.removed_samples == [] and report.remove_outliers is False


def strictly_decreasing(values):
    return all(a > b for a, b in itertools.pairwise(values))


@pytest.mark.parametrize(
    ("plant", "severities"),
    [
        (lambda a, s: td.plant_missingness(a, 8, rate=s, seed=1), (0.3, 0.6, 0.9)),
        (lambda a, s: td.plant_outliers(a, s, seed=2), (1, 4, 12)),
        (lambda a, s: td.plant_duplicates(a, s, seed=3), (1, 4, 12)),
        (lambda a, s: td.plant_batch_shift(a, shift=s, seed=4), (0.2, 0.4, 0.6)),
        (lambda a, s: td.plant_unlogged(a, s, seed=5), (1, 4, 12)),
        (lambda a, s: td.plant_no_events(a, keep=s, seed=7), (50, 15, 5)),
    ],
    ids=["missingness", "outliers", "duplicates", "batch", "unlogged", "events"],
)
def test_score_falls_monotonically_with_severity(discovery, plant, severities):
    scores = [score(discovery).score]
    scores += [score(plant(discovery, severity).adata).score for severity in severities]
    assert strictly_decreasing(scores), scores


def test_hard_failures_fail_whatever_the_score(discovery):
    planted = td.plant_missingness(discovery, discovery.n_obs, rate=0.6, seed=9)
    report = score(planted.adata)
    assert "missingness" in report.hard_failures and report.verdict == "fail"
    assert report.score > 0.6  # the weighted mean alone would not fail it


def test_planters_touch_only_the_planted_samples(discovery):
    planted = td.plant_outliers(discovery, 3, seed=10)
    changed = ~np.isclose(planted.adata.X, discovery.X, equal_nan=True).all(axis=1)
    assert list(discovery.obs_names[changed]) == list(planted.samples)
    assert td.plant_outliers(discovery, ["discovery_S0002"]).samples == ("discovery_S0002",)
    with pytest.raises(InputError, match="unknown sample ids"):
        td.plant_outliers(discovery, ["nope"])
    with pytest.raises(InputError, match="cannot plant a defect in that many samples"):
        td.plant_missingness(discovery, 10_000)
